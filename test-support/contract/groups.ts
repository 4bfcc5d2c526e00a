/**
 * Events recorded together (`Recorder.recordAll`, the events between two commit points): the same record as
 * event by event, each event once, a refusal naming the event that caused it, and never anything after it.
 * A backend without `recordAll` is held to the kernel's fallback (`record` per event).
 */
import { describe, expect } from "@effect/vitest"
import type { HookEvent, RecorderError } from "@sextant/runtime"
import { Recorder, RunLedger } from "@sextant/runtime"
import { Effect, Either, Option } from "effect"
import * as E from "./events.js"
import { type Capabilities, check, expectConflict, makeChecker, past, type Test, uid } from "./harness.js"
import * as Oracle from "./oracle.js"

const usage10x5: HookEvent.Usage = { inputTokens: 10, outputTokens: 5, costUsd: 0.1 }

/** `recordAll`, or the kernel's fallback when the backend has none. */
const recordAll = (events: ReadonlyArray<HookEvent.HookEvent>): Effect.Effect<void, RecorderError, Recorder> =>
  Effect.flatMap(Recorder, (recorder) =>
    recorder.recordAll === undefined
      ? Effect.forEach(events, recorder.record, { discard: true })
      : recorder.recordAll(events))

/** The model after events that must all be accepted. */
const fold = (model: Oracle.Model, events: ReadonlyArray<HookEvent.HookEvent>): Oracle.Model =>
  events.reduce((m, event) => {
    const next = Oracle.step(m, { _tag: "Record", event })
    expect(next.outcome._tag, `${Oracle.label(event)} is valid in the test's own sequence`).toBe("Recorded")
    return next.model
  }, model)

/** A three-turn run with a parallel pair of tool calls, cut at its commit points (what the kernel awaits). */
const groupsOf = (s: E.Stamper): ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>> => {
  const weather = E.call(`${s.runId}-weather`, "get_weather", { city: "Lisbon" })
  const time = E.call(`${s.runId}-time`, "get_time", { tz: "Europe/Lisbon" })
  const total: HookEvent.Usage = { inputTokens: 30, outputTokens: 15, costUsd: 0.3 }
  return [
    [s.next(E.started({ tenantId: "acme" }), 0), s.next(E.user(0, "Weather and time?"), 0)],
    [s.next(E.llmStarted(`${s.runId}-llm-1`), 1)],
    [
      s.next(E.llmCompleted(`${s.runId}-llm-1`, usage10x5, { toolCalls: [weather, time] }), 1),
      s.next(E.assistant(1, "", [weather, time]), 1),
      s.next(E.toolStarted(weather)),
      s.next(E.toolStarted(time))
    ],
    [
      s.next(E.toolCompleted(weather, { tempC: 21 })),
      s.next(E.toolCompleted(time, "12:00")),
      s.next(E.toolMessage(2, weather, "{\"tempC\":21}")),
      s.next(E.toolMessage(3, time, "12:00")),
      s.next(E.llmStarted(`${s.runId}-llm-2`, 4), 2)
    ],
    [
      s.next(
        E.llmCompleted(`${s.runId}-llm-2`, { inputTokens: 20, outputTokens: 10, costUsd: 0.2 }, { text: "21 °C" }),
        2
      ),
      s.next(E.assistant(4, "21 °C"), 2),
      s.next(E.completed("success", 2, total, "21 °C"), 2)
    ]
  ]
}

/** Records a run's groups in order, checking the backend against the fold after each. */
const recordGroups = (
  caps: Capabilities,
  runId: string,
  groups: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>,
  start: Oracle.Model = Oracle.empty(runId)
) =>
  Effect.gen(function*() {
    const checker = makeChecker()
    let model = start
    for (const [i, group] of groups.entries()) {
      const result = yield* Effect.either(recordAll(group))
      expect(Either.isLeft(result) ? result.left.message : "recorded", `group ${i} of ${runId}`).toBe("recorded")
      model = fold(model, group)
      yield* check(caps, checker, model, `after group ${i}`)
    }
    return model
  })

/**
 * After a refused call: nothing from the refused event on was recorded, and what was is a prefix of the call
 * (all of it or none on a backend writing a call in one transaction). Returns the model of what is stored.
 */
