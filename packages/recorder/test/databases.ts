/**
 * test-support's fresh real databases with the recorder's migrations applied: both dialects as scoped
 * Effects, and Promise-based fresh databases. The one place every package's tests get a migrated database
 * from (test-support cannot import the recorder it serves).
 */
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { createDatabase, type Dialect, type FreshDatabase, makeDialects } from "../../../test-support/databases.js"
import { Database, Migrations } from "../src/index.js"

export type { Dialect, FreshDatabase }

/** Migrates the database at `url` (dies on failure: a test database that cannot migrate is a broken test). */
export const migrate = (url: string): Effect.Effect<void> =>
  Migrations.run.pipe(Effect.provide(Database.layerFromUrl(url)), Effect.asVoid, Effect.orDie)

/** Both dialects; Postgres databases are created on the real server and migrated. */
export const dialects = makeDialects(migrate)

/** The dialect of that name. */
export const dialectNamed = (name: Dialect["name"]): Dialect => dialects.find((d) => d.name === name)!

/** A fresh, migrated database of the dialect (SQLite: `file` in a new temp dir); resolves to its URL and a cleanup. */
export const freshDatabase = (dialect: Dialect["name"], file?: string): Promise<FreshDatabase> =>
  createDatabase(dialect, migrate, file)

/**
 * A fresh, migrated database for the whole test file: made before its first test, removed after its last. The
 * returned object's `url` is set once the file's tests run.
 */
export const databaseForFile = (dialect: Dialect["name"]): { readonly url: string } => {
  let db: FreshDatabase | undefined
  beforeAll(async () => {
    db = await freshDatabase(dialect)
  }, 60_000)
  afterAll(async () => {
    await db?.drop()
  }, 30_000)
  return {
    get url() {
      if (db === undefined) throw new Error("databaseForFile: the database exists only while the file's tests run")
      return db.url
    }
  }
}
