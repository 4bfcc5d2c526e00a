/**
 * @sextant/trace: record agents not built on Sextant's loop, in process (`Trace`) and from other processes
 * (`Ingest`, `Remote`).
 */
/** Tagged errors. */
export * from "./Errors.js"
/** Manual instrumentation (Effect and Promise). */
export * as Trace from "./Trace.js"