const afterRefusal = (
  caps: Capabilities,
  model: Oracle.Model,
  events: ReadonlyArray<HookEvent.HookEvent>,
  refused: HookEvent.HookEvent
) =>
  Effect.gen(function*() {
    const ledger = yield* RunLedger
    const stored = yield* ledger.get(model.runId)
    const last = Option.match(stored, { onNone: () => -1, onSome: (r) => r.lastSequenceIndex })
    expect(last, `nothing from ${Oracle.label(refused)} on is recorded`).toBeLessThan(refused.sequenceIndex)
    const prefix = events.filter((e) =>
      e.runId === model.runId && e.sequenceIndex <= last &&
      !model.events.some((m) => m.sequenceIndex === e.sequenceIndex)
    )
    const now = fold(model, prefix)
    yield* check(caps, makeChecker(), now, `after the refused call (${Oracle.label(refused)})`)
    return now
  })

/** `recordAll`: groups of events, one await each. */
export const groupTests = (test: Test, caps: Capabilities): void => {
  describe("events recorded together (recordAll)", () => {
    test("a run recorded commit point by commit point matches the lifecycle fold after every group", () =>
      Effect.gen(function*() {
        const s = E.stamper(uid("group"), yield* past(1))
        yield* recordAll([])
        yield* recordGroups(caps, s.runId, groupsOf(s))
      }))

    test("many runs recording groups at once are each recorded in order", () =>
      Effect.gen(function*() {
        const t0 = yield* past(1)
        const runs = Array.from({ length: 8 }, (_, i) => E.stamper(uid(`groups${i}`), t0 + i))
        yield* Effect.forEach(runs, (s) => recordGroups(caps, s.runId, groupsOf(s)), { concurrency: "unbounded" })
      }))

    test("one call may carry events of several runs, interleaved", () =>
      Effect.gen(function*() {
        const t0 = yield* past(1)
        const a = E.stamper(uid("mixA"), t0)
        const b = E.stamper(uid("mixB"), t0 + 1)
        const ga = groupsOf(a).flat()
        const gb = groupsOf(b).flat()
        const mixed = ga.flatMap((e, i) => (gb[i] === undefined ? [e] : [e, gb[i]]))
        yield* recordAll(mixed)
        yield* check(caps, makeChecker(), fold(Oracle.empty(a.runId), ga), "after the mixed call (run a)")
        yield* check(caps, makeChecker(), fold(Oracle.empty(b.runId), gb), "after the mixed call (run b)")
      }))

    test("the same call made twice (a write retried after its reply was lost) is accepted and changes nothing", () =>
      Effect.gen(function*() {
        const s = E.stamper(uid("again"), yield* past(1))
        const groups = groupsOf(s)
        const model = yield* recordGroups(caps, s.runId, groups.slice(0, 3))
        yield* recordAll(groups[2]!)
        yield* check(caps, makeChecker(), model, "after the repeated call")
        yield* recordGroups(caps, s.runId, groups.slice(3), model)
      }))

    test("a refused event inside a group fails the call as a conflict naming it; nothing from it on is recorded", () =>
      Effect.gen(function*() {
        const s = E.stamper(uid("gap"), yield* past(1))
        const groups = groupsOf(s)
        let model = yield* recordGroups(caps, s.runId, groups.slice(0, 2))
        const [completed, assistant, weather] = groups[2]!
        // The third event skips an index: a gap, refused by the lifecycle.
        const gap = { ...weather!, sequenceIndex: weather!.sequenceIndex + 1 } as HookEvent.HookEvent
        const call = [completed!, assistant!, gap]
        expectConflict(yield* Effect.either(recordAll(call)), gap, "a gap in the sequence")
        model = yield* afterRefusal(caps, model, call, gap)
        // The run goes on from what is stored.
        const rest = groups[2]!.filter((e) => !model.events.some((m) => m.sequenceIndex === e.sequenceIndex))
        yield* recordAll(rest)
        model = fold(model, rest)
        yield* check(caps, makeChecker(), model, "after the corrected call")
      }))

    test("a misplaced run.started refuses the call; no run is created", () =>
      Effect.gen(function*() {
        const s = E.stamper(uid("misplaced"), yield* past(1))
        const started = s.at(1, E.started())
        const call = [started, s.at(2, E.user(0, "hi"))]
        expectConflict(yield* Effect.either(recordAll(call)), started, "run.started must be event #0")
        const ledger = yield* RunLedger
        expect(Option.isNone(yield* ledger.get(s.runId)), "no run was created").toBe(true)
      }))
  })
}
