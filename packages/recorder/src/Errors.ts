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

/** The npm packages each database needs, as `DriverNotInstalled` names them. */
export const driverPackages: {
  readonly sqlite: ReadonlyArray<string>
  readonly postgres: ReadonlyArray<string>
} = {
  sqlite: ["better-sqlite3", "@effect/sql-sqlite-node"],
  postgres: ["pg", "@effect/sql-pg"]
}

/**
 * The driver of the URL's database is not installed (drivers are optional peer dependencies, loaded only for
 * their URL scheme); the message names the packages to install. `missing` is the package that was not found.
 */
export class DriverNotInstalled extends Schema.TaggedError<DriverNotInstalled>()("DriverNotInstalled", {
  dialect: Schema.Literal("sqlite", "postgres"),
  packages: Schema.Array(Schema.String),
  missing: Schema.String,
  message: Schema.String
}) {}

/** A `Sweep.run` option is not usable; `field` names it and the message says what to pass. */
export class SweepOptionsError extends Schema.TaggedError<SweepOptionsError>()("SweepOptionsError", {
  field: Schema.String,
  message: Schema.String
}) {}
