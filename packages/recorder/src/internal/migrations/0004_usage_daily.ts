import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { backfillSql } from "../rollup.js"

/**
 * Migration 4: `usage_daily`, the per-day billing rollup of `token_usage` (one row per tenant, agent, model and
 * UTC day), which the recorder maintains in the transaction that writes each `token_usage` row (`rollup.ts`), so
 * the two never disagree. Sums are integers (tokens, nano-dollars, calls). Runs are counted four ways, so that
 * `COUNT(DISTINCT run)` of any grouping can be summed from it: `runs` +1 at a run's first row, `runs_model` at
 * its first row of each model, `runs_day` of each day, `runs_model_day` of each model and day. `tenant_key` is
 * the key's tenant ('n' for none, 't' + the id), since a primary key cannot hold NULL. Existing databases are
 * backfilled from `token_usage` here (first rows by time, then id).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const big = sql.literal(pg ? "BIGINT" : "INTEGER")
  if (pg) yield* sql`SET LOCAL statement_timeout = 0`
  yield* sql`CREATE TABLE usage_daily (
    tenant_key TEXT NOT NULL,
    tenant_id TEXT,
    agent_name TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    input_tokens ${big} NOT NULL,
    output_tokens ${big} NOT NULL,
    cache_read_tokens ${big} NOT NULL,
    cache_write_tokens ${big} NOT NULL,
    reasoning_tokens ${big} NOT NULL,
    cost_nanos ${big} NOT NULL,
    model_call_count ${big} NOT NULL,
    unpriced_call_count ${big} NOT NULL,
    runs ${big} NOT NULL,
    runs_model ${big} NOT NULL,
    runs_day ${big} NOT NULL,
    runs_model_day ${big} NOT NULL,
    PRIMARY KEY (tenant_key, agent_name, model, day)
  )`
  yield* sql`CREATE INDEX usage_daily_day ON usage_daily (day)`
  yield* sql`CREATE INDEX usage_daily_tenant_day ON usage_daily (tenant_id, day)`
  yield* sql.unsafe(backfillSql(pg))
})
