/**
 * Tagged errors of the detectors, matchable with `Effect.catchTag`.
 */
import { Schema } from "effect"

/** A detector configuration is invalid: `path` names the setting (`agents.search.TOOL_LOOP.window`). */
export class DetectorConfigError extends Schema.TaggedError<DetectorConfigError>()("DetectorConfigError", {
  path: Schema.String,
  message: Schema.String
}) {}

/** Reading runs or writing signals failed; `cause` holds the database error. */
export class SignalStoreError extends Schema.TaggedError<SignalStoreError>()("SignalStoreError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** No stored signal has this id. */
export class SignalNotFound extends Schema.TaggedError<SignalNotFound>()("SignalNotFound", {
  signalId: Schema.String,
  message: Schema.String
}) {}
