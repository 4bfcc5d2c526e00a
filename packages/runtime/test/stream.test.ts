import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { Agent, MemoryRecorder, Recorder, ScriptedModel, StreamEvent } from "../src/index.js"
import { timeTool, twoToolScript, weatherTool } from "./fixtures.js"

describe("agent.stream", () => {
  it.effect("yields exactly the recorded events, in order, plus deltas", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "s", instructions: "", tools: [weatherTool, timeTool] })
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream("go", { runId: "r" })))
      const recorded = yield* (yield* MemoryRecorder).events("r")
      expect(events.filter((e) => !StreamEvent.isDelta(e))).toEqual(recorded)
      const text = events.flatMap((e) => (e._tag === "TextDelta" ? [e.delta] : [])).join("")
      expect(text).toBe("21 °C at noon.")
      const args = events.flatMap((e) => (e._tag === "ToolArgumentsDelta" && e.index === 0 ? [e.delta] : [])).join("")
      expect(JSON.parse(args)).toEqual({ city: "Lisbon" })
      // Deltas of a model call arrive between its llm.started and llm.completed.
      const firstDelta = events.findIndex(StreamEvent.isDelta)
      expect(events[firstDelta - 1]?._tag).toBe("LlmCallStarted")
      expect(events.at(-1)).toMatchObject({ _tag: "RunCompleted", status: "success", answer: "21 °C at noon." })
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(twoToolScript), Recorder.memory))))

  it.effect("a consumer that stops early cancels the run and the cancellation is recorded", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "s", instructions: "", tools: [weatherTool, timeTool] })
      const firstTwo = yield* Stream.runCollect(Stream.take(agent.stream("go", { runId: "r2" }), 2))
      expect(Chunk.size(firstTwo)).toBe(2)
      const recorded = yield* (yield* MemoryRecorder).events("r2")
      expect(recorded.at(-1)).toMatchObject({ _tag: "RunCancelled", reason: "interrupted" })
      expect(recorded.map((e) => e.sequenceIndex)).toEqual(recorded.map((_, i) => i))
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(twoToolScript), Recorder.memory))))
})
