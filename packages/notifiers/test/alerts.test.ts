import { describe, expect, it } from "@effect/vitest"
import { type HookEvent, Notifier, type StreamEvent } from "@sextant/runtime"
import { Effect, TestClock } from "effect"
import { Alert, AlertNotifier, AlertRules } from "../src/index.js"
import { context, ev } from "./fixtures.js"

/** Feeds events to an alert notifier whose alerts are collected; returns the rule names fired, in order. */
const harness = (rules: ReadonlyArray<AlertRules.Rule>) => {
  const delivered: Array<Alert.Alert> = []
  const alerts = AlertNotifier.make({ rules, deliver: (alert) => void delivered.push(alert) })
  const feed = (events: ReadonlyArray<HookEvent.HookEvent>) =>
    Effect.forEach(events, (e) => alerts.handle(e, context()), { discard: true })
  return { alerts, delivered, feed }
}

const r = "run-alerts"
const usage = (inputTokens: number, outputTokens: number, costUsd?: number): HookEvent.Usage =>
  costUsd === undefined ? { inputTokens, outputTokens } : { inputTokens, outputTokens, costUsd }

describe("AlertRules", () => {
  it.effect("runFailed fires on a failed run only, with its figures; not on a completed one", () =>
    Effect.gen(function*() {
      const h = harness([AlertRules.runFailed()])
      yield* h.feed([ev.runStarted("ok", 0, 1), ev.completed("ok", 1, 2)])
      expect(h.delivered).toHaveLength(0)
      yield* h.feed([ev.runStarted(r, 0, 1), ev.failed(r, 1, 2)])
      expect(h.delivered).toHaveLength(1)
      expect(h.delivered[0]).toMatchObject({
        _tag: "Alert",
        runId: r,
        rule: "run_failed",
        severity: "critical",
        agentName: "ops",
        sequenceIndex: 1,
        figures: { failureReason: "model" }
      })
      expect(h.delivered[0]!.message).toContain("upstream exploded")
    }))

  it.effect("costAbove fires when the running cost first exceeds the limit, once per run; again with once: false", () =>
    Effect.gen(function*() {
      const events = [
        ev.runStarted(r, 0, 1),
        ev.llmCompleted(r, 1, 2, usage(10, 5, 0.4)),
        ev.llmCompleted(r, 2, 3, usage(10, 5, 0.4)), // 0.8: not above 1
        ev.llmCompleted(r, 3, 4, usage(10, 5, 0.4)), // 1.2: fires
        ev.llmCompleted(r, 4, 5, usage(10, 5, 0.4)) // 1.6: still above
      ]
      const once = harness([AlertRules.costAbove(1)])
      yield* once.feed(events)
      expect(once.delivered.map((a) => a.sequenceIndex)).toEqual([3])
      expect(once.delivered[0]!.figures).toMatchObject({ limitUsd: 1 })
      expect(once.delivered[0]!.figures.costUsd).toBeCloseTo(1.2)
      // Another run has its own state.
      yield* once.feed([ev.llmCompleted("other", 1, 2, usage(10, 5, 0.5))])
      expect(once.delivered).toHaveLength(1)

      const every = harness([AlertRules.costAbove(1, { once: false })])
      yield* every.feed(events)
      expect(every.delivered.map((a) => a.sequenceIndex)).toEqual([3, 4])
    }))

  it.effect("tokensAbove counts input + output across model calls", () =>
    Effect.gen(function*() {
      const h = harness([AlertRules.tokensAbove(100)])
      yield* h.feed([ev.llmCompleted(r, 1, 2, usage(40, 10)), ev.llmCompleted(r, 2, 3, usage(40, 10))])
      expect(h.delivered).toHaveLength(0) // exactly 100 is not above
      yield* h.feed([ev.llmCompleted(r, 3, 4, usage(1, 0))])
      expect(h.delivered.map((a) => [a.rule, a.figures.tokens])).toEqual([["tokens_above", 101]])
    }))

  it.effect("toolFailuresInARow fires at the Nth consecutive failure; a success resets the streak", () =>
    Effect.gen(function*() {
      const h = harness([AlertRules.toolFailuresInARow(3, { once: false })])
      yield* h.feed([
        ev.toolCompleted(r, 1, 1, "a", false),
        ev.toolCompleted(r, 2, 2, "b", false),
        ev.toolCompleted(r, 3, 3, "a", true), // reset
        ev.toolCompleted(r, 4, 4, "a", false),
        ev.toolCompleted(r, 5, 5, "a", false)
      ])
      expect(h.delivered).toHaveLength(0)
      yield* h.feed([ev.toolCompleted(r, 6, 6, "c", false), ev.toolCompleted(r, 7, 7, "c", false)])
      expect(h.delivered.map((a) => [a.sequenceIndex, a.figures.failures])).toEqual([[6, 3], [7, 4]])
    }))

  it.effect("sameToolInARow fires when one tool is called N times in a row, once per run", () =>
    Effect.gen(function*() {
      const h = harness([AlertRules.sameToolInARow(3)])
      yield* h.feed([
        ev.toolStarted(r, 1, 1, "search"),
        ev.toolStarted(r, 2, 2, "search"),
        ev.toolStarted(r, 3, 3, "fetch"),
        ev.toolStarted(r, 4, 4, "search"),
        ev.toolStarted(r, 5, 5, "search")
      ])
      expect(h.delivered).toHaveLength(0)
      yield* h.feed([ev.toolStarted(r, 6, 6, "search"), ev.toolStarted(r, 7, 7, "search")])
      expect(h.delivered.map((a) => [a.sequenceIndex, a.figures])).toEqual([
        [6, { tool: "search", calls: 3, threshold: 3 }]
      ])
      // The run ends and a new run with the same pattern alerts again.
      yield* h.feed([ev.completed(r, 8, 8), ...[9, 10, 11].map((i) => ev.toolStarted("r2", i, i, "search"))])
      expect(h.delivered.map((a) => a.runId)).toEqual([r, "r2"])
    }))

  it.effect("approvalWaiting fires on a timer when no decision came within T, not when one did", () =>
    Effect.gen(function*() {
      const h = harness([AlertRules.approvalWaiting("10 minutes")])
      yield* h.feed([ev.runStarted("fast", 0, 0), ev.approvalRequested("fast", 1, 0), ev.paused("fast", 2, 0)])
      yield* h.feed([ev.runStarted(r, 0, 0), ev.approvalRequested(r, 1, 0), ev.paused(r, 2, 0)])
      yield* TestClock.adjust("5 minutes")
      yield* h.feed([ev.approvalDecided("fast", 3, 5 * 60_000, true)])
      yield* TestClock.adjust("4 minutes")
      expect(h.delivered).toHaveLength(0)
      yield* TestClock.adjust("1 minute")
      expect(h.delivered.map((a) => [a.runId, a.rule, a.sequenceIndex])).toEqual([[r, "approval_waiting", undefined]])
      expect(h.delivered[0]!.message).toContain("deploy")
      expect(h.delivered[0]!.timestamp).toBe(10 * 60_000)
      // Once per run: a late decision does not alert again.
      yield* h.feed([ev.approvalDecided(r, 3, 11 * 60_000, true)])
      yield* TestClock.adjust("1 hour")
      expect(h.delivered).toHaveLength(1)
    }))

  it.effect("a custom rule; several rules on one event; alerts reach a notifier's handle and failures surface", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const target = Notifier.make({ name: "target", onEvent: (e: StreamEvent.StreamEvent) => void seen.push(e) })
      const retries = AlertRules.make<{ n: number }>({
        name: "provider_retries",
        severity: "info",
        init: () => ({ n: 0 }),
        check: (input, state) =>
          input._tag === "RunFailed" ? { title: "failed after retries", message: `${state.n} retries` } : undefined
      })
      const alerts = AlertNotifier.make({ rules: [AlertRules.runFailed(), retries], deliver: target })
      yield* alerts.handle(ev.failed(r, 1, 1), context())
      expect(seen.map((a) => Alert.isAlert(a) && a.rule)).toEqual(["run_failed", "provider_retries"])
      expect((yield* alerts.alerts).map((a) => a.severity)).toEqual(["critical", "info"])

      const broken = AlertNotifier.make({
        rules: [AlertRules.runFailed()],
        deliver: () => Effect.fail("slack is down")
      })
      const exit = yield* Effect.exit(broken.handle(ev.failed(r, 1, 1), context()))
      expect(exit._tag).toBe("Failure")
    }))
})
