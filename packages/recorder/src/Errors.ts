/**
 * Tagged errors of the recorder package a caller can match on with `Effect.catchTag`.
 */
import { Schema } from "effect"

/** The accepted forms of a database URL, as listed in `DatabaseUrlError`. */
export const acceptedUrlForms: ReadonlyArray<string> = [
  "sqlite:./path/to/file.db",
  "sqlite:/absolute/path.db",
  "sqlite::memory:",
  "postgres://user:password@host:5432/database",
  "postgresql://user:password@host:5432/database"
]

/** A database URL is not one of the accepted forms; the message lists them. */
export class DatabaseUrlError extends Schema.TaggedError<DatabaseUrlError>()("DatabaseUrlError", {
  url: Schema.String,
  message: Schema.String
}) {}

/** The database's schema is older than this recorder needs; the message says how to migrate it. */
export class MigrationsPending extends Schema.TaggedError<MigrationsPending>()("MigrationsPending", {
  applied: Schema.Number,
  latest: Schema.Number,
  message: Schema.String
}) {}
