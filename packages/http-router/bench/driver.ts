/**
 * The read side's baselines: the statements the RunStore issues for `listRuns` and `getEvents`, on the bare
 * driver (better-sqlite3 prepared once; node-postgres with the same pool size and BIGINT parsing), and the
 * mapping of a page of rows to the JSON the router answers with, written by hand.
 */
import { Options } from "@sextant/store"
import pg from "pg"
import { BetterSqlite } from "./seed.js"

/** The filters the benchmark uses: none, or a status and a tenant. */
export interface Filter {
  readonly status?: string
  readonly tenantId?: string
}

/** The bare queries of one dialect. */
export interface Driver {
  /** A page of 50 (51 rows read, as the store does to know whether there is a next page). */
  readonly page: (filter: Filter) => Promise<ReadonlyArray<Record<string, unknown>>>
  /** The total of the filter. */
  readonly count: (filter: Filter) => Promise<number>
  /** The unfiltered total as the store compiles it today (`WHERE 1=1`). */
  readonly countWhereTrue: () => Promise<number>
  /** A run's first 100 events. */
  readonly events: (runId: string) => Promise<ReadonlyArray<Record<string, unknown>>>
  /** Whether timestamps come back as `Date` (Postgres) rather than ISO text (SQLite). */
  readonly dates: boolean
  readonly close: () => Promise<void>
}

const summaryColumns = (pgDialect: boolean) =>
  `id, agent_name, status, tenant_id, model, provider, parent_run_id, retry_of_run_id, delegation_level,
  iteration_count, total_input_tokens, total_output_tokens, total_cache_read_tokens, total_cache_write_tokens,
  total_reasoning_tokens, total_cost_usd, model_call_count, unpriced_call_count, ${
    pgDialect ? "metadata::text AS metadata" : "metadata"
  }, created_at, updated_at, finished_at`
const eventColumns = (pgDialect: boolean) =>
  `agent_run_id, sequence_index, event_type, iteration, correlation_id, ${
    pgDialect ? "data::text AS data" : "data"
  }, created_at`
const ORDER = "ORDER BY created_at DESC, id DESC"

/** better-sqlite3 on the seeded file, read-only, every statement prepared once. */
export const sqliteDriver = (file: string): Driver => {
  const db = new BetterSqlite(file, { readonly: true })
  const pageAll = db.prepare(`SELECT ${summaryColumns(false)} FROM agent_runs ${ORDER} LIMIT ?`)
  const pageFiltered = db.prepare(
    `SELECT ${summaryColumns(false)} FROM agent_runs WHERE tenant_id = ? AND status IN (?) ${ORDER} LIMIT ?`
  )
  const countAll = db.prepare("SELECT COUNT(*) AS n FROM agent_runs")
  const countTrue = db.prepare("SELECT COUNT(*) AS n FROM agent_runs WHERE 1=1")
  const countFiltered = db.prepare("SELECT COUNT(*) AS n FROM agent_runs WHERE tenant_id = ? AND status IN (?)")
  const events = db.prepare(
    `SELECT ${
      eventColumns(false)
    } FROM run_events WHERE agent_run_id = ? AND sequence_index > ? ORDER BY sequence_index LIMIT ?`
  )
  return {
    page: async (f) => (f.status === undefined ? pageAll.all(51) : pageFiltered.all(f.tenantId, f.status, 51)),
    count: async (f) => Number((f.status === undefined ? countAll.get() : countFiltered.get(f.tenantId, f.status))!.n),
    countWhereTrue: async () => Number(countTrue.get()!.n),
    events: async (runId) => events.all(runId, -1, 100),
    dates: false,
    close: async () => db.close()
  }
}

const INT8_OID = 20

/** A node-postgres pool (10 connections, as the store's) with BIGINT parsed to numbers, as the recorder's. */
export const pgPool = (url: string) => {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : pg.types.getTypeParser(oid, format as "text")) as never
    }
  })
  // An idle connection ended by the server (the database dropped WITH FORCE) is not the benchmark's failure.
  pool.on("error", () => undefined)
  return pool
}

/** node-postgres with named (prepared) statements. */
export const pgDriver = (pool: pg.Pool): Driver => {
  const q = async (name: string, text: string, values: Array<unknown>) =>
    (await pool.query({ name, text, values })).rows as Array<Record<string, unknown>>
  return {
    page: (f) =>
      f.status === undefined
        ? q("page_all", `SELECT ${summaryColumns(true)} FROM agent_runs ${ORDER} LIMIT $1`, [51])
        : q(
          "page_filtered",
          `SELECT ${summaryColumns(true)} FROM agent_runs WHERE status IN ($1) AND tenant_id = $2 ${ORDER} LIMIT $3`,
          [f.status, f.tenantId, 51]
        ),
    count: async (f) =>
      Number(
        (f.status === undefined
          ? await q("count_all", "SELECT COUNT(*) AS n FROM agent_runs", [])
          : await q("count_filtered", "SELECT COUNT(*) AS n FROM agent_runs WHERE status IN ($1) AND tenant_id = $2", [
            f.status,
            f.tenantId
          ]))[0]!.n
      ),
    countWhereTrue: async () =>
      Number((await q("count_true", "SELECT COUNT(*) AS n FROM agent_runs WHERE 1=1", []))[0]!.n),
    events: (runId) =>
      q(
        "events",
        `SELECT ${
          eventColumns(true)
        } FROM run_events WHERE agent_run_id = $1 AND sequence_index > $2 ORDER BY sequence_index LIMIT $3`,
        [runId, -1, 100]
      ),
    dates: true,
    close: async () => undefined
  }
}

const time = (value: unknown): string | null =>
  value === null || value === undefined ? null : value instanceof Date ? value.toISOString() : String(value)

/** A page of rows as the router's `RunPage` JSON object: camelCase records, totals grouped, the cursor. */
export const runPage = (rows: ReadonlyArray<Record<string, unknown>>, total: number) => {
  const page = rows.length > 50 ? rows.slice(0, 50) : rows
  const items = page.map((r) => ({
    id: r.id,
    agentName: r.agent_name,
    status: r.status,
    tenantId: r.tenant_id,
    model: r.model,
    provider: r.provider,
    parentRunId: r.parent_run_id,
    retryOfRunId: r.retry_of_run_id,
    delegationLevel: r.delegation_level,
    iterationCount: r.iteration_count,
    totals: {
      inputTokens: r.total_input_tokens,
      outputTokens: r.total_output_tokens,
      cacheReadTokens: r.total_cache_read_tokens,
      cacheWriteTokens: r.total_cache_write_tokens,
      reasoningTokens: r.total_reasoning_tokens,
      costUsd: r.total_cost_usd,
      modelCallCount: r.model_call_count,
      unpricedCallCount: r.unpriced_call_count
    },
    metadata: r.metadata === null ? null : JSON.parse(String(r.metadata)),
    createdAt: time(r.created_at),
    updatedAt: time(r.updated_at),
    finishedAt: time(r.finished_at)
  }))
  const last = items[items.length - 1]
  return {
    items,
    nextCursor: rows.length > 50 && last !== undefined
      ? Options.encodeCursor({ createdAt: last.createdAt!, id: String(last.id) })
      : null,
    total
  }
}
