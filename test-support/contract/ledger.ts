/**
 * The run ledger's contract: the compare-and-swap claim (one winner, idempotent per submission), cancel
 * flags, idempotency keys at the recorder, the heartbeat, and (for backends that have one) the sweep.
 */
import { describe, expect } from "@effect/vitest"
import type { HookEvent } from "@sextant/runtime"
import { Recorder, RunLedger } from "@sextant/runtime"
import { Effect, Option } from "effect"
import * as E from "./events.js"
import {
  type Capabilities,
  check,
  drive,
  expectConflict,
  makeChecker,
  past,
  records,
  type Test,
  uid
} from "./harness.js"
import * as Oracle from "./oracle.js"

const usage10x5: HookEvent.Usage = { inputTokens: 10, outputTokens: 5 }

/** A run driven to `waiting_client_tool` (`hoursAgo` in the past). */
const pausedRun = (caps: Capabilities, hoursAgo = 1) =>
  Effect.gen(function*() {
    const s = E.stamper(uid("ledger"), yield* past(hoursAgo))
    const pick = E.call(`${s.runId}-pick`, "pick_file", { kind: "pdf" })
    const model = yield* drive(
      caps,
      makeChecker(),
      records([
        s.next(E.started(), 0),
        s.next(E.user(0, "open a file"), 0),
        s.next(E.llmStarted(`${s.runId}-llm-1`), 1),
        s.next(E.llmCompleted(`${s.runId}-llm-1`, usage10x5, { toolCalls: [pick] }), 1),
        s.next(E.assistant(1, "", [pick]), 1),
        s.next(E.paused("waiting_client_tool", [pick]), 1)
      ]),
      Oracle.empty(s.runId)
    )
    return { s, model }
  })

/** A run that is `running` (`hoursAgo` in the past), with a tool call in flight. */
const runningRun = (caps: Capabilities, hoursAgo = 1) =>
  Effect.gen(function*() {
    const s = E.stamper(uid("ledger"), yield* past(hoursAgo))
    const weather = E.call(`${s.runId}-weather`, "get_weather", { city: "Lisbon" })
    const model = yield* drive(
      caps,
      makeChecker(),
      records([
        s.next(E.started(), 0),
        s.next(E.user(0, "weather?"), 0),
        s.next(E.llmStarted(`${s.runId}-llm-1`), 1),
        s.next(E.llmCompleted(`${s.runId}-llm-1`, usage10x5, { toolCalls: [weather] }), 1),
        s.next(E.assistant(1, "", [weather]), 1),
        s.next(E.toolStarted(weather), 1)
      ]),
      Oracle.empty(s.runId)
    )
    return { s, model }
  })

/** A run that ended `success`. */
const finishedRun = (caps: Capabilities) =>
  Effect.gen(function*() {
    const s = E.stamper(uid("ledger"), yield* past(1))
    const model = yield* drive(
      caps,
      makeChecker(),
      records([
        s.next(E.started(), 0),
        s.next(E.user(0, "hi"), 0),
        s.next(E.llmStarted(`${s.runId}-llm-1`), 1),
        s.next(E.llmCompleted(`${s.runId}-llm-1`, usage10x5, { text: "hello" }), 1),
        s.next(E.assistant(1, "hello"), 1),
        s.next(E.completed("success", 1, usage10x5, "hello"), 1)
      ]),
      Oracle.empty(s.runId)
    )
    return { s, model }
  })

/** The progress time the backend keeps for a run (epoch ms), as its ledger reads it. */
const progressAt = (runId: string) =>
  Effect.flatMap(RunLedger, (ledger) => ledger.get(runId)).pipe(
    Effect.map((run) => Option.getOrThrow(run).lastProgressAt)
  )

