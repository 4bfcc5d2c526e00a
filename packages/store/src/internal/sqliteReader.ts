/**
 * The store's own read-only SQLite connection (better-sqlite3), every statement prepared once. A read through
 * `@effect/sql` costs more than the statement itself on the list's hot path (a span, the connection's
 * semaphore, a prepare-cache lookup that hashes the SQL text: ~50 µs a statement, against ~10 µs for an
 * unfiltered count), so a store that opens the database itself reads through this instead. The statements are
 * still built and compiled by `@effect/sql`; only their execution moves. WAL lets this connection read while a
 * recorder's connection writes.
 */
import { SqlError, type Statement } from "@effect/sql"
import { Database, type DriverNotInstalled } from "@sextant/recorder"
import { Effect, type Scope } from "effect"

interface Prepared {
  readonly reader: boolean
  readonly all: (...params: ReadonlyArray<unknown>) => Array<unknown>
}
interface Connection {
  readonly prepare: (sql: string) => Prepared
  readonly close: () => void
}
type Driver = new(
  filename: string,
  options: { readonly readonly: true; readonly fileMustExist: true; readonly timeout: number }
) => Connection

/** Executes compiled statements on the store's connection. */
export interface Reader {
  /** The rows of a statement (built with the client's `sql`, compiled for SQLite). */
  readonly rows: <A>(statement: Statement.Statement<A>) => Effect.Effect<ReadonlyArray<A>, SqlError.SqlError>
}

// Distinct statement texts the store issues are few (one per filter shape); a bound keeps a caller that varies
// them (many `status` lists) from growing the cache without end.
const MAX_PREPARED = 500

/** Opens `filename` read-only for the scope (the file must exist: the store never creates one). */
export const open = (
  filename: string,
  busyTimeoutMs = 100
): Effect.Effect<Reader, SqlError.SqlError | DriverNotInstalled, Scope.Scope> =>
  // The driver of @effect/sql-sqlite-node: an optional peer, imported only for a SQLite URL.
  Effect.flatMap(Database.importDriver<unknown>("sqlite", "better-sqlite3"), (namespace) =>
    Effect.acquireRelease(
      Effect.try({
        try: () => {
          const Sqlite = ((namespace as { default?: unknown }).default ?? namespace) as Driver
          return new Sqlite(filename, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs })
        },
        catch: (cause) => new SqlError.SqlError({ cause, message: `cannot open SQLite database ${filename}` })
      }),
      (db) => Effect.sync(() => db.close())
    ).pipe(Effect.map((db): Reader => {
      const prepared = new Map<string, Prepared>()
      const prepare = (sql: string) => {
        let statement = prepared.get(sql)
        if (statement === undefined) {
          if (prepared.size >= MAX_PREPARED) prepared.clear()
          statement = db.prepare(sql)
          prepared.set(sql, statement)
        }
        return statement
      }
      return {
        rows: <A>(statement: Statement.Statement<A>) =>
          Effect.suspend(() => {
            try {
              const [sql, params] = statement.compile()
              return Effect.succeed(prepare(sql).all(...params) as ReadonlyArray<A>)
            } catch (cause) {
              return Effect.fail(new SqlError.SqlError({ cause, message: "Failed to execute statement" }))
            }
          })
      }
    })))
