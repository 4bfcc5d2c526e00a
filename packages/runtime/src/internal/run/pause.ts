/**
 * Pausing a run: `run.paused` carries the execution state a resume needs (for the recorder only), and the
 * caller gets the calls the run waits on.
 */
import { Effect, Option } from "effect"
import type { RecorderError } from "../../Errors.js"
import type { PausedStatus, ToolCallRef } from "../../HookEvent.js"
import type { PendingCall, RunResult } from "../../RunResult.js"
import { type Batch, type RunState, toPause } from "../runState.js"
import { restore } from "../sanitize.js"
import { cancelIfRequested } from "./finish.js"

const pendingCall = (state: RunState, call: ToolCallRef): PendingCall => ({
  id: call.id,
  ...(call.providerCallId === undefined ? {} : { providerCallId: call.providerCallId }),
  name: call.name,
  arguments: call.arguments,
  target: state.agent.toolsByName.get(call.name)?.target ?? "server"
})

/** Records `run.paused` with the execution state a resume needs (unless the run was cancelled first). */
export const pause = (
  state: RunState,
  status: PausedStatus,
  batch: Batch,
  pending: ReadonlyArray<ToolCallRef>,
  prompt: string | undefined
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    const cancelled = yield* cancelIfRequested(state)
    if (Option.isSome(cancelled)) return cancelled.value
    const pendingCalls = pending.map((c) => pendingCall(state, c))
    const saved = toPause(state, status, batch, pending.map((c) => c.id))
    yield* state.bus.emit(
      { _tag: "RunPaused", status, pendingCalls, state: saved, ...(prompt === undefined ? {} : { prompt }) },
      state.iterations
    )
    return {
      runId: state.bus.runId,
      status,
      iterations: state.iterations,
      usage: state.totals.usage,
      // The caller executes client calls: it gets real values in place of placeholders.
      pendingCalls: pendingCalls.map((c) => ({ ...c, arguments: restore(state, c.arguments) }))
    }
  })
