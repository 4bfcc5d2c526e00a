/** The run being traced in the current fiber (one per process, even if this module is loaded twice). */
import { FiberRef, GlobalValue } from "effect"
import type { TraceRun } from "../Trace.js"

/** The active traced run of a fiber; a run started while one is active becomes its child. */
export const currentRun: FiberRef.FiberRef<TraceRun | undefined> = GlobalValue.globalValue(
  Symbol.for("@sextant/trace/currentRun"),
  () => FiberRef.unsafeMake<TraceRun | undefined>(undefined)
)
