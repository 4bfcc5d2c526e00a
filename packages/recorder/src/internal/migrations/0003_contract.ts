import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { addedBy, sqlType } from "../tables.js"

/**
 * The columns of migration 3, generated from `Tables` (every column whose `since` is 3): the submission id a
 * claim stores (so a claim retried after a lost reply recognises its own win), and costs as integer
 * nano-dollars (`cost_nanos`, `total_cost_nanos`), backfilled from the REAL columns, so that sums are exact and
 * the same on both dialects. `total_cost_usd` is rewritten from the nanos for the same reason.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  // The backfill touches every row: it must not be cut by the pool's statement timeout (the Migrator runs all
  // pending migrations in one transaction, so this lasts until it commits).
  if (dialect === "pg") yield* sql`SET LOCAL statement_timeout = 0`
  for (const [table, column, kind] of addedBy(3)) {
    yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN ${sql(column)} ${sql.literal(sqlType(kind, dialect))}`
  }
  const nanos = (column: string) => sql`CAST(ROUND(${sql(column)} * 1000000000) AS BIGINT)`
  yield* sql`UPDATE llm_interactions SET cost_nanos = ${nanos("cost_usd")} WHERE cost_usd IS NOT NULL`
  yield* sql`UPDATE token_usage SET cost_nanos = ${nanos("cost_usd")} WHERE cost_usd IS NOT NULL`
  yield* sql`UPDATE agent_runs SET total_cost_nanos = ${nanos("total_cost_usd")} WHERE total_cost_usd IS NOT NULL`
  yield* sql`UPDATE agent_runs
    SET total_cost_usd = CAST(total_cost_nanos AS DOUBLE PRECISION) / CAST(1000000000 AS DOUBLE PRECISION)
    WHERE total_cost_nanos IS NOT NULL`
})
