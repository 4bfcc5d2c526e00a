/**
 * The versioned migration set, one for SQLite and Postgres, applied with `@effect/sql`'s Migrator
 * (bookkeeping table `sextant_migrations`). SQLite databases migrate when opened; Postgres databases are
 * migrated explicitly with `Migrations.run` or the package's `sextant-migrate <url>` command.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import { Effect } from "effect"
import { MigrationsPending } from "./Errors.js"
import init from "./internal/migrations/0001_init.js"
import resume from "./internal/migrations/0002_resume.js"
import contract from "./internal/migrations/0003_contract.js"
import usageDaily from "./internal/migrations/0004_usage_daily.js"
import failureSignals from "./internal/migrations/0005_failure_signals.js"
import threads from "./internal/migrations/0006_threads.js"
import streamChunks from "./internal/migrations/0007_stream_chunks.js"
import requestDeltas from "./internal/migrations/0008_request_deltas.js"
import { backfillSql } from "./internal/rollup.js"

/** The bookkeeping table of applied migrations. */
export const table = "sextant_migrations"

const loader = Migrator.fromRecord({
  "0001_init": init,
  "0002_resume": resume,
  "0003_contract": contract,
  "0004_usage_daily": usageDaily,
  "0005_failure_signals": failureSignals,
  "0006_threads": threads,
  "0007_stream_chunks": streamChunks,
  "0008_request_deltas": requestDeltas
})

/** The newest migration id this version of the recorder needs. */
export const latest = 8

/** Applies the migrations not yet applied; returns the `[id, name]` pairs it applied. */
export const run: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
  Migrator.MigrationError | SqlError.SqlError,
  SqlClient.SqlClient
> = Migrator.make({})({ loader, table })

/** The newest migration id applied to the database (0 when none is). */
export const applied: Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const exists = yield* sql.onDialectOrElse({
    pg: () => sql<{ name: string | null }>`SELECT to_regclass(${table})::text AS name`,
    orElse: () => sql<{ name: string | null }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ${table}`
  })
  if (exists.length === 0 || exists[0]!.name === null) return 0
  const rows = yield* sql<{ id: number | string | null }>`SELECT MAX(migration_id) AS id FROM ${sql(table)}`
  return Number(rows[0]?.id ?? 0)
})

/** Succeeds when every migration is applied; otherwise fails with `MigrationsPending` saying how to migrate. */
export const check: Effect.Effect<void, MigrationsPending | SqlError.SqlError, SqlClient.SqlClient> = Effect.flatMap(
  applied,
  (id) =>
    id >= latest ? Effect.void : Effect.fail(
      new MigrationsPending({
        applied: id,
        latest,
        message: `the database schema is at migration ${id}, this recorder needs ${latest}: ` +
          "run `npx sextant migrate --database-url <database-url>` (or `Migrations.run` with a SqlClient) before starting the recorder"
      })
    )
)

/**
 * Recomputes the per-day usage rollup (`usage_daily`) from `token_usage` in one transaction: for rows written
 * around the recorder (a bulk import, a manual correction). The recorder keeps it in step by itself.
 */
export const rebuildUsageRollup: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    yield* sql.withTransaction(
      Effect.zipRight(sql.unsafe("DELETE FROM usage_daily"), sql.unsafe(backfillSql(pg)))
    )
  }
)
