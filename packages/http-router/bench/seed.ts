/**
 * The read-side benchmarks' data: 100,000 runs (8 events each, 20 tenants, statuses 70% success, 10% each
 * error/running/cancelled, one second apart), seeded per dialect with one `INSERT … SELECT` per table.
 */
import { createRequire } from "node:module"
import type pg from "pg"

/** Runs seeded per dialect. */
export const RUNS = Number(process.env.BENCH_STORE_RUNS ?? 100_000)
/** Events per seeded run. */
export const EVENTS_PER_RUN = 8
/** Tenants the runs are spread over (`t0`…). */
export const TENANTS = 20

const require = createRequire(import.meta.url)
interface SqliteStatement {
  all: (...params: ReadonlyArray<unknown>) => Array<Record<string, unknown>>
  get: (...params: ReadonlyArray<unknown>) => Record<string, unknown> | undefined
  run: (...params: ReadonlyArray<unknown>) => unknown
}
/** The slice of better-sqlite3 the benchmark uses (the package ships no types here). */
export interface SqliteDb {
  prepare: (sql: string) => SqliteStatement
  transaction: (f: () => void) => () => void
  close: () => void
}
/** Opens a better-sqlite3 database. */
export const BetterSqlite = require("better-sqlite3") as new(
  file: string,
  options?: { readonly readonly?: boolean }
) => SqliteDb

// Seeding in SQL (one INSERT … SELECT per table): tenants by i % TENANTS, statuses by (i / TENANTS) % 10 (7 success, error,
// running, cancelled), one second between runs, 8 events per run.
const statusSql =
  `CASE (i / ${TENANTS}) % 10 WHEN 7 THEN 'error' WHEN 8 THEN 'running' WHEN 9 THEN 'cancelled' ELSE 'success' END`
const eventTypeSql = `CASE s ${
  [
    "run.started",
    "message.appended",
    "llm.started",
    "llm.completed",
    "tool.started",
    "tool.completed",
    "message.appended",
    "run.completed"
  ]
    .map((t, k) => `WHEN ${k} THEN '${t}'`).join(" ")
} END`
const eventData = JSON.stringify({
  text: "The weather in Lisbon is sunny, 21 degrees.",
  usage: { inputTokens: 50, outputTokens: 12 }
})
const runInsert =
  `INSERT INTO agent_runs (id, tenant_id, agent_name, status, input, instructions, answer, model, provider,
  delegation_level, iteration_count, total_input_tokens, total_output_tokens, total_cost_usd, model_call_count,
  unpriced_call_count, metadata, cancel_requested, last_sequence_index, created_at, updated_at, last_progress_at, finished_at)`
const eventInsert =
  "INSERT INTO run_events (agent_run_id, sequence_index, event_type, iteration, correlation_id, data, created_at)"

/** Seeds a migrated SQLite file with `INSERT … SELECT` (then ANALYZE). */
export const seedSqlite = (file: string) => {
  const db = new BetterSqlite(file)
  const ts = (offset: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i${offset}, 'unixepoch')`
  db.transaction(() => {
    db.prepare(`${runInsert} WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${RUNS - 1})
      SELECT printf('run-%07d', i), 't' || (i % ${TENANTS}), 'agent-' || (i % 7), ${statusSql}, 'What is the weather?',
        'You answer weather questions.', 'It is sunny.', 'gpt-bench', 'openai', 0, 2, 130, 21, 0.003, 2, 0,
        json_object('team', CASE i % 2 WHEN 0 THEN 'red' ELSE 'blue' END, 'customer', 'c' || (i % 1000)), 0, ${
      EVENTS_PER_RUN - 1
    },
        ${ts("")}, ${ts("")}, ${ts("")}, ${ts("")} FROM n`).run()
    db.prepare(`${eventInsert} WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${RUNS - 1}),
      k(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM k WHERE s < ${EVENTS_PER_RUN - 1})
      SELECT printf('run-%07d', i), s, ${eventTypeSql}, CASE WHEN s < 2 THEN 0 ELSE 1 END,
        CASE WHEN s BETWEEN 2 AND 5 THEN 'corr-' || i || '-' || s END, '${eventData}',
        strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i + s / 1000.0, 'unixepoch') FROM n, k ORDER BY 1, 2`).run()
  })()
  db.prepare("ANALYZE").run()
  db.close()
}

/** Seeds a migrated Postgres database with `INSERT … SELECT` (then VACUUM ANALYZE). */
export const seedPg = async (pool: pg.Pool) => {
  const at = "timestamptz '2026-01-01T00:00:00Z' + i * interval '1 second'"
  await pool.query(`${runInsert}
    SELECT 'run-' || lpad(i::text, 7, '0'), 't' || (i % ${TENANTS}), 'agent-' || (i % 7), ${statusSql}, 'What is the weather?',
      'You answer weather questions.', 'It is sunny.', 'gpt-bench', 'openai', 0, 2, 130, 21, 0.003, 2, 0,
      jsonb_build_object('team', CASE i % 2 WHEN 0 THEN 'red' ELSE 'blue' END, 'customer', 'c' || (i % 1000)), false,
      ${EVENTS_PER_RUN - 1}, ${at}, ${at}, ${at}, ${at} FROM generate_series(0, ${RUNS - 1}) AS i`)
  await pool.query(`${eventInsert}
    SELECT 'run-' || lpad(i::text, 7, '0'), s, ${eventTypeSql}, CASE WHEN s < 2 THEN 0 ELSE 1 END,
      CASE WHEN s BETWEEN 2 AND 5 THEN 'corr-' || i || '-' || s END, '${eventData}'::jsonb, ${at} + s * interval '1 millisecond'
    FROM generate_series(0, ${RUNS - 1}) AS i, generate_series(0, ${EVENTS_PER_RUN - 1}) AS s ORDER BY 1, 2`)
  // What autovacuum does on a live database: statistics and the visibility map (index-only scans for COUNT).
  await pool.query("VACUUM ANALYZE agent_runs")
  await pool.query("VACUUM ANALYZE run_events")
}
