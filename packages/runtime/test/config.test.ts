import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import {
  Agent,
  AgentConfigError,
  InvalidRunOptions,
  MemoryRecorder,
  Recorder,
  ScriptedModel,
  Tool
} from "../src/index.js"
import { testLayer, weatherTool } from "./fixtures.js"

const configError = (config: Agent.AgentConfig) => Effect.flip(Agent.make(config))

describe("Agent.make validation", () => {
  it.effect("names the field that is wrong", () =>
    Effect.gen(function*() {
      const cases: Array<[Agent.AgentConfig, string, RegExp]> = [
        [{ name: "", instructions: "" }, "name", /non-empty/],
        [{ name: "a", instructions: "", maxIterations: 0 }, "maxIterations", /1\.\.200, got 0/],
        [{ name: "a", instructions: "", maxIterations: 201 }, "maxIterations", /1\.\.200, got 201/],
        [{ name: "a", instructions: "", maxIterations: 2.5 }, "maxIterations", /integer/],
        [
          { name: "a", instructions: "", tools: [weatherTool, weatherTool] },
          "tools[1].name",
          /duplicate tool name 'get_weather'/
        ],
        [
          {
            name: "a",
            instructions: "",
            tools: [Tool.make("bad name", {
              description: "d",
              parameters: Schema.Struct({}),
              handler: () => 1
            })]
          },
          "tools[0].name",
          /letters, digits/
        ],
        [
          {
            name: "a",
            instructions: "",
            tools: [Tool.make("t", { description: "", parameters: Schema.Struct({}), handler: () => 1 })]
          },
          "tools[0].description",
          /non-empty/
        ],
        [
          { name: "a", instructions: "", tools: [Tool.make("t", { description: "d", parameters: Schema.Struct({}) })] },
          "tools[0].handler",
          /needs a handler/
        ],
        [
          {
            name: "a",
            instructions: "",
            tools: [
              Tool.make("t", { description: "d", parameters: Schema.Struct({}), handler: () => 1, timeout: "0 millis" })
            ]
          },
          "tools[0].timeout",
          /positive/
        ],
        [
          {
            name: "a",
            instructions: "",
            tools: [
              Tool.make("t", { description: "d", parameters: Schema.Struct({}), handler: () => 1, maxCallsPerRun: 0 })
            ]
          },
          "tools[0].maxCallsPerRun",
          /positive integer/
        ]
      ]
      for (const [config, field, message] of cases) {
        const error = yield* configError(config)
        expect(error).toBeInstanceOf(AgentConfigError)
        expect(error.field).toBe(field)
        expect(error.message).toMatch(message)
      }
    }))

  it.effect("a client tool needs no handler", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "a",
        instructions: "",
        tools: [Tool.make("ask", { description: "d", parameters: Schema.Struct({}), target: "client" })]
      })
      const paused = yield* agent.run("hi")
      expect(paused.status).toBe("waiting_client_tool")
      expect(paused.pendingCalls?.map((c) => [c.name, c.target])).toEqual([["ask", "client"]])
    }).pipe(
      Effect.provide(testLayer([{ toolCalls: [{ name: "ask", arguments: {} }] }]))
    ))
})

describe("run options validation", () => {
  it.effect("bad options fail with InvalidRunOptions before anything is recorded", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "a", instructions: "" })
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      const bad = [
        [{ metadata: { at: 1n } as never }, "metadata.at", /^metadata\.at: must be JSON, got a bigint$/],
        [{ metadata: cyclic as never }, "metadata.self", /circular/],
        [{ metadata: [1, 2] as never }, "metadata", /JSON object/],
        [{ runId: "" }, "runId", /non-empty/],
        [{ tenantId: "x".repeat(256) }, "tenantId", /at most 255/]
      ] as const
      for (const [options, field, message] of bad) {
        const error = yield* Effect.flip(agent.run("hi", options))
        expect(error).toBeInstanceOf(InvalidRunOptions)
        expect(error).toMatchObject({ field })
        expect(error.message).toMatch(message)
      }
      expect(yield* (yield* MemoryRecorder).events()).toEqual([])
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer([]), Recorder.memory))))

  it.effect("metadata, tenant and parent are recorded on run.started", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "a", instructions: "Be kind." })
      yield* agent.run("hi", { tenantId: "acme", parentRunId: "p1", metadata: { plan: "pro", n: 1 } })
      const [started] = yield* (yield* MemoryRecorder).events()
      expect(started).toMatchObject({
        _tag: "RunStarted",
        agentName: "a",
        instructions: "Be kind.",
        input: "hi",
        tenantId: "acme",
        parentRunId: "p1",
        metadata: { plan: "pro", n: 1 },
        provider: "scripted",
        model: "scripted"
      })
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer([{ text: "hello" }]), Recorder.memory))))
})
