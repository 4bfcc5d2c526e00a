/**
 * The suite's machinery: the backend a test runs against, driving it step by step beside the oracle, and
 * comparing what it stores (`RunLedger.get`, and the six tables when the backend has them) with the fold.
 * Mismatches are soft assertions reported once per field at the first step where they appear, so one failing
 * test names every rule the backend breaks rather than only the first.
 */
import { expect } from "@effect/vitest"
import type { RecorderError, RecorderService } from "@sextant/runtime"
import { HookEvent, Recorder, RunLedger } from "@sextant/runtime"
import { Clock, type Duration, Effect, Either, Layer, Option } from "effect"
import * as Oracle from "./oracle.js"
import { type ExpectedOptions, expectedTables, iso, project, tableNames, type Tables } from "./rows.js"

/** What every backend provides. */
export type Env = Recorder | RunLedger

/** What a backend's sweep of stale runs returns. */
export interface SweepResult {
  readonly interrupted: ReadonlyArray<string>
  readonly abandoned: ReadonlyArray<string>
}

/** The optional capabilities of a backend, with their requirements erased (the suite's layer provides them). */
export interface Capabilities {
  readonly tables: ((runId: string) => Effect.Effect<Tables, unknown, Env>) | undefined
  readonly sweep:
    | ((options: {
      readonly staleRunningAfter: Duration.DurationInput
      readonly abandonedWaitingAfter: Duration.DurationInput
    }) => Effect.Effect<
      SweepResult,
      unknown,
      Env
    >)
    | undefined
}

/** A test of the suite: a name and an Effect run against the backend's layer (live clock). */
export type Test = (name: string, self: () => Effect.Effect<unknown, unknown, Env>) => void

let counter = 0
/** An id unique within the process and across test files sharing a server. */
export const uid = (prefix: string): string =>
  `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`

/** The wall clock, `hoursAgo` hours back (hand-built runs happen in the past so that progress visibly moves). */
export const past = (hoursAgo: number): Effect.Effect<number> =>
  Effect.map(Clock.currentTimeMillis, (now) => now - hoursAgo * 3_600_000)

/** Reports each mismatch once per key (a field of the run, a table's column), where it first appears. */
export interface Checker {
  readonly same: (key: string, where: string, actual: unknown, expected: unknown) => void
}

/** A fresh checker for one test. */
export const makeChecker = (): Checker => {
  const reported = new Set<string>()
  return {
    same: (key, where, actual, expected) => {
      if (reported.has(key)) return
      if (!equals(actual, expected)) {
        reported.add(key)
        expect.soft(actual, `${key} ${where}: got ${brief(actual)}, want ${brief(expected)}`).toEqual(expected)
      }
    }
  }
}

/** A value short enough for a one-line failure message (the full diff follows it). */
const brief = (value: unknown): string => {
  const text = JSON.stringify(value, (_, v) => (v === undefined ? "<absent>" : v)) ?? "<absent>"
  return text.length > 240 ? `${text.slice(0, 240)}…` : text
}

const equals = (a: unknown, b: unknown): boolean => {
  try {
    expect(a).toEqual(b)
    return true
  } catch {
    return false
  }
}

/** Compares what the backend holds for the model's run with what the oracle says, field by field. */
export const check = (
  caps: Capabilities,
  checker: Checker,
  model: Oracle.Model,
  where: string,
  options: ExpectedOptions = {}
): Effect.Effect<void, unknown, Env> =>
  Effect.gen(function*() {
    const ledger = yield* RunLedger
    const run = yield* ledger.get(model.runId)
    const stored = Option.map(run, Oracle.viewOfStored)
    const expected = Oracle.viewOfModel(model)
    if (Option.isNone(stored) || expected === undefined) {
      checker.same("RunLedger.get", where, Option.getOrUndefined(stored), expected)
    } else {
      for (const field of Object.keys(expected) as Array<keyof Oracle.RunView>) {
        checker.same(`RunLedger.get(…).${field}`, where, stored.value[field], expected[field])
      }
    }
    if (caps.tables === undefined) return
    const rows = yield* caps.tables(model.runId)
    if (Option.isSome(run)) {
      // The ledger reads the progress time the sweep compares: it is the table's, whoever stamped it.
      checker.same(
        "RunLedger.get(…).lastProgressAt (as agent_runs.last_progress_at)",
        where,
        iso(run.value.lastProgressAt),
        rows.agent_runs[0]?.last_progress_at
      )
    }
    const want = expectedTables(model, options)
    const got = project(rows, want)
    for (const table of tableNames) {
      if (got[table].length !== want[table].length) {
        checker.same(`${table} rows`, where, got[table], want[table])
        continue
      }
      want[table].forEach((row, i) => {
        for (const column of Object.keys(row)) {
          checker.same(`${table}.${column}`, where, { row: i, value: got[table][i]![column] }, {
            row: i,
            value: row[column]
          })
        }
      })
    }
  })

const describeStep = (s: Oracle.Step): string =>
  s._tag === "Record"
    ? Oracle.label(s.event)
    : s._tag === "Claim"
    ? `claim(${s.expected}, ${s.submissionId})`
    : "requestCancel"

/** What a refused write must look like. */
export const expectConflict = (
  result: Either.Either<void, RecorderError>,
  event: HookEvent.HookEvent,
  reason: string
): void => {
  expect(Either.isLeft(result), `${Oracle.label(event)} must be refused (${reason})`).toBe(true)
  if (Either.isLeft(result)) {
    expect(result.left, `the refusal of ${Oracle.label(event)}`).toMatchObject({
      _tag: "RecorderError",
      operation: "record",
      reason: "conflict",
      runId: event.runId,
      eventType: HookEvent.eventType(event),
      sequenceIndex: event.sequenceIndex
    })
  }
}

