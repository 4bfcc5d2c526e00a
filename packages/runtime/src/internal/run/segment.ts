/**
 * One run segment (from `run.started` or `run.resumed` to a terminal event or a pause), run in a child fiber
 * registered for in-process cancellation. Every way the body can end becomes a recorded terminal event,
 * except a recorder or ledger failure, which stops the run right where it happened.
 */
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import type { RecorderError } from "../../Errors.js"
import type { RunResult } from "../../RunResult.js"
import { describeError } from "../json.js"
import * as Registry from "../registry.js"
import type { RunState } from "../runState.js"
import { cancelledResult, finishFailed, recordCancelled } from "./finish.js"
import { withHeartbeat } from "./heartbeat.js"

/** A defect in the body ends the run `error` (`internal`); a failure (a `RecorderError`) halts it as it is. */
const guard = (state: RunState, body: Effect.Effect<RunResult, RecorderError>, options: SegmentOptions) =>
  body.pipe(
    // Every way a segment ends commits; this one catches anything a path left staged before its result.
    Effect.zipLeft(state.bus.commit),
    Effect.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) return Effect.fail(failure.value)
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      return finishFailed(state, { tag: "Defect", message: describeError(Cause.squash(cause)) }, "internal")
    }),
    Effect.onInterrupt(() => {
      const requested = Registry.cancelRequested(state.bus.runId)
      // A fleet run interrupted because its shard moved stays `running`: another runner continues it.
      if (!requested && options.leaveRunningOnInterrupt === true) return Effect.void
      return Effect.ignore(recordCancelled(state, requested ? "cancel_requested" : "interrupted"))
    })
  )

/** How a segment treats an interruption of its fiber. */
export interface SegmentOptions {
  /** An interruption that is no cancellation records nothing (the run stays `running` for another process). */
  readonly leaveRunningOnInterrupt?: boolean | undefined
}

/** Runs a segment's body to its result; an in-process cancellation yields the cancelled result. */
export const runSegment = (
  state: RunState,
  body: Effect.Effect<RunResult, RecorderError>,
  options: SegmentOptions = {}
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    const runId = state.bus.runId
    const child = yield* Effect.fork(withHeartbeat(state, guard(state, body, options)))
    Registry.register(runId, child)
    let cancelled = false
    const exit = yield* Fiber.await(child).pipe(
      Effect.tap(() => Effect.sync(() => (cancelled = Registry.cancelRequested(runId)))),
      Effect.ensuring(Effect.sync(() => Registry.unregister(runId, child)))
    )
    if (Exit.isSuccess(exit)) return exit.value
    if (Cause.isInterruptedOnly(exit.cause) && cancelled) return cancelledResult(state)
    return yield* Effect.failCause(exit.cause)
  })
