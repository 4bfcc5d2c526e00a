import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Schema } from "effect"
import {
  Agent,
  AgentConfigError,
  InvalidRunOptions,
  MemoryRecorder,
  Recorder,
  ScriptedModel,
  Tool
} from "../src/index.js"

const layer = (script: ReadonlyArray<ScriptedModel.ScriptStep> = []) =>
  Layer.merge(ScriptedModel.layer(script), Recorder.memory)

const toolWith = (parameters: Schema.Schema<any, any>) =>
  Tool.make("t", { description: "d", parameters, handler: () => 1 })

describe("Agent.make decodes its configuration with AgentConfigSchema", () => {
  it.effect("errors give the field's path, and the message starts with it", () =>
    Effect.gen(function*() {
      const cases: Array<[unknown, string, string]> = [
        [
          { name: "a", instructions: "", maxIterations: 0 },
          "maxIterations",
          "maxIterations: must be an integer in 1..200, got 0"
        ],
        [{ name: "a" }, "instructions", "instructions: must be a string, got undefined"],
        [{ name: "a\u0000b", instructions: "" }, "name", "name: must not contain a NUL character (\\u0000)"],
        [
          { name: "a", instructions: "", budget: { maxTokens: 10, warnAt: [0.5, 2] } },
          "budget.warnAt[1]",
          "budget.warnAt[1]: must be a fraction in (0, 1), got 2"
        ],
        [
          { name: "a", instructions: "", budget: {} },
          "budget.maxTokens",
          "budget.maxTokens: a budget needs maxTokens or maxCostUsd"
        ],
        [
          { name: "a", instructions: "", prices: { m: { inputPerMTok: -1, outputPerMTok: 1 } } },
          "prices.m.inputPerMTok",
          "prices.m.inputPerMTok: must be a non-negative number (USD per million tokens), got -1"
        ],
        [
          { name: "a", instructions: "", guardrails: [{}] },
          "guardrails[0]",
          "guardrails[0]: must be a Guardrail (see Guardrails.PII, SecretDetection, PromptInjection, custom)"
        ],
        [
          { name: "a", instructions: "", heartbeatInterval: "0 seconds" },
          "heartbeatInterval",
          "heartbeatInterval: must be a positive duration (e.g. \"10 seconds\"), got \"0 seconds\""
        ],
        [{ name: "a", instructions: "", deny: ["nope"] }, "deny[0]", "deny[0]: 'nope' is not one of the agent's tools"]
      ]
      for (const [config, field, message] of cases) {
        const error = yield* Effect.flip(Agent.make(config as Agent.AgentConfig))
        expect(error).toBeInstanceOf(AgentConfigError)
        expect({ field: error.field, message: error.message }).toEqual({ field, message })
      }
    }))

  it.effect("tool parameters must describe a JSON object: a string, array, record or union of non-structs is refused", () =>
    Effect.gen(function*() {
      const refused = [
        Schema.String,
        Schema.Array(Schema.Number),
        Schema.Record({ key: Schema.String, value: Schema.Number }),
        Schema.Union(Schema.String, Schema.Number),
        Schema.Union(Schema.Struct({ a: Schema.String }), Schema.String)
      ]
      for (const parameters of refused) {
        const error = yield* Effect.flip(Agent.make({ name: "a", instructions: "", tools: [toolWith(parameters)] }))
        expect(error.field).toBe("tools[0].parameters")
        expect(error.message).toMatch(/^tools\[0\]\.parameters: must be an object Schema/)
      }
      class Point extends Schema.Class<Point>("Point")({ x: Schema.Number }) {}
      const accepted = [
        Schema.Struct({}),
        Schema.Struct({ a: Schema.String }).pipe(Schema.filter(() => true)),
        Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Number })),
        Point
      ]
      for (const parameters of accepted) {
        yield* Agent.make({ name: "a", instructions: "", tools: [toolWith(parameters)] })
      }
    }))

  it("the schemas are exported for other packages to reuse the limits", () => {
    const decode = Schema.decodeUnknownEither(Agent.RunOptionsSchema)
    expect(Either.isRight(decode({ runId: "r", metadata: { a: 1 } }))).toBe(true)
    expect(Either.isLeft(decode({ runId: "x".repeat(Agent.MAX_OPTION_LENGTH + 1) }))).toBe(true)
    expect(Either.isLeft(Schema.decodeUnknownEither(Agent.RunOptionString)("a\u0000"))).toBe(true)
    expect(
      Either.isLeft(
        Schema.decodeUnknownEither(Agent.AgentConfigSchema)({
          name: "a",
          instructions: "",
          maxIterations: Agent.MAX_ITERATIONS_CEILING + 1
        })
      )
    ).toBe(true)
  })
})

