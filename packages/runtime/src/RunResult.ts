/**
 * What a run returns to its caller.
 */
import type { FailureReason, Json, RunStatus, Usage } from "./HookEvent.js"

/** A call a paused run waits on. */
export interface PendingCall {
  readonly id: string
  readonly providerCallId?: string
  readonly name: string
  readonly arguments: Json
  readonly target: "server" | "client"
}

/** The outcome of a run (or of a resumed segment). A run that ended in `error` is a result, not a failure. */
export interface RunResult<A = unknown> {
  readonly runId: string
  readonly status: RunStatus
  /** The final answer (on `success`). */
  readonly answer?: string
  /** The answer decoded with the run's `output` Schema (on `success` of a run that has one). */
  readonly output?: A
  /** Model calls made by the run so far. */
  readonly iterations: number
  /** Token totals; `costUsd` only when every model call had a known cost. */
  readonly usage: Usage
  /** Why the run ended in `error`. */
  readonly error?: { readonly tag: string; readonly message: string; readonly failureReason: FailureReason }
  /** What a paused run waits on. */
  readonly pendingCalls?: ReadonlyArray<PendingCall>
}

/** A client tool's result for `submitToolResults`: `result` on success, `error` on failure. */
export interface ToolResultSubmission {
  readonly callId: string
  readonly result?: Json
  readonly error?: string
}

/** The outcome of `cancelRun`. */
export interface CancelResult {
  readonly runId: string
  /** `cancelled`; the terminal status of a run that had already ended; or `running` for a run in another process, which stops at its next step. */
  readonly status: RunStatus
  readonly cancelled: boolean
}
