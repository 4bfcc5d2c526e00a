/**
 * @sextant/trace: record agents not built on Sextant's loop, in process (`Trace`) and from other processes
 * (`Ingest` on the receiving side, `Remote` on the sending side).
 */
/** Tagged errors. */
export * from "./Errors.js"
/** The durable ingest endpoint. */
export * as Ingest from "./Ingest.js"
/** The recorder that sends to an ingest endpoint. */
export * as Remote from "./Remote.js"
/** Manual instrumentation (Effect and Promise). */
export * as Trace from "./Trace.js"