describe("run options are decoded with RunOptionsSchema", () => {
  it.effect("a NUL in any option string is InvalidRunOptions naming the field, before anything is recorded", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "a", instructions: "" })
      const cases: Array<[Agent.RunOptions, string]> = [
        [{ runId: "r\u0000" }, "runId"],
        [{ tenantId: "t\u0000" }, "tenantId"],
        [{ parentRunId: "\u0000" }, "parentRunId"],
        [{ idempotencyKey: "k\u0000" }, "idempotencyKey"],
        [{ metadata: { plan: "pro\u0000" } }, "metadata.plan"],
        [{ metadata: { nested: { list: ["ok", "bad\u0000"] } } }, "metadata.nested.list[1]"],
        [{ metadata: { "key\u0000": 1 } }, "metadata.key\u0000"]
      ]
      for (const [options, field] of cases) {
        const error = yield* Effect.flip(agent.run("hi", options))
        expect(error).toBeInstanceOf(InvalidRunOptions)
        expect(error).toMatchObject({ field, message: `${field}: must not contain a NUL character (\\u0000)` })
      }
      expect(yield* (yield* MemoryRecorder).events()).toEqual([])
    }).pipe(Effect.provide(layer())))

  it.effect("a throwing getter in metadata (or in the options) is InvalidRunOptions, not a defect", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "a", instructions: "" })
      const metadata = {
        plan: "pro",
        get secret(): string {
          throw new Error("vault locked")
        }
      }
      const error = yield* Effect.flip(agent.run("hi", { metadata }))
      expect(error).toBeInstanceOf(InvalidRunOptions)
      expect(error).toMatchObject({
        field: "metadata.secret",
        message: "metadata.secret: must be JSON, got unreadable (vault locked)"
      })
      const options = {
        get runId(): string {
          throw new Error("no id today")
        }
      }
      const whole = yield* Effect.flip(agent.run("hi", options))
      expect(whole).toBeInstanceOf(InvalidRunOptions)
      expect(whole).toMatchObject({ field: "options" })
      expect(whole.message).toMatch(/no id today/)
      expect(yield* (yield* MemoryRecorder).events()).toEqual([])
    }).pipe(Effect.provide(layer())))

  it.effect("metadata is recorded as the JSON it stands for (toJSON applied once)", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "a", instructions: "" })
      yield* agent.run("hi", { metadata: { at: new Date(0) as never, n: 1 } })
      const [started] = yield* (yield* MemoryRecorder).events()
      expect(started).toMatchObject({ _tag: "RunStarted", metadata: { at: "1970-01-01T00:00:00.000Z", n: 1 } })
    }).pipe(Effect.provide(layer([{ text: "ok" }]))))

  it.effect("a tool result whose getter throws is a failed tool result the model sees", () =>
    Effect.gen(function*() {
      const tool = Tool.make("read", {
        description: "reads",
        parameters: Schema.Struct({}),
        handler: () => ({
          get value(): string {
            throw new Error("stale handle")
          }
        })
      })
      const agent = yield* Agent.make({ name: "a", instructions: "", tools: [tool] })
      const result = yield* agent.run("hi")
      expect(result.status).toBe("success")
      const completed = (yield* (yield* MemoryRecorder).events()).find((e) => e._tag === "ToolCallCompleted")
      expect(completed).toMatchObject({ success: false })
      expect((completed as { error: string }).error).toMatch(/\$\.value is unreadable \(stale handle\)/)
    }).pipe(Effect.provide(layer([{ toolCalls: [{ name: "read", arguments: {} }] }, { text: "ok" }]))))
})
