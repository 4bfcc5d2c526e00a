/**
 * Operations on recorded runs that need no agent definition.
 */
import type { Effect, Stream } from "effect"
import type { RecorderError, RunNotFound } from "./Errors.js"
import * as Cancel from "./internal/cancel.js"
import * as Follow from "./internal/streams/follow.js"
import type { Recorder } from "./Recorder.js"
import type { RunLedger } from "./RunLedger.js"
import type { CancelResult } from "./RunResult.js"
import type { StreamEvent } from "./StreamEvent.js"

/**
 * Cancels a run: a paused run at once, one executing in this process at its current model or tool call
 * (interruptible work stops), one in another process at its next step. A finished run is left as it is.
 */
export const cancelRun: (
  runId: string
) => Effect.Effect<CancelResult, RunNotFound | RecorderError, Recorder | RunLedger> = Cancel.cancelRun

/**
 * Attaches to a run executing in this process: its events (recorded events and deltas, as `agent.stream`
 * yields them) from now to the end of the current segment (terminal event or pause). A run not executing
 * here fails `RunNotFound`.
 */
export const follow: (runId: string) => Stream.Stream<StreamEvent, RunNotFound> = Follow.follow
