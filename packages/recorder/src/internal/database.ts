/**
 * The `SqlClient` of a database URL. Each dialect's driver (`@effect/sql-sqlite-node` and `better-sqlite3`,
 * `@effect/sql-pg` and `pg`) is an optional peer dependency, imported only when a URL of its scheme is opened
 * (`drivers.ts`); so are the Node modules only SQLite files need.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient, SqlError } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import { Context, Duration, Effect, Either, Layer } from "effect"
import type pg from "pg"
import type { DatabaseUrlError, DriverNotInstalled } from "../Errors.js"
import * as Migrations from "../Migrations.js"
import { track } from "./connections.js"
import * as Drivers from "./drivers.js"
import { parse, type Target } from "./url.js"

type PgModule = typeof import("@effect/sql-pg")
type SqliteModule = typeof import("@effect/sql-sqlite-node")
type PgDriver = typeof pg

/** Options of `Database.layerFromUrl`. */
export interface DatabaseOptions {
  /**
   * SQLite `synchronous`: "normal" (default: a process crash loses nothing committed, a power loss may lose the
   * last commits) or "full" (every commit is fsynced).
   */
  readonly synchronous?: "normal" | "full" | undefined
  /** SQLite busy timeout per statement in ms (default 100); longer waits are the recorder's non-blocking retries. */
  readonly busyTimeoutMs?: number | undefined
  /** Postgres pool size (default 10). */
  readonly maxConnections?: number | undefined
  /** Postgres `application_name` (default "sextant"). */
  readonly applicationName?: string | undefined
  /**
   * Opens SQLite read-only: the file must exist, nothing is created and nothing migrated (the RunStore's mode).
   * Postgres is opened as usual; a reader issues no writes.
   */
  readonly readOnly?: boolean | undefined
  /** Postgres: how long opening a connection may take (default 5 seconds). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * Postgres `statement_timeout`: the server cancels a statement running longer (default 30 seconds; 0 turns
   * it off). The recorder's own attempts are cut much sooner, client side (see the retry policy).
   */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /**
   * Postgres `idle_in_transaction_session_timeout`: the server ends a session left idle inside a transaction
   * (a client that went away) and releases its locks (default 30 seconds; 0 turns it off).
   */
  readonly idleInTransactionTimeout?: Duration.DurationInput | undefined
  /** Postgres: TCP keepalive on every connection, so a dead peer is noticed on idle connections (default true). */
  readonly keepAlive?: boolean | undefined
}

const INT8_OID = 20
const JSON_OID = 114
const JSONB_OID = 3802

// BIGINT and COUNT(*) come back from node-postgres as strings; token counts fit a double, so parse them. JSON and
// JSONB stay text, as SQLite returns them, so one decoder (Tables) reads both dialects the same way.
const pgTypesOf = (driver: PgDriver) => ({
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? (value: string) => Number(value)
      : oid === JSON_OID || oid === JSONB_OID
      ? (value: string) => value
      : driver.types.getTypeParser(oid, format as "text")) as never
})

/** Creates the parent directories of a SQLite file (node:fs, loaded only for SQLite files). */
const makeParentDirectory = (filename: string) =>
  Effect.tryPromise({
    try: async () => {
      const [fs, path] = await Promise.all([import("node:fs"), import("node:path")])
      fs.mkdirSync(path.dirname(filename), { recursive: true })
    },
    catch: (cause) => new SqlError.SqlError({ cause, message: `cannot create the directory of ${filename}` })
  })

