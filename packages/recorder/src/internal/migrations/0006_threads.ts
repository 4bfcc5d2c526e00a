import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { addedBy, sqlType } from "../tables.js"

/** The statuses of a run still under way (running or paused): a thread has at most one such run. */
export const ACTIVE_STATUSES = ["running", "waiting_client_tool", "waiting_approval", "waiting_human_input"] as const

/**
 * Migration 6: conversations. `agent_runs.thread_id` and `react_traces.parts` (a user message's images and
 * files; generated from `Tables`, every column whose `since` is 6)
 * with an index reading a thread's runs in order, and a partial unique index that lets a thread hold one run
 * under way at a time: a second `run.started` on a busy thread inserts nothing (`ON CONFLICT DO NOTHING`), which
 * the kernel reports as `ThreadBusy`. Both dialects accept partial indexes; no backfill (older runs have none).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  for (const [table, column, kind] of addedBy(6)) {
    yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN ${sql(column)} ${sql.literal(sqlType(kind, dialect))}`
  }
  yield* sql`CREATE INDEX agent_runs_thread_created ON agent_runs (thread_id, created_at, id)`
  const active = ACTIVE_STATUSES.map((s) => `'${s}'`).join(", ")
  yield* sql.unsafe(
    `CREATE UNIQUE INDEX agent_runs_thread_active ON agent_runs (thread_id) ` +
      `WHERE thread_id IS NOT NULL AND status IN (${active})`
  )
})
