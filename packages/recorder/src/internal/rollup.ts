/**
 * The per-day billing rollup (`usage_daily`, migration 4), kept by the statement that follows every
 * `token_usage` insert in the same transaction: the row's sums are added to its (tenant, agent, model, UTC day)
 * bucket, and each of the four run counts gets +1 when the run had no earlier billing row with the same key
 * part (none at all; the same model; the same day; the same model and day). One text serves the prepared
 * SQLite writer (one row) and, with its values list, the client path (many rows, grouped by bucket first, since
 * Postgres refuses to update one row twice in a statement).
 */
import type { UsageRow } from "./plan.js"
import { usageCountColumns, type Value } from "./tables.js"

/** The UTC day (`YYYY-MM-DD`) of a timestamp column, as both dialects compute it. */
export const usageDayOf = (pg: boolean, column: string): string =>
  pg ? `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')` : `substr(${column}, 1, 10)`

/** The UTC day of an ISO-8601 instant (`toISOString` form). */
export const dayOf = (at: string): string => at.slice(0, 10)

/** The values the rollup reads for one billing row, in `ROLLUP_VALUES` order (both writers bind them so). */
export const rollupRow = (u: UsageRow): ReadonlyArray<Value> => [
  u.id,
  u.runKey,
  u.model,
  dayOf(u.at),
  u.usage.inputTokens,
  u.usage.outputTokens,
  u.usage.cacheReadTokens ?? null,
  u.usage.cacheWriteTokens ?? null,
  u.usage.reasoningTokens ?? null,
  u.costNanos
]

/** The columns of the values list the rollup reads (`v`), in order. */
export const ROLLUP_VALUES = ["id", "run", "model", "day", "inp", "outp", "cr", "cw", "rs", "nanos"] as const

const COLUMNS = "tenant_key, tenant_id, agent_name, model, day, input_tokens, output_tokens, cache_read_tokens, " +
  "cache_write_tokens, reasoning_tokens, cost_nanos, model_call_count, unpriced_call_count, runs, runs_model, " +
  "runs_day, runs_model_day"

const ADDED = [
  ...usageCountColumns,
  "model_call_count",
  "unpriced_call_count",
  "runs",
  "runs_model",
  "runs_day",
  "runs_model_day"
]

const firstOf = (extra: string) =>
  `CASE WHEN EXISTS (SELECT 1 FROM token_usage t WHERE t.agent_run_id = v.run AND t.id <> v.id${extra}) ` +
  "THEN 0 ELSE 1 END"

/**
 * The upsert of the rollup from a values list named `v` (`ROLLUP_VALUES`), which the caller puts in front
 * (`WITH v(…) AS (VALUES …)`). Runs after the `token_usage` rows of `v` are inserted.
 */
export const rollupUpsert = (pg: boolean): string => {
  const day = ` AND ${usageDayOf(pg, "t.created_at")} = v.day`
  return `INSERT INTO usage_daily (${COLUMNS})
    SELECT tenant_key, tenant_id, agent_name, model, day, SUM(inp), SUM(outp), SUM(cr), SUM(cw), SUM(rs),
      SUM(nanos), COUNT(*), SUM(unpriced), SUM(f_run), SUM(f_model), SUM(f_day), SUM(f_model_day)
    FROM (
      SELECT CASE WHEN r.tenant_id IS NULL THEN 'n' ELSE 't' || r.tenant_id END AS tenant_key, r.tenant_id,
        r.agent_name, v.model, v.day, v.inp, v.outp, COALESCE(v.cr, 0) AS cr, COALESCE(v.cw, 0) AS cw,
        COALESCE(v.rs, 0) AS rs, COALESCE(v.nanos, 0) AS nanos, CASE WHEN v.nanos IS NULL THEN 1 ELSE 0 END AS unpriced,
        ${firstOf("")} AS f_run,
        ${firstOf(" AND t.model = v.model")} AS f_model,
        ${firstOf(day)} AS f_day,
        ${firstOf(` AND t.model = v.model${day}`)} AS f_model_day
      FROM v JOIN agent_runs r ON r.id = v.run
    ) u
    WHERE true
    GROUP BY tenant_key, tenant_id, agent_name, model, day
    ON CONFLICT (tenant_key, agent_name, model, day) DO UPDATE SET ${
    ADDED.map((c) => `${c} = usage_daily.${c} + excluded.${c}`).join(", ")
  }`
}

/** The prepared SQLite writer's one-row form (parameters in `ROLLUP_VALUES` order). */
export const SQLITE_ROLLUP_SQL = `WITH v(${ROLLUP_VALUES.join(", ")}) AS (VALUES (${
  ROLLUP_VALUES.map(() => "?").join(", ")
})) ${rollupUpsert(false)}`

/**
 * The rollup computed from `token_usage` (first rows by time, then id): the migration's backfill, and
 * `Migrations.rebuildUsageRollup` after `usage_daily` was emptied.
 */
export const backfillSql = (pg: boolean): string => {
  const day = usageDayOf(pg, "created_at")
  const first = (partition: string) =>
    `CASE WHEN ROW_NUMBER() OVER (PARTITION BY ${partition} ORDER BY created_at, id) = 1 THEN 1 ELSE 0 END`
  return `INSERT INTO usage_daily (${COLUMNS})
    SELECT CASE WHEN tenant_id IS NULL THEN 'n' ELSE 't' || tenant_id END, tenant_id, agent_name, model, day,
      COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
      COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(reasoning_tokens), 0), COALESCE(SUM(cost_nanos), 0),
      COUNT(*), SUM(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END),
      SUM(f_run), SUM(f_model), SUM(f_day), SUM(f_model_day)
    FROM (
      SELECT tenant_id, agent_name, model, ${day} AS day, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, reasoning_tokens, cost_nanos,
        ${first("agent_run_id")} AS f_run,
        ${first("agent_run_id, model")} AS f_model,
        ${first(`agent_run_id, ${day}`)} AS f_day,
        ${first(`agent_run_id, model, ${day}`)} AS f_model_day
      FROM token_usage
    ) u
    GROUP BY tenant_id, agent_name, model, day`
}
