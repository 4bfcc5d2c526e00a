/**
 * Real databases for tests: a fresh SQLite file in a temp dir, or a fresh Postgres database with a random
 * name on the server at `SEXTANT_TEST_PG_URL` (default `postgres://root@127.0.0.1:5432/test`), dropped
 * afterwards. Postgres tests never skip: an unreachable server fails them.
 */
import { Effect, type Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"

/** The Postgres server tests create their databases on. */
export const pgAdminUrl = process.env.SEXTANT_TEST_PG_URL ?? "postgres://root@127.0.0.1:5432/test"

const withDatabase = (url: string, database: string) => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

const admin = <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: pgAdminUrl })
  return client.connect().then(() => f(client)).finally(() => client.end())
}

/** Creates a Postgres database with a random name; resolves to its URL and a function that drops it. */
export const createPgDatabase = async (): Promise<{ readonly url: string; readonly drop: () => Promise<void> }> => {
  const name = `sextant_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  return {
    url: withDatabase(pgAdminUrl, name),
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined)
  }
}

/** A fresh Postgres database for the scope, dropped when it closes; yields its URL. */
export const pgDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(createPgDatabase),
  (db) => Effect.promise(db.drop)
).pipe(Effect.map((db) => db.url))

/** A fresh temp directory; resolves to its path and a function that removes it. */
export const createTempDir = (): { readonly path: string; readonly remove: () => void } => {
  const path = mkdtempSync(join(tmpdir(), "sextant-test-"))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** A `sqlite:` URL of a new file in a temp dir removed when the scope closes. */
export const sqliteDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(createTempDir),
  (dir) => Effect.sync(dir.remove)
).pipe(Effect.map((dir) => `sqlite:${join(dir.path, "test.db")}`))

/** A dialect under test: a fresh, migrated database URL for the scope. */
export interface Dialect {
  readonly name: "sqlite" | "postgres"
  readonly database: Effect.Effect<string, never, Scope.Scope>
}

/**
 * Both dialects. SQLite databases migrate when opened; Postgres databases are created on the real server and
 * migrated with `migrate` (the caller's `Migrations.run`: test-support cannot import the recorder it serves).
 */
export const makeDialects = (migrate: (url: string) => Effect.Effect<unknown>): ReadonlyArray<Dialect> => [
  { name: "sqlite", database: sqliteDatabase },
  { name: "postgres", database: Effect.tap(pgDatabase, migrate) }
]

/** A fresh database of a dialect for Promise-based suites: its URL, the SQLite file's directory, a cleanup. */
export interface FreshDatabase {
  readonly url: string
  /** The temp directory holding the SQLite file (undefined on Postgres). */
  readonly dir: string | undefined
  readonly drop: () => Promise<void>
}

/**
 * A fresh database of the dialect migrated with `migrate` (the caller's `Migrations.run`, as for
 * {@link makeDialects}): a `file` in a new temp dir on SQLite, a new database on the Postgres server. Both are
 * migrated here: a store opens read-only and never migrates.
 */
export const createDatabase = async (
  dialect: Dialect["name"],
  migrate: (url: string) => Effect.Effect<unknown>,
  file = "test.db"
): Promise<FreshDatabase> => {
  if (dialect === "sqlite") {
    const dir = createTempDir()
    const url = `sqlite:${join(dir.path, file)}`
    await Effect.runPromise(migrate(url)).catch((e) => {
      dir.remove()
      throw e
    })
    return { url, dir: dir.path, drop: async () => dir.remove() }
  }
  const db = await createPgDatabase()
  await Effect.runPromise(migrate(db.url)).catch(async (e) => {
    await db.drop()
    throw e
  })
  return { url: db.url, dir: undefined, drop: db.drop }
}
