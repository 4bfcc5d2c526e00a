import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  Agent,
  AgentRuntime,
  type HookEvent,
  MemoryRecorder,
  Notifier,
  Notifiers,
  Recorder,
  ScriptedModel,
  type StreamEvent
} from "../src/index.js"
import { timeTool, twoToolScript, weatherTool } from "./fixtures.js"

/** Events with what legitimately differs between two runs (times, durations, minted ids) masked. */
const withoutTime = (events: ReadonlyArray<HookEvent.HookEvent>) =>
  JSON.parse(
    JSON.stringify(events)
      .replace(/"(timestamp|durationMs)":\d+/g, "\"$1\":0")
      .replace(/"[0-9A-HJKMNP-TV-Z]{26}"/g, "\"<id>\"")
  )

/** A normal notifier that keeps what it receives. */
const collector = () => {
  const seen: Array<StreamEvent.StreamEvent> = []
  return { seen, notifier: Notifier.make({ name: "collector", onEvent: (e) => void seen.push(e) }) }
}

const misbehaving = [
  Notifier.make({
    name: "thrower",
    onEvent: () => {
      throw new Error("notifier bug")
    }
  }),
  Notifier.make({ name: "defect", on: { ToolCallCompleted: () => Effect.die("kaboom") } }),
  Notifier.make({ name: "hang", timeout: "50 millis", onEvent: () => Effect.never }),
  Notifier.make({ name: "slow", capacity: 1, onEvent: () => Effect.sleep("20 millis") })
]

describe("notifier isolation", () => {
  it.live("bad notifiers change nothing; a normal one beside them gets every event in order; losses are counted", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "n", instructions: "", tools: [weatherTool, timeTool] })
      const runOnce = (notifiers: ReadonlyArray<Notifier.Notifier>) =>
        Effect.gen(function*() {
          const result = yield* agent.run("go", { runId: "same" })
          const events = yield* (yield* MemoryRecorder).events()
          // Counters stay readable after the layer (and its mailboxes) is released and drained.
          const stats = (yield* Notifiers).stats
          return { result, events, stats }
        }).pipe(
          Effect.provide(
            Layer.mergeAll(
              ScriptedModel.layer(twoToolScript),
              Recorder.memory,
              Notifiers.layer(notifiers, { drainTimeout: "300 millis" })
            )
          )
        )
      const plain = yield* runOnce([])
      const { notifier, seen } = collector()
      const noisy = yield* runOnce([...misbehaving, notifier])

      expect(noisy.result).toEqual(plain.result)
      expect(withoutTime(noisy.events)).toEqual(withoutTime(plain.events))
      // The layer was released above: the normal notifier was drained and saw everything, in order.
      expect(seen).toEqual(noisy.events)
      const stats = Object.fromEntries((yield* noisy.stats).map((s) => [s.name, s]))
      const n = noisy.events.length
      expect(stats.collector).toMatchObject({ delivered: n, failed: 0, timedOut: 0, dropped: 0 })
      expect(stats.thrower).toMatchObject({ delivered: 0, failed: n })
      expect(stats.defect).toMatchObject({ delivered: n - 2, failed: 2 })
      expect(stats.hang!.delivered).toBe(0)
      expect(stats.hang!.timedOut + stats.hang!.dropped).toBe(n)
      expect(stats.slow!.dropped).toBeGreaterThan(0)
      expect(stats.slow!.delivered + stats.slow!.dropped).toBe(n)
    }))

  it.live("per-run notifiers see only their run, and a run without a dispatcher still delivers", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "n", instructions: "", tools: [weatherTool, timeTool] })
      const a = collector()
      const result = yield* agent.run("go", { runId: "r-a", notifiers: [a.notifier] })
      yield* Effect.sleep("100 millis")
      expect(result.status).toBe("success")
      expect(a.seen.map((e) => e.runId)).toEqual(a.seen.map(() => "r-a"))
      expect(a.seen.at(-1)?._tag).toBe("RunCompleted")
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(twoToolScript), Recorder.memory))))
})

describe("AgentRuntime (Promise facade)", () => {
  it.live("runs, streams, reports stats and disposes within the drain deadline despite a hanging notifier", () =>
    Effect.promise(async () => {
      const { notifier, seen } = collector()
      const hang = Notifier.make({ name: "hang", timeout: "1 hour", onEvent: () => Effect.never })
      const runtime = AgentRuntime.make(
        Layer.merge(ScriptedModel.layer([...twoToolScript, ...twoToolScript]), Recorder.memory),
        {
          notifiers: [notifier, hang],
          drainTimeout: "200 millis"
        }
      )
      const agent = Agent.makeSync({ name: "p", instructions: "", tools: [weatherTool, timeTool] })
      const result = await runtime.run(agent, "go")
      expect(result).toMatchObject({ status: "success", answer: "21 °C at noon." })
      const streamed: Array<string> = []
      for await (const e of runtime.stream(agent, "again")) streamed.push(e._tag)
      expect(streamed.at(-1)).toBe("RunCompleted")
      await runtime.dispose()
      expect(seen.filter((e) => e._tag === "RunCompleted")).toHaveLength(2)
      expect(() => Agent.makeSync({ name: "", instructions: "" })).toThrow(/must be a non-empty string/)
    }))
})
