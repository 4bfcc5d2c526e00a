import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { Agent, MemoryRecorder, Recorder, RunLedger, Runs, ScriptedModel, Tool } from "../src/index.js"

const pick = Tool.make("pick_file", {
  description: "Let the user pick a file (runs in the client)",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})
const lookup = Tool.make("lookup", {
  description: "Look something up",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => `found ${q}`
})

describe("Recorder.memory applies the lifecycle table", () => {
  it.effect("cancelling a paused run records and stores the usage of the model calls it made", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick, lookup] })
      const paused = yield* agent.run("open a file")
      expect(paused.status).toBe("waiting_client_tool")
      expect(paused.usage).toEqual({ inputTokens: 30, outputTokens: 12 })
      const ledger = yield* RunLedger
      const before = yield* ledger.get(paused.runId)
      expect(Option.map(before, (r) => r.usage)).toEqual(Option.some({ inputTokens: 30, outputTokens: 12 }))
      yield* Runs.cancelRun(paused.runId)
      const cancelled = (yield* (yield* MemoryRecorder).events(paused.runId)).at(-1)
      expect(cancelled).toMatchObject({
        _tag: "RunCancelled",
        iterations: 2,
        usage: { inputTokens: 30, outputTokens: 12 }
      })
      const stored = yield* ledger.get(paused.runId)
      expect(Option.map(stored, (r) => [r.status, r.usage, r.iterations])).toEqual(
        Option.some(["cancelled", { inputTokens: 30, outputTokens: 12 }, 2])
      )
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([
        { toolCalls: [{ name: "lookup", arguments: { q: "x" } }], usage: { inputTokens: 10, outputTokens: 5 } },
        { toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }], usage: { inputTokens: 20, outputTokens: 7 } }
      ]),
      Recorder.memory
    ))))
})
