/**
 * Tagged errors of the RunStore, matchable with `Effect.catchTag`.
 */
import { Schema } from "effect"

/** No run with this id is visible (it does not exist, or it belongs to a tenant outside the scope). */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  runId: Schema.String,
  message: Schema.String
}) {}

/** A query argument is malformed or out of range; `field` names it. */
export class InvalidQuery extends Schema.TaggedError<InvalidQuery>()("InvalidQuery", {
  field: Schema.String,
  message: Schema.String
}) {}

/** The database failed, or a row could not be decoded; `cause` holds the underlying error. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
