/**
 * The store only reads: it opens SQLite read-only (a mistyped path is an error, never a new empty database),
 * never migrates, and says how to migrate a database that lacks the Sextant schema, on both dialects.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Database, Migrations, SqlRecorder } from "@sextant/recorder"
import { Effect, Layer, ManagedRuntime } from "effect"
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { RunStore } from "../src/index.js"
import { runAgent, toolThenAnswer } from "./support.js"

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e)

describe("RunStore is read-only", () => {
  it("a SQLite path that does not exist is DatabaseNotFound, and no file is created", async () => {
    const dir = createTempDir()
    try {
      const path = join(dir.path, "typo", "runs.db")
      const error = await rejection(RunStore.fromDatabaseUrl(`sqlite:${path}`))
      expect(error).toMatchObject({ _tag: "DatabaseNotFound", path })
      expect((error as Error).message).toContain("no SQLite database at")
      expect(existsSync(path)).toBe(false)
      expect(existsSync(join(dir.path, "typo"))).toBe(false)
      const sibling = join(dir.path, "runs.db")
      expect(await rejection(RunStore.fromDatabaseUrl(`sqlite:${sibling}`))).toMatchObject({ _tag: "DatabaseNotFound" })
      expect(existsSync(sibling)).toBe(false)
      expect(await rejection(RunStore.fromDatabaseUrl("sqlite::memory:"))).toMatchObject({ _tag: "DatabaseNotFound" })
    } finally {
      dir.remove()
    }
  })

  it("a SQLite file without the Sextant schema is MigrationsPending naming the migrate command, and stays unmigrated", async () => {
    const dir = createTempDir()
    try {
      const path = join(dir.path, "empty.db")
      writeFileSync(path, "")
      const error = await rejection(RunStore.fromDatabaseUrl(`sqlite:${path}`))
      expect(error).toMatchObject({ _tag: "MigrationsPending", applied: 0, latest: Migrations.latest })
      expect((error as Error).message).toBe(
        `this database has no Sextant schema (migration 0 of ${Migrations.latest}): run ` +
          `\`npx sextant migrate --database-url sqlite:${path}\` (the RunStore reads only; it never migrates)`
      )
      const applied = await Effect.runPromise(
        Migrations.applied.pipe(Effect.provide(Database.layerFromUrl(`sqlite:${path}`, { readOnly: true })))
      )
      expect(applied).toBe(0)
    } finally {
      dir.remove()
    }
  })

  it("a SQLite database behind the newest migration says which migration it is at", async () => {
    const dir = createTempDir()
    const url = `sqlite:${join(dir.path, "old.db")}`
    try {
      await Effect.runPromise(
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`DELETE FROM sextant_migrations WHERE migration_id = ${Migrations.latest}`
        }).pipe(Effect.provide(Database.layerFromUrl(url)), Effect.orDie)
      )
      const error = await rejection(RunStore.fromDatabaseUrl(url))
      // The migration before the newest (ids may skip numbers reserved for migrations of other branches).
      const applied = (error as { applied: number }).applied
      expect(error).toMatchObject({ _tag: "MigrationsPending" })
      expect(applied).toBeGreaterThan(0)
      expect(applied).toBeLessThan(Migrations.latest)
      expect((error as Error).message).toContain(`schema is at migration ${applied} of ${Migrations.latest}`)
    } finally {
      dir.remove()
    }
  })

  it("an unmigrated Postgres database is MigrationsPending when the store is made, not on every query", async () => {
    const db = await createPgDatabase()
    try {
      const error = await rejection(RunStore.fromDatabaseUrl(db.url))
      expect(error).toMatchObject({ _tag: "MigrationsPending", applied: 0 })
      expect((error as Error).message).toContain("this database has no Sextant schema (migration 0 of")
      expect((error as Error).message).toContain("npx sextant migrate --database-url postgres://")
      const layered = await Effect.runPromise(
        Effect.flip(Layer.build(RunStore.layer.pipe(Layer.provide(Database.layerFromUrl(db.url))))).pipe(
          Effect.scoped
        )
      )
      expect(layered).toMatchObject({ _tag: "MigrationsPending" })
    } finally {
      await db.drop()
    }
  })

  it("a read-only store over a SQLite file sees what a recorder writes while it is open", async () => {
    const dir = createTempDir()
    const url = `sqlite:${join(dir.path, "live.db")}`
    const recorder = ManagedRuntime.make(SqlRecorder.layerFromUrl(url).pipe(Layer.orDie))
    try {
      await recorder.runPromise(runAgent("first", toolThenAnswer("one")))
      const store = await RunStore.fromDatabaseUrl(url)
      try {
        expect((await store.listRuns()).total).toBe(1)
        await recorder.runPromise(runAgent("second", toolThenAnswer("two")))
        expect((await store.listRuns()).items.map((r) => r.agentName)).toEqual(["second", "first"])
      } finally {
        await store.close()
      }
    } finally {
      await recorder.dispose()
      dir.remove()
    }
  })
})
