import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema, Stream } from "effect"
import {
  Agent,
  HookEvent,
  LanguageModel,
  MemoryRecorder,
  type ModelRequest,
  type ModelResponse,
  Recorder,
  RecorderError,
  Tool
} from "../src/index.js"

/**
 * The memory recorder behind the check every durable recorder makes: an event that is not JSON (or does not
 * survive a round trip through the HookEvent schema) fails with reason `serialization`, as a SQL write would.
 */
const jsonRecorder = Layer.map(Recorder.memory, (context) => {
  const inner = Context.get(context, Recorder)
  return Context.add(context, Recorder, {
    record: (event) =>
      Effect.suspend(() => {
        try {
          Schema.decodeUnknownSync(HookEvent.HookEvent)(JSON.parse(JSON.stringify(event)))
        } catch (error) {
          return Effect.fail(
            new RecorderError({
              operation: "record",
              eventType: HookEvent.eventType(event),
              runId: event.runId,
              sequenceIndex: event.sequenceIndex,
              attempts: 1,
              reason: "serialization",
              message: String(error)
            })
          )
        }
        return inner.record(event)
      })
  })
})

/** A model answering `turns` in order (raw, as a vendor adapter with a bug might), recording its requests. */
const rawModel = (turns: ReadonlyArray<unknown>) => {
  const requests: Array<ModelRequest> = []
  const generate = (request: ModelRequest) =>
    Effect.sync(() => {
      requests.push(request)
      return turns[requests.length - 1] as ModelResponse
    })
  const layer = Layer.succeed(LanguageModel, {
    provider: "raw",
    model: "raw-1",
    generate,
    stream: (request) =>
      Stream.fromEffect(Effect.map(generate(request), (response) => ({ _tag: "Done" as const, response })))
  })
  return { layer, requests }
}

const usage = { inputTokens: 1, outputTokens: 1 }

describe("what a model returns is made JSON before it is recorded", () => {
  it.effect("non-JSON tool arguments become a failed call the model sees; non-JSON payload values are marked", () => {
    let executed = 0
    const echo = Tool.make("echo", {
      description: "echo",
      parameters: Schema.Struct({ n: Schema.Unknown }),
      handler: ({ n }) => {
        executed++
        return String(n)
      }
    })
    const cyclic: Record<string, unknown> = { model: "raw-1" }
    cyclic.self = cyclic
    const model = rawModel([
      {
        text: "",
        toolCalls: [{ id: "c1", name: "echo", arguments: { n: 12n } }],
        usage,
        finishReason: "tool_calls",
        providerRequest: cyclic,
        providerResponse: { raw: 12n, fn: function fn() {}, nested: { bad: Number.NaN, at: new Date(0) } }
      },
      { text: "done", toolCalls: [], usage, finishReason: "stop" }
    ])
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "j", instructions: "", tools: [echo] })
      const result = yield* agent.run("go")
      expect(result.status).toBe("success")
      expect(executed).toBe(0)
      const events = yield* (yield* MemoryRecorder).events()
      const completed = events.find((e) => e._tag === "ToolCallCompleted")
      expect(completed).toMatchObject({
        success: false,
        error: "Invalid arguments for tool 'echo': not JSON-serialisable: $.n is a bigint"
      })
      const llm = events.find((e) => e._tag === "LlmCallCompleted")!
      expect(llm).toMatchObject({
        toolCalls: [{ name: "echo", arguments: { n: "[bigint 12]" } }],
        providerRequest: { model: "raw-1", self: "[circular]" },
        providerResponse: {
          raw: "[bigint 12]",
          fn: "[function fn]",
          nested: { bad: "[number NaN]", at: "1970-01-01T00:00:00.000Z" }
        }
      })
      const seen = model.requests[1]!.messages.find((m) => m._tag === "tool")
      expect(seen).toMatchObject({ isError: true })
      expect(JSON.parse((seen as { content: string }).content).error).toMatch(/\$\.n is a bigint/)
    }).pipe(Effect.provide(Layer.merge(model.layer, jsonRecorder)))
  })

  it.effect("a malformed response is the model's error: the run ends error/model, the record stays whole", () => {
    const model = rawModel([{ text: 42, toolCalls: [], usage, finishReason: "stop" }])
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "j", instructions: "" })
      const result = yield* agent.run("go")
      expect(result).toMatchObject({
        status: "error",
        error: {
          tag: "ModelError",
          failureReason: "model",
          message: "the model returned a malformed response: its text is not a string"
        }
      })
      const types = (yield* (yield* MemoryRecorder).events()).map(HookEvent.eventType)
      expect(types.slice(-2)).toEqual(["llm.failed", "run.failed"])
    }).pipe(Effect.provide(Layer.merge(model.layer, jsonRecorder)))
  })
})
