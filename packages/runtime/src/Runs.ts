/**
 * Operations on recorded runs that need no agent definition.
 */
import type { Effect } from "effect"
import type { RecorderError, RunNotFound } from "./Errors.js"
import * as Cancel from "./internal/cancel.js"
import type { Recorder } from "./Recorder.js"
import type { RunLedger } from "./RunLedger.js"
import type { CancelResult } from "./RunResult.js"

/**
 * Cancels a run: a paused run at once, one executing in this process at its current model or tool call
 * (interruptible work stops), one in another process at its next step. A finished run is left as it is.
 */
export const cancelRun: (
  runId: string
) => Effect.Effect<CancelResult, RunNotFound | RecorderError, Recorder | RunLedger> = Cancel.cancelRun