/**
 * Performs each step on the backend and on the oracle, then checks the backend against the oracle. A step
 * whose outcome differs (a write accepted that must be refused, a claim won that must be lost) stops the
 * test: what follows would only repeat the divergence.
 */
export const drive = (
  caps: Capabilities,
  checker: Checker,
  steps: ReadonlyArray<Oracle.Step>,
  start: Oracle.Model
): Effect.Effect<Oracle.Model, unknown, Env> =>
  Effect.gen(function*() {
    const recorder = yield* Recorder
    const ledger = yield* RunLedger
    let model = start
    for (const s of steps) {
      const next = Oracle.step(model, s)
      const where = `after ${describeStep(s)}`
      switch (s._tag) {
        case "Record": {
          const result = yield* Effect.either(recorder.record(s.event))
          if (next.outcome._tag === "Conflict") {
            expectConflict(result, s.event, `${next.outcome.conflict.reason}: ${next.outcome.conflict.message}`)
          } else {
            expect(
              Either.isRight(result) ? "recorded" : `refused: ${result.left.reason}: ${result.left.message}`,
              `${Oracle.label(s.event)} must be recorded`
            ).toBe("recorded")
          }
          break
        }
        case "Claim": {
          const before = yield* ledger.get(model.runId)
          const won = yield* ledger.claim(model.runId, s.expected, s.submission, s.submissionId)
          expect(won, `${describeStep(s)} on a ${model.run?.status ?? "missing"} run`).toBe(
            next.outcome._tag === "Answer" && next.outcome.value
          )
          // A claim that moves a paused run to running is progress: the sweep must not take the resumer's run
          // for a stale one because it had been paused for long (the hand-built runs happen in the past).
          if (won && Option.isSome(before) && before.value.status !== "running") {
            const after = yield* ledger.get(model.runId)
            expect(
              Option.map(after, (r) => r.lastProgressAt > before.value.lastProgressAt),
              `${describeStep(s)}: the run's progress time moves`
            ).toEqual(Option.some(true))
          }
          break
        }
        case "RequestCancel": {
          const flagged = yield* ledger.requestCancel(model.runId)
          expect(flagged, `requestCancel on a ${model.run?.status ?? "missing"} run`).toBe(
            next.outcome._tag === "Answer" && next.outcome.value
          )
          break
        }
      }
      model = next.model
      yield* check(caps, checker, model, where)
    }
    return model
  })

/** Records events that must all be accepted (shorthand for `drive`). */
export const records = (events: ReadonlyArray<HookEvent.HookEvent>): ReadonlyArray<Oracle.Step> =>
  events.map((event) => ({ _tag: "Record", event }))

/**
 * The backend's recorder, with every event it accepted appended to `log`: what the agent loop emitted, in
 * the order the recorder made it durable.
 */
export const tap = (log: Array<HookEvent.HookEvent>): Layer.Layer<Recorder, never, Recorder> =>
  Layer.effect(
    Recorder,
    Effect.map(Recorder, (inner): RecorderService => ({
      record: (event) => Effect.tap(inner.record(event), () => Effect.sync(() => void log.push(event)))
    }))
  )

/** Options of `checkEmitted`. */
export interface EmittedOptions {
  /** The run was flagged for cancellation (by `Runs.cancelRun` or another process). */
  readonly cancelRequested?: boolean
  /** What the run (or its last segment) returned to its caller. */
  readonly result?: {
    readonly status: HookEvent.RunStatus
    readonly iterations: number
    readonly usage: HookEvent.Usage
  }
}

/**
 * Checks a run driven through the agent loop: its accepted events are gapless from 0 and a valid lifecycle
 * (claims inferred), the backend holds what the fold says, and the totals the runtime reported (the terminal
 * event's usage, the caller's result) are the fold's totals.
 */
export const checkEmitted = (
  caps: Capabilities,
  checker: Checker,
  runId: string,
  log: ReadonlyArray<HookEvent.HookEvent>,
  options: EmittedOptions = {}
): Effect.Effect<Oracle.Model, unknown, Env> =>
  Effect.gen(function*() {
    const events = log.filter((e) => e.runId === runId)
    expect(events.map((e) => e.sequenceIndex), `the sequence indexes of run ${runId}`).toEqual(
      events.map((_, i) => i)
    )
    const folded = Oracle.foldEmitted(runId, events, { cancelRequested: options.cancelRequested === true })
    if (Either.isLeft(folded)) {
      expect.fail(
        `the runtime emitted ${
          Oracle.label(folded.left.at)
        }, which the lifecycle refuses: ${folded.left.conflict.message}`
      )
    }
    const model = Either.getOrThrow(folded)
    const totals = Oracle.totalsOf(model).usage
    const terminal = Oracle.terminalEvent(events)
    if (terminal !== undefined && "usage" in terminal) {
      checker.same(`${Oracle.label(terminal)} usage`, "(the runtime's totals)", terminal.usage, totals)
    }
    if (options.result !== undefined) {
      checker.same("result.status", "(what the caller got)", options.result.status, model.run?.status)
      checker.same("result.iterations", "(what the caller got)", options.result.iterations, model.run?.iterations)
      checker.same("result.usage", "(what the caller got)", options.result.usage, totals)
    }
    yield* check(caps, checker, model, `after the run (${events.length} events)`, { submissionUnknown: true })
    return model
  })
