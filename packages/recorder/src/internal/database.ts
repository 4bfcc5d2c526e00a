import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient, SqlError } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type { MigrationError } from "@effect/sql/Migrator"
import { Context, Effect, Either, Layer, Redacted } from "effect"
import { mkdirSync } from "node:fs"
import { dirname } from "node:path"
import pg from "pg"
import type { DatabaseUrlError } from "../Errors.js"
import * as Migrations from "../Migrations.js"
import { parse, type Target } from "./url.js"

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
}

const INT8_OID = 20

// BIGINT and COUNT(*) come back from node-postgres as strings; token counts fit a double, so parse them.
const pgTypes = {
  getTypeParser:
    ((oid: number, format?: "text" | "binary") =>
      oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as never
}

const sqliteLayer = (filename: string, options: DatabaseOptions) => {
  const pragmas = Layer.effectDiscard(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const busy = Math.max(0, Math.floor(options.busyTimeoutMs ?? 100))
      yield* sql.unsafe(`PRAGMA busy_timeout = ${busy}`)
      if (options.readOnly === true) return
      yield* sql.unsafe(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`)
      yield* sql.unsafe("PRAGMA foreign_keys = ON")
      yield* Migrations.run
    })
  )
  const client = Layer.scopedContext(
    Effect.gen(function*() {
      if (filename !== ":memory:" && options.readOnly !== true) {
        yield* Effect.try({
          try: () => mkdirSync(dirname(filename), { recursive: true }),
          catch: (cause) => new SqlError.SqlError({ cause, message: `cannot create the directory of ${filename}` })
        })
      }
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

const pgLayer = (url: string, options: DatabaseOptions) =>
  PgClient.layer({
    url: Redacted.make(url),
    maxConnections: options.maxConnections ?? 10,
    idleTimeout: "30 seconds",
    connectTimeout: "5 seconds",
    applicationName: options.applicationName ?? "sextant",
    types: pgTypes
  })

/** A `SqlClient` layer for a parsed target. */
export const layerFor = (
  target: Target,
  options: DatabaseOptions = {}
): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError | MigrationError> =>
  target._tag === "pg" ? pgLayer(target.url, options) : sqliteLayer(target.filename, options)

/** A `SqlClient` layer for a URL. */
export const layerFromUrl = (
  url: string,
  options: DatabaseOptions = {}
): Layer.Layer<SqlClient.SqlClient, DatabaseUrlError | SqlError.SqlError | MigrationError> => {
  const target = parse(url)
  return Either.isLeft(target) ? Layer.fail(target.left) : layerFor(target.right, options)
}
