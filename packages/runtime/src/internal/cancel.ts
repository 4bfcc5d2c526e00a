/**
 * Cancelling a run, whatever it is doing: a paused run is claimed (so no submitter can resume it) and
 * recorded `run.cancelled` at once; a run executing in this process is interrupted at its current model or
 * tool call; a run in another process is flagged and stops at its next step. A finished run is left alone.
 */
import { Effect, Fiber, Option } from "effect"
import type { RecorderError, RunNotFound } from "../Errors.js"
import * as Ids from "../Ids.js"
import * as Lifecycle from "../Lifecycle.js"
import { Recorder } from "../Recorder.js"
import { RunLedger, type StoredRun } from "../RunLedger.js"
import type { CancelResult } from "../RunResult.js"
import { makeBus } from "./bus.js"
import { findRun } from "./lookup.js"
import * as Registry from "./registry.js"
import * as Services from "./services.js"
import { segmentSinks } from "./sinks.js"

const cancelled = (runId: string): CancelResult => ({ runId, status: "cancelled", cancelled: true })

/** Claims a paused run and records `run.cancelled` with the totals it had; false when another claim won. */
const cancelPaused = (run: StoredRun) =>
  Effect.gen(function*() {
    const ledger = yield* Services.runLedger
    if (!Lifecycle.isPaused(run.status)) return false
    if (!(yield* ledger.claim(run.runId, run.status, { kind: "cancel" }, Ids.make()))) return false
    const bus = yield* makeBus({
      runId: run.runId,
      recorder: yield* Services.recorder,
      sinks: yield* segmentSinks(undefined, undefined),
      traceContext: undefined,
      startSequence: run.lastSequenceIndex + 1
    })
    yield* bus.emit(
      { _tag: "RunCancelled", reason: "cancel_requested", iterations: run.iterations, usage: run.usage },
      run.iterations
    )
    return true
  })

/** Cancels a run (see the module comment). */
export const cancelRun = (
  runId: string
): Effect.Effect<CancelResult, RunNotFound | RecorderError, Recorder | RunLedger> =>
  Effect.gen(function*() {
    const ledger = yield* Services.runLedger
    const run = yield* findRun(ledger, runId)
    if (Lifecycle.isTerminal(run.status)) return { runId, status: run.status, cancelled: false }
    yield* ledger.requestCancel(runId)
    if (yield* cancelPaused(run)) return cancelled(runId)
    const fiber = Registry.markCancelled(runId)
    if (fiber !== undefined) {
      yield* Fiber.interrupt(fiber)
      return cancelled(runId)
    }
    const now = yield* ledger.get(runId)
    const status = Option.isSome(now) ? now.value.status : run.status
    return { runId, status, cancelled: status === "cancelled" }
  }).pipe(Effect.scoped)