/** The ledger's contract. */
export const ledgerTests = (test: Test, caps: Capabilities): void => {
  describe("pause, claim and resume (compare-and-swap)", () => {
    test("exactly one of many concurrent claimers wins, and its submission is the one stored", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        const { model } = yield* pausedRun(caps)
        const claimers = Array.from({ length: 8 }, (_, i) => ({
          submission: { kind: "tool_results", claimer: i },
          submissionId: uid(`sub${i}`)
        }))
        const won = yield* Effect.all(
          claimers.map((c) => ledger.claim(model.runId, "waiting_client_tool", c.submission, c.submissionId)),
          { concurrency: "unbounded" }
        )
        expect(won.filter(Boolean), "claims that won").toHaveLength(1)
        const winner = claimers[won.indexOf(true)]!
        const after = Oracle.step(model, { _tag: "Claim", expected: "waiting_client_tool", ...winner }).model
        const checker = makeChecker()
        yield* check(caps, checker, after, "after the concurrent claims")
        // The winner's retry (its reply was lost) wins again; every loser's retry still loses.
        yield* drive(caps, checker, [
          { _tag: "Claim", expected: "waiting_client_tool", ...winner },
          ...claimers.filter((c) => c !== winner).map((c) => ({
            _tag: "Claim" as const,
            expected: "waiting_client_tool" as const,
            ...c
          }))
        ], after)
      }))

    test("a claim retried with the same submission id wins again; another id loses", () =>
      Effect.gen(function*() {
        const { model } = yield* pausedRun(caps)
        const mine = uid("sub")
        yield* drive(caps, makeChecker(), [
          {
            _tag: "Claim",
            expected: "waiting_client_tool",
            submission: { kind: "input", text: "a" },
            submissionId: mine
          },
          {
            _tag: "Claim",
            expected: "waiting_client_tool",
            submission: { kind: "input", text: "a" },
            submissionId: mine
          },
          {
            _tag: "Claim",
            expected: "waiting_client_tool",
            submission: { kind: "input", text: "b" },
            submissionId: uid("sub")
          }
        ], model)
      }))

    test("a claim of the wrong paused status, a finished run or a missing run loses and changes nothing", () =>
      Effect.gen(function*() {
        const { model: paused } = yield* pausedRun(caps)
        yield* drive(caps, makeChecker(), [
          { _tag: "Claim", expected: "waiting_approval", submission: { kind: "approval" }, submissionId: uid("sub") }
        ], paused)
        const { model: finished } = yield* finishedRun(caps)
        yield* drive(caps, makeChecker(), [
          { _tag: "Claim", expected: "waiting_client_tool", submission: { kind: "late" }, submissionId: uid("sub") }
        ], finished)
        yield* drive(caps, makeChecker(), [
          { _tag: "Claim", expected: "waiting_client_tool", submission: { kind: "ghost" }, submissionId: uid("sub") }
        ], Oracle.empty(uid("missing")))
      }))
  })

  describe("cancel flags", () => {
    test("a running or paused run can be flagged; a finished or missing one cannot", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        const { model: running } = yield* runningRun(caps)
        yield* drive(caps, makeChecker(), [{ _tag: "RequestCancel" }], running)
        expect(yield* ledger.isCancelRequested(running.runId), "isCancelRequested of a flagged run").toBe(true)
        const { model: paused } = yield* pausedRun(caps)
        yield* drive(caps, makeChecker(), [{ _tag: "RequestCancel" }], paused)
        expect(yield* ledger.isCancelRequested(paused.runId), "isCancelRequested of a flagged paused run").toBe(true)
        const { model: finished } = yield* finishedRun(caps)
        yield* drive(caps, makeChecker(), [{ _tag: "RequestCancel" }], finished)
        expect(yield* ledger.isCancelRequested(finished.runId), "isCancelRequested of a finished run").toBe(false)
        const missing = uid("missing")
        yield* drive(caps, makeChecker(), [{ _tag: "RequestCancel" }], Oracle.empty(missing))
        expect(yield* ledger.isCancelRequested(missing), "isCancelRequested of a missing run").toBe(false)
      }))
  })

  describe("idempotency keys (recorder)", () => {
    test("a second run.started with a used key is a conflict; the key finds the first run", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        const recorder = yield* Recorder
        const key = uid("key")
        const t0 = yield* past(1)
        const first = E.stamper(uid("idem"), t0)
        const a = yield* drive(
          caps,
          makeChecker(),
          records([first.next(E.started({ idempotencyKey: key, idempotencyFingerprint: "fp-1" }), 0)]),
          Oracle.empty(first.runId)
        )
        // Key uniqueness spans runs, which the per-run fold does not see: the refusal is asserted directly.
        const second = E.stamper(uid("idem"), t0 + 10)
        const duplicate = second.next(E.started({ idempotencyKey: key, idempotencyFingerprint: "fp-1" }), 0)
        expectConflict(yield* Effect.either(recorder.record(duplicate)), duplicate, "the key is used by another run")
        yield* check(caps, makeChecker(), Oracle.empty(second.runId), "after the refused run.started")
        yield* check(caps, makeChecker(), a, "after the refused run.started")
        const found = yield* ledger.findByIdempotencyKey(key)
        expect(Option.map(found, Oracle.viewOfStored), "findByIdempotencyKey").toEqual(
          Option.some(Oracle.viewOfModel(a))
        )
        expect(yield* ledger.findByIdempotencyKey(uid("unused")), "an unused key").toEqual(Option.none())
      }))
  })

  describe("heartbeat", () => {
    test("a running run's progress time moves; the rest of the run does not change", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        const { model } = yield* runningRun(caps)
        const before = yield* progressAt(model.runId)
        yield* ledger.heartbeat(model.runId)
        yield* check(caps, makeChecker(), { ...model, progressFromEvents: false }, "after a heartbeat")
        expect(yield* progressAt(model.runId), "the progress time after a heartbeat of a running run")
          .toBeGreaterThan(before)
      }))

    test("a paused, finished or missing run's progress time does not move", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        for (const { model } of [yield* pausedRun(caps), yield* finishedRun(caps)]) {
          yield* ledger.heartbeat(model.runId)
          yield* check(caps, makeChecker(), model, `after a heartbeat of a ${model.run?.status} run`)
        }
        const missing = uid("missing")
        yield* ledger.heartbeat(missing)
        expect(yield* ledger.get(missing), "a heartbeat never creates a run").toEqual(Option.none())
      }))
  })

  if (caps.sweep !== undefined) {
    const sweep = caps.sweep
    const options = { staleRunningAfter: "5 days", abandonedWaitingAfter: "5 days" } as const
    /** The sweep's event as the backend recorded it (its time is the sweep's clock, read back when possible). */
    const swept = (model: Oracle.Model, input: E.Input) =>
      Effect.gen(function*() {
        const run = model.run!
        const tables = caps.tables === undefined ? undefined : yield* caps.tables(model.runId)
        const last = tables?.run_events.find((r) => r.sequence_index === run.lastSequenceIndex + 1)
        const at = typeof last?.created_at === "string" ? Date.parse(last.created_at) : Date.now()
        return {
          ...input,
          runId: model.runId,
          sequenceIndex: run.lastSequenceIndex + 1,
          iteration: run.iterations,
          timestamp: at
        } as HookEvent.HookEvent
      })

    describe("sweep", () => {
      test("a stale running run is interrupted: error, stale_running, a swept message, its usage kept", () =>
        Effect.gen(function*() {
          const { model } = yield* runningRun(caps, 240)
          const result = yield* sweep(options)
          expect(result.interrupted, "the sweep's interrupted runs").toContain(model.runId)
          const event = yield* swept(model, E.interrupted("running"))
          const after = Oracle.step(model, { _tag: "Record", event })
          expect(after.outcome._tag, "the lifecycle accepts the sweep's event").toBe("Recorded")
          yield* check(caps, makeChecker(), after.model, "after the sweep")
        }))

      test("a run waiting too long is abandoned: error, abandoned_waiting, a swept message", () =>
        Effect.gen(function*() {
          const { model } = yield* pausedRun(caps, 240)
          const result = yield* sweep(options)
          expect(result.abandoned, "the sweep's abandoned runs").toContain(model.runId)
          const event = yield* swept(model, E.abandoned("waiting_client_tool"))
          const after = Oracle.step(model, { _tag: "Record", event })
          expect(after.outcome._tag, "the lifecycle accepts the sweep's event").toBe("Recorded")
          yield* check(caps, makeChecker(), after.model, "after the sweep")
        }))

      test("a heartbeat keeps a long-running run from being swept", () =>
        Effect.gen(function*() {
          const ledger = yield* RunLedger
          const { model } = yield* runningRun(caps, 240)
          yield* ledger.heartbeat(model.runId)
          const result = yield* sweep(options)
          expect(result.interrupted, "the sweep's interrupted runs").not.toContain(model.runId)
          yield* check(caps, makeChecker(), { ...model, progressFromEvents: false }, "after the sweep")
        }))
    })
  }
}
