/**
 * Tagged errors of the tracing API and the ingest endpoint, matchable with `Effect.catchTag` (or `err._tag`
 * from the Promise API). A failed write is the runtime's own `RecorderError`: one error per condition.
 */
import { Schema } from "effect"

/** A write to the record failed (fail-closed): the run stops where it was; the host decides what to do. */
export { RecorderError } from "@sextant/runtime"

/**
 * A tracing call was refused before anything was recorded: `reason` says why (`ended`: the run already has
 * its terminal event; `invalid`: an argument is malformed, `field` names it).
 */
export class TraceError extends Schema.TaggedError<TraceError>()("TraceError", {
  runId: Schema.String,
  reason: Schema.Literal("ended", "invalid"),
  field: Schema.optional(Schema.String),
  message: Schema.String
}) {}

/** The ingest endpoint refused a batch (or could not be reached): `status` is the HTTP status, `body` its answer. */
export class IngestError extends Schema.TaggedError<IngestError>()("IngestError", {
  status: Schema.Number,
  reason: Schema.Literal("invalid", "unauthorized", "forbidden", "conflict", "too_large", "unavailable", "transport"),
  message: Schema.String,
  body: Schema.optional(Schema.Unknown)
}) {}

/** A tracing or exporter setting is malformed (`setting` names it); thrown by the constructor, before any run. */
export class TraceConfigError extends Schema.TaggedError<TraceConfigError>()("TraceConfigError", {
  setting: Schema.String,
  message: Schema.String
}) {}
