/**
 * Tagged errors of the RunStore, matchable with `Effect.catchTag` (or `err._tag` on the Promise client).
 * `RunNotFound` is the runtime's own error and `MigrationsPending` the recorder's: one error per condition
 * across the packages.
 */
import { Schema } from "effect"

/** No run with this id is visible (it does not exist, or it belongs to a tenant outside the scope). */
export { RunNotFound } from "@sextant/runtime"

/** The database has no Sextant schema, or an older one: the message says how to migrate it. */
export { MigrationsPending } from "@sextant/recorder"

/** A query argument is malformed or out of range; `field` is its path (`limit`, `metadata.team`, `runId`). */
export class InvalidQuery extends Schema.TaggedError<InvalidQuery>()("InvalidQuery", {
  field: Schema.String,
  message: Schema.String
}) {}

/** No run of this thread is visible (there is none, or the thread belongs to a tenant outside the scope). */
export class ThreadNotFound extends Schema.TaggedError<ThreadNotFound>()("ThreadNotFound", {
  threadId: Schema.String,
  message: Schema.String
}) {}

/** The database failed, or a row could not be decoded; `cause` holds the underlying error. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** The SQLite file of a read-only store does not exist (a store never creates one); `path` is the file. */
export class DatabaseNotFound extends Schema.TaggedError<DatabaseNotFound>()("DatabaseNotFound", {
  path: Schema.String,
  message: Schema.String
}) {}

/** The URL's database driver (an optional peer dependency) is not installed: the message names what to install. */
export { DriverNotInstalled } from "@sextant/recorder"
