/**
 * How a segment ends: completed, failed, cancelled. Each records its terminal event and returns the result
 * the caller gets.
 */
import { Effect, Option } from "effect"
import type { RecorderError } from "../../Errors.js"
import type { FailureReason, Json } from "../../HookEvent.js"
import type { RunResult } from "../../RunResult.js"
import type { RunState } from "../runState.js"
import { restore } from "../sanitize.js"

/** Records `run.completed` (`success` with the answer, or `max_iterations`) and returns the result. */
export const finish = (
  state: RunState,
  status: "success" | "max_iterations",
  answer: string | undefined,
  output?: { readonly recorded: Json; readonly value: unknown }
): Effect.Effect<RunResult, RecorderError> => {
  const fields = { status, iterations: state.iterations, usage: state.totals.usage }
  const recorded = output === undefined ? {} : { output: output.recorded }
  return Effect.as(
    state.bus.emit(
      { _tag: "RunCompleted", ...fields, ...(answer === undefined ? {} : { answer }), ...recorded },
      state.iterations
    ),
    // The caller gets real values back in place of placeholders; the record keeps the placeholders.
    {
      runId: state.bus.runId,
      ...fields,
      ...(answer === undefined ? {} : { answer: restore(state, answer) }),
      ...(output === undefined ? {} : { output: output.value })
    }
  )
}

/** Records `run.failed` and returns the error result. */
export const finishFailed = (
  state: RunState,
  error: { readonly tag: string; readonly message: string },
  failureReason: Extract<
    FailureReason,
    "model" | "internal" | "budget" | "guardrail" | "output_invalid" | "interrupted"
  >
): Effect.Effect<RunResult, RecorderError> => {
  const usage = state.totals.usage
  return Effect.as(
    state.bus.emit({ _tag: "RunFailed", error, failureReason, iterations: state.iterations, usage }, state.iterations),
    {
      runId: state.bus.runId,
      status: "error",
      iterations: state.iterations,
      usage,
      error: { ...error, failureReason }
    }
  )
}

/** Ends the run because a guardrail blocked what it saw. */
export const blockedByGuardrail = (state: RunState, reason: string) =>
  finishFailed(state, { tag: "GuardrailBlocked", message: reason }, "guardrail")

/** The result of a cancelled run. */
export const cancelledResult = (state: RunState): RunResult => ({
  runId: state.bus.runId,
  status: "cancelled",
  iterations: state.iterations,
  usage: state.totals.usage
})

/** Records `run.cancelled` (`cancel_requested`, or `interrupted` when the run's fiber was interrupted). */
export const recordCancelled = (state: RunState, reason: "cancel_requested" | "interrupted") =>
  state.bus.emit(
    { _tag: "RunCancelled", reason, iterations: state.iterations, usage: state.totals.usage },
    state.iterations
  )

const notCancelled: Effect.Effect<Option.Option<RunResult>> = Effect.succeed(Option.none())

/**
 * Ends the run `cancelled` if someone asked for it (checked before each model call, tool batch and pause).
 * A failed check halts the run with its `RecorderError`, exactly as a failed write does. The check is no commit
 * point: what was staged since the last one is not written, and the record ends there.
 */
export const cancelIfRequested = (state: RunState): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
  const ledger = state.ledger
  if (ledger === undefined) return notCancelled
  return Effect.flatMap(
    ledger.isCancelRequested(state.bus.runId),
    (requested) =>
      requested
        ? Effect.as(recordCancelled(state, "cancel_requested"), Option.some(cancelledResult(state)))
        : notCancelled
  )
}
