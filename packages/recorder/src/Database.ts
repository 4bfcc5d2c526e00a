/**
 * A `SqlClient` from a database URL: `sqlite:./path.db`, `sqlite::memory:`, `postgres://…` or
 * `postgresql://…`. SQLite files get their parent directories created, WAL mode, a short busy timeout,
 * foreign keys on, `synchronous=NORMAL` (or `FULL`) and the migrations applied on open (with `readOnly`, the
 * file must exist and is neither created nor migrated: the RunStore's mode). Postgres databases
 * are migrated explicitly (`Migrations.run`, `npx sextant-migrate <url>`); BIGINT values are parsed to numbers.
 * Each dialect's driver is an optional peer dependency, imported only for a URL of its scheme: without it,
 * opening fails with `DriverNotInstalled`, whose message names the packages to install.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import type { Effect, Either, Layer } from "effect"
import type { DatabaseUrlError, DriverNotInstalled } from "./Errors.js"
import * as internal from "./internal/database.js"
import * as Drivers from "./internal/drivers.js"
import * as url from "./internal/url.js"
import * as Write from "./internal/write.js"

/** Options of `layerFromUrl`. */
export type DatabaseOptions = internal.DatabaseOptions

/** Where a database URL points: a SQLite file (or `:memory:`) or a Postgres server. */
export type Target = url.Target

/** Parses a database URL, or fails with a `DatabaseUrlError` that lists the accepted forms. */
export const parseUrl: (databaseUrl: string) => Either.Either<Target, DatabaseUrlError> = url.parse

/** The URL with its password replaced by `***`, for logs and messages. */
export const redactUrl: (databaseUrl: string) => string = url.redact

/** A `SqlClient` layer for a database URL (SQLite migrates on open). */
export const layerFromUrl: (
  databaseUrl: string,
  options?: DatabaseOptions
) => Layer.Layer<
  SqlClient.SqlClient,
  DatabaseUrlError | SqlError.SqlError | MigrationError | DriverNotInstalled
> = internal.layerFromUrl

/** A node-postgres pool as far as a reader needs it (named, i.e. prepared, statements). */
export type PgQueryPool = internal.PgQueryPool

/**
 * The node-postgres pool behind a Postgres client built by `layerFromUrl` (undefined for any other client): the
 * RunStore runs its reads on it as named statements, planned once per connection.
 */
export const pgPoolOf: (sql: SqlClient.SqlClient) => PgQueryPool | undefined = internal.pgPoolOf

/**
 * Imports one of a dialect's driver packages (for packages that open their own connections, as the RunStore
 * does), or fails with `DriverNotInstalled` naming the packages to install.
 */
export const importDriver: <A>(
  dialect: "sqlite" | "postgres",
  specifier: string
) => Effect.Effect<A, DriverNotInstalled | SqlError.SqlError> = Drivers.load

/**
 * The Postgres channel the recorder notifies on every commit of run events (`LISTEN sextant_events`; a
 * channel is per database). The payload is `<last sequence index>:<stored run id>`, one per run of the commit.
 */
export const eventsChannel: string = Write.EVENTS_CHANNEL

/** An events notification's stored run id and last committed sequence index; undefined for any other payload. */
export const parseEventsPayload = (
  payload: string
): { readonly runKey: string; readonly sequenceIndex: number } | undefined => {
  const colon = payload.indexOf(":")
  if (colon <= 0) return undefined
  const head = payload.slice(0, colon)
  if (!/^\d+$/.test(head)) return undefined
  return { runKey: payload.slice(colon + 1), sequenceIndex: Number(head) }
}