const sqliteLayer = (filename: string, options: DatabaseOptions) => {
  const pragmas = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const busy = Math.max(0, Math.floor(options.busyTimeoutMs ?? 100))
      yield* sql.unsafe(`PRAGMA busy_timeout = ${busy}`)
      if (options.readOnly === true) return
      yield* sql.unsafe(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`)
      yield* sql.unsafe("PRAGMA foreign_keys = ON")
      // Cleared and overwritten content (pause states, submissions, pruned rows) is zeroed, not left in free pages.
      yield* sql.unsafe("PRAGMA secure_delete = ON")
      yield* Migrations.run
    })
  )
  const client = Layer.scopedContext(
    Effect.gen(function*() {
      const { SqliteClient } = yield* Drivers.load<SqliteModule>("sqlite", "@effect/sql-sqlite-node")
      if (filename !== ":memory:" && options.readOnly !== true) yield* makeParentDirectory(filename)
      // Opening a file that cannot be opened is a defect in the driver layer; make it a typed error.
      // Read-only: no WAL switch (a write); a database the recorder made is in WAL mode already.
      const readOnly = options.readOnly === true ? { readonly: true, disableWAL: true } : {}
      const made = yield* SqliteClient.make({ filename, ...readOnly }).pipe(
        Effect.catchAllDefect((cause) =>
          new SqlError.SqlError({ cause, message: `cannot open SQLite database ${filename}` })
        )
      )
      return Context.make(SqliteClient.SqliteClient, made).pipe(Context.add(SqlClient.SqlClient, made))
    })
  ).pipe(Layer.provide(Reactivity.layer))
  return pragmas.pipe(Layer.provideMerge(client))
}

// An infinite duration means "no limit", which Postgres spells 0.
const millis = (value: Duration.DurationInput | undefined, fallback: number) => {
  const ms = value === undefined ? fallback : Duration.toMillis(Duration.decode(value))
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : 0
}

/** Where a Postgres URL points, for messages (never the password). */
const describeTarget = (url: string) => {
  const u = new URL(url)
  const host = u.searchParams.get("host") ?? (decodeURIComponent(u.hostname) || "localhost")
  const database = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || "postgres"
  return {
    text: `${host}:${u.port || "5432"} (database "${database}", user "${decodeURIComponent(u.username) || "default"}")`,
    password: decodeURIComponent(u.password)
  }
}

/** Why a connection failed, naming the server, port, database and user, and the driver's cause; never the password. */
const connectError = (url: string, cause: unknown): SqlError.SqlError => {
  const target = describeTarget(url)
  const error = cause as { message?: unknown; code?: unknown } | undefined
  let detail = typeof error?.message === "string" && error.message !== "" ? error.message : String(cause)
  if (target.password !== "") detail = detail.split(target.password).join("***")
  const code = typeof error?.code === "string" ? ` (${error.code})` : ""
  return new SqlError.SqlError({
    cause,
    message: `cannot connect to Postgres at ${target.text}: ${detail}${code}`
  })
}

const pgLayer = (url: string, options: DatabaseOptions) =>
  Layer.unwrapEffect(
    Effect.all([
      Drivers.load<PgModule>("postgres", "@effect/sql-pg"),
      Effect.map(Drivers.load<unknown>("postgres", "pg"), (ns) => Drivers.defaultExport<PgDriver>(ns))
    ]).pipe(Effect.map(([{ PgClient }, driver]) => pgLayerWith(PgClient, driver, url, options)))
  )

/** A node-postgres pool as far as a reader needs it: named (prepared) statements. */
export interface PgQueryPool {
  readonly query: (config: {
    readonly name?: string | undefined
    readonly text: string
    readonly values: ReadonlyArray<unknown>
  }) => Promise<{ readonly rows: ReadonlyArray<unknown> }>
}

// The pool behind each Postgres client this module built (for readers that prepare their statements).
const pools = new WeakMap<SqlClient.SqlClient, PgQueryPool>()

/** The node-postgres pool behind a Postgres client built by `layerFromUrl`; undefined for any other client. */
export const pgPoolOf = (sql: SqlClient.SqlClient): PgQueryPool | undefined => pools.get(sql)

const pgLayerWith = (
  PgClient: PgModule["PgClient"],
  pg: PgDriver,
  url: string,
  options: DatabaseOptions
) => {
  const pgTypes = pgTypesOf(pg)
  const connectMs = millis(options.connectTimeout, 5_000)
  const acquire = Effect.acquireRelease(
    Effect.gen(function*() {
      const pool = new pg.Pool({
        connectionString: url,
        max: options.maxConnections ?? 10,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: connectMs,
        application_name: options.applicationName ?? "sextant",
        keepAlive: options.keepAlive ?? true,
        keepAliveInitialDelayMillis: 10_000,
        statement_timeout: millis(options.statementTimeout, 30_000),
        idle_in_transaction_session_timeout: millis(options.idleInTransactionTimeout, 30_000),
        types: pgTypes
      })
      // Errors of idle connections (a server restart, a destroyed connection) are handled where they are used.
      pool.on("error", () => undefined)
      track(pool)
      yield* Effect.tryPromise({ try: () => pool.query("SELECT 1"), catch: (cause) => connectError(url, cause) }).pipe(
        Effect.timeoutFail({
          duration: connectMs === 0 ? Duration.infinity : Duration.millis(connectMs + 1_000),
          // The cause is a plain record (as write.ts's no-reply cause): the failure itself is the SqlError.
          onTimeout: () => connectError(url, { message: `no answer within ${connectMs + 1_000} ms` })
        }),
        Effect.tapError(() => Effect.promise(() => pool.end().catch(() => undefined)))
      )
      return pool
    }),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined)).pipe(Effect.timeoutOption(1_000))
  )
  let built: PgQueryPool | undefined
  return PgClient.layerFromPool({
    acquire: Effect.tap(acquire, (pool) => Effect.sync(() => void (built = pool as unknown as PgQueryPool))),
    applicationName: options.applicationName ?? "sextant",
    types: pgTypes
  }).pipe(
    Layer.tap((context) =>
      Effect.sync(() => {
        if (built !== undefined) pools.set(Context.get(context, SqlClient.SqlClient), built)
      })
    )
  ) as Layer.Layer<SqlClient.SqlClient, SqlError.SqlError>
}

/** A `SqlClient` layer for a parsed target. */
export const layerFor = (
  target: Target,
  options: DatabaseOptions = {}
): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError | MigrationError | DriverNotInstalled> =>
  target._tag === "pg" ? pgLayer(target.url, options) : sqliteLayer(target.filename, options)

/** A `SqlClient` layer for a URL. */
export const layerFromUrl = (
  url: string,
  options: DatabaseOptions = {}
): Layer.Layer<SqlClient.SqlClient, DatabaseUrlError | SqlError.SqlError | MigrationError | DriverNotInstalled> => {
  const target = parse(url)
  return Either.isLeft(target) ? Layer.fail(target.left) : layerFor(target.right, options)
}
