/**
 * The versioned migration set, one for SQLite and Postgres, applied with `@effect/sql`'s Migrator
 * (bookkeeping table `sextant_migrations`). SQLite databases migrate when opened; Postgres databases are
 * migrated explicitly with `Migrations.run` or `npm run migrate -- <url>`.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import * as Migrator from "@effect/sql/Migrator"
import type { Effect } from "effect"
import init from "./internal/migrations/0001_init.js"

/** The bookkeeping table of applied migrations. */
export const table = "sextant_migrations"

const loader = Migrator.fromRecord({ "0001_init": init })

/** The newest migration id this version of the recorder needs. */
export const latest = 1

/** Applies the migrations not yet applied; returns the `[id, name]` pairs it applied. */
export const run: Effect.Effect<
  ReadonlyArray<readonly [id: number, name: string]>,
   Migrator.MigrationError | SqlError.SqlError, SqlClient.SqlClient> =
  Migrator.make({})({ loader, table })
