import { describe, expect, it } from "@effect/vitest"
import {
  Agent,
  type HookEvent,
  MemoryRecorder,
  Notifier,
  Notifiers,
  Recorder,
  ScriptedModel,
  type StreamEvent
} from "@sextant/runtime"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { CompositeNotifier, ConsoleNotifier, WebhookNotifier } from "../src/index.js"
import { context, loopback, timeTool, weatherTool } from "./fixtures.js"

/** Events with what legitimately differs between two runs (times, durations, minted ids) masked. */
const masked = (events: ReadonlyArray<HookEvent.HookEvent>) =>
  JSON.parse(
    JSON.stringify(events)
      .replace(/"(timestamp|durationMs)":\d+/g, "\"$1\":0")
      .replace(/"[0-9A-HJKMNP-TV-Z]{26}"/g, "\"<id>\"")
  )

const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    toolCalls: [
      { id: "p1", name: "get_weather", arguments: { city: "Lisbon" } },
      { id: "p2", name: "get_time", arguments: { tz: "Europe/Lisbon" } }
    ]
  },
  { toolCalls: [{ id: "p3", name: "get_weather", arguments: { city: "Porto" } }] },
  { text: "21 °C at noon." }
]

const runWith = (notifiers: ReadonlyArray<Notifier.Notifier>) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "iso", instructions: "", tools: [weatherTool, timeTool] })
    const { events, result, stats } = yield* Effect.gen(function*() {
      const result = yield* agent.run("go", { runId: "same-run" })
      return { result, events: yield* (yield* MemoryRecorder).events(), stats: (yield* Notifiers).stats }
    }).pipe(
      Effect.provide(Layer.mergeAll(
        ScriptedModel.layer(script),
        Recorder.memory,
        Notifiers.layer(notifiers, { drainTimeout: "300 millis" })
      ))
    )
    // The layer is released: every mailbox was drained (or cut at the deadline); counters stay readable.
    return { result, events, stats: Object.fromEntries((yield* stats).map((s) => [s.name, s])) }
  }).pipe(Logger.withMinimumLogLevel(LogLevel.None))

describe("isolation", () => {
  it.scopedLive("bad notifiers (throws, dies, hangs, slow with a tiny mailbox, failing webhook) change nothing", () =>
    Effect.gen(function*() {
      const seen: Array<StreamEvent.StreamEvent> = []
      const normal = Notifier.make({ name: "normal", onEvent: (e) => void seen.push(e) })
      const bad = CompositeNotifier.make([
        Notifier.make({
          name: "throws",
          onEvent: () => {
            throw new Error("notifier bug")
          }
        }),
        Notifier.make({ name: "dies", on: { ToolCallCompleted: () => Effect.die("kaboom") } }),
        Notifier.make({ name: "hangs", timeout: "40 millis", onEvent: () => Effect.never }),
        // Never returns and its timeout is far away: only the drain deadline at shutdown can cut it.
        Notifier.make({ name: "stuck", timeout: "1 hour", onEvent: () => Effect.never }),
        Notifier.make({ name: "slow", capacity: 1, onEvent: () => Effect.sleep("25 millis") })
      ])
      // A webhook whose endpoint always answers 503: it retries (real sleeps) and gives up, beside the others.
      const server = yield* loopback([{ status: 503 }])
      const webhook = WebhookNotifier.make({
        url: server.url,
        retry: { maxAttempts: 2, baseDelay: "5 millis" },
        capacity: 4
      })
      const lines: Array<string> = []
      const console = ConsoleNotifier.make({ output: { write: (s) => void lines.push(s) }, env: {} })

      const plain = yield* runWith([])
      const noisy = yield* runWith([bad, webhook, normal, console])

      expect(noisy.result).toEqual(plain.result)
      expect(masked(noisy.events)).toEqual(masked(plain.events))
      expect(seen).toEqual(noisy.events)
      expect(seen.map((e) => (e as HookEvent.HookEvent).sequenceIndex)).toEqual(noisy.events.map((_, i) => i))

      const n = noisy.events.length
      const toolCompletions = noisy.events.filter((e) => e._tag === "ToolCallCompleted").length
      const { dies, hangs, normal: ok, slow, throws } = noisy.stats
      expect(ok).toMatchObject({ delivered: n, failed: 0, timedOut: 0, dropped: 0 })
      expect(noisy.stats.console).toMatchObject({ delivered: n, failed: 0, timedOut: 0, dropped: 0 })
      expect(throws).toMatchObject({ delivered: 0, failed: n, timedOut: 0, dropped: 0 })
      expect(dies).toMatchObject({ delivered: n - toolCompletions, failed: toolCompletions, timedOut: 0, dropped: 0 })
      expect(hangs!.delivered).toBe(0)
      expect(hangs!.timedOut + hangs!.dropped).toBe(n)
      expect(hangs!.timedOut).toBeGreaterThan(0)
      expect(slow!.dropped).toBeGreaterThan(0)
      expect(slow!.delivered + slow!.dropped).toBe(n)
      expect(noisy.stats.stuck).toMatchObject({ delivered: 0, failed: 0, timedOut: 0, dropped: n })
      const w = noisy.stats.webhook!
      expect(w.delivered).toBe(0)
      expect(w.failed + w.timedOut + w.dropped).toBe(n)
      expect((yield* webhook.deliveries).gaveUp).toBe(w.failed)
      expect(lines.join("")).toContain("■ success")
    }))

  it.effect("CompositeNotifier exposes its children; called directly, one child's failure spares the next", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const composite = CompositeNotifier.make([
        Notifier.make({ name: "a", onEvent: () => Effect.fail("a failed") }),
        Notifier.make({ name: "b", onEvent: (e) => void seen.push(e._tag) })
      ])
      expect(composite.children?.map((c) => c.name)).toEqual(["a", "b"])
      expect(composite.name).toBe("composite(a,b)")
      yield* composite.handle(
        { _tag: "TextDelta", runId: "r", iteration: 1, correlationId: "c", timestamp: 0, sequence: 0, delta: "x" },
        context()
      ).pipe(Logger.withMinimumLogLevel(LogLevel.None))
      expect(seen).toEqual(["TextDelta"])
    }))
})
