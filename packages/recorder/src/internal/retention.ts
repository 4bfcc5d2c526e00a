import { SqlClient, type SqlError } from "@effect/sql"
import { Lifecycle } from "@sextant/runtime"
import { Clock, Duration, Effect } from "effect"

/** The tables a run owns rows in (each `agent_run_id … ON DELETE CASCADE`), counted and deleted with it. */
export const childTables = ["run_events", "react_traces", "tool_calls", "llm_interactions", "token_usage"] as const

/** A table pruning or erasure reports a count for. */
export type CountedTable = "agent_runs" | typeof childTables[number] | "usage_daily"

/** Rows per table. */
export type TableCounts = { readonly [T in CountedTable]: number }

/**
 * What `keepUsage` deletes of a run besides the counted child tables other than `token_usage`: the stream
 * aggregates and chunks (migration 7) and the detectors' signals, by their run column.
 */
export const uncountedTables = [
  ["run_streams", "agent_run_id"],
  ["stream_chunks", "agent_run_id"],
  ["failure_signals", "run_id"]
] as const

/** The heavy columns payload-only pruning clears, by table. */
export const payloadColumns = {
  llm_interactions: ["provider_request", "provider_response", "semantic_request"],
  tool_calls: ["result"]
} as const

export interface PrunePolicy {
  readonly olderThan?: Duration.DurationInput | undefined
  readonly maxBytes?: number | undefined
  readonly payloadsOnly?: boolean | undefined
  readonly keepUsage?: boolean | undefined
  readonly dryRun?: boolean | undefined
  readonly batchSize?: number | undefined
  readonly onProgress?: ((progress: PruneProgress) => Effect.Effect<void>) | undefined
}

export interface PruneProgress {
  readonly batches: number
  readonly runs: number
  readonly target: number | null
}

export interface PruneResult {
  readonly dryRun: boolean
  readonly payloadsOnly: boolean
  readonly keepUsage: boolean
  readonly cutoff: string | null
  readonly runs: number
  readonly batches: number
  readonly deleted: TableCounts
  readonly payloadsCleared: { readonly llm_interactions: number; readonly tool_calls: number }
  readonly bytesFreed: number | null
}

const zero = (): { -readonly [T in CountedTable]: number } => ({
  agent_runs: 0,
  run_events: 0,
  react_traces: 0,
  tool_calls: 0,
  llm_interactions: 0,
  token_usage: 0,
  usage_daily: 0
})

const isPg = (sql: SqlClient.SqlClient) => sql.onDialectOrElse({ pg: () => true, orElse: () => false })

const count = (sql: SqlClient.SqlClient, rows: ReadonlyArray<{ readonly n: number | string | bigint | null }>) =>
  Number(rows[0]?.n ?? 0)

/** Rows of each child table owned by `ids`. */
const childCounts = (sql: SqlClient.SqlClient, ids: ReadonlyArray<string>) =>
  Effect.forEach(childTables, (table) =>
    Effect.map(
      sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE agent_run_id IN ${sql.in(ids)}`,
      (rows) => [table, count(sql, rows)] as const
    ))

/** Bytes the database uses: SQLite pages in use (not the free list); Postgres, the six tables with indexes. */
export const usedBytes: Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  if (isPg(sql)) {
    const rows = yield* sql<{ n: number }>`SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS n
      FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
      WHERE s.nspname = current_schema() AND c.relkind = 'r'`
    return count(sql, rows)
  }
  const [pages, free, size] = yield* Effect.all([
    sql<{ n: number }>`SELECT page_count AS n FROM pragma_page_count()`,
    sql<{ n: number }>`SELECT freelist_count AS n FROM pragma_freelist_count()`,
    sql<{ n: number }>`SELECT page_size AS n FROM pragma_page_size()`
  ])
  return (count(sql, pages) - count(sql, free)) * count(sql, size)
})

/** SQLite's free pages in bytes (null on Postgres, which does not say what a DELETE freed). */
const freeBytes = (sql: SqlClient.SqlClient) =>
  isPg(sql) ? Effect.succeed(null) : Effect.map(
    Effect.all([
      sql<{ n: number }>`SELECT freelist_count AS n FROM pragma_freelist_count()`,
      sql<{ n: number }>`SELECT page_size AS n FROM pragma_page_size()`
    ]),
    ([free, size]) => count(sql, free) * count(sql, size)
  )

/** How many of the oldest terminal runs go so the database fits `maxBytes` (estimated from the mean run size). */
const runsOverBudget = (sql: SqlClient.SqlClient, maxBytes: number) =>
  Effect.gen(function*() {
    const used = yield* usedBytes
    if (used <= maxBytes) return 0
    const runs = count(sql, yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM agent_runs`)
    if (runs === 0) return 0
    return Math.ceil((used - maxBytes) / (used / runs))
  })

/**
 * Prunes terminal runs created before the cutoff (and/or the oldest ones over a size budget), oldest first, in
 * batches of `batchSize` runs, each batch one short transaction. Runs that are running or paused are never
 * selected. Keyset pagination on the `(created_at, id)` index with a row-value comparison, so every batch's
 * query is an index range scan that starts where the last one ended: a dry run or a payload-only pass (which
 * delete nothing) stays linear in the runs it visits, not quadratic. Only the batch's ids are held in memory.
 * `keepUsage`: the run's row and its `token_usage` rows stay (the billing ledger, still joined to its tenant
 * and agent), everything else it owns goes; runs already slimmed so (no events left) are not selected again.
 */
export const prune = (
  policy: PrunePolicy
): Effect.Effect<PruneResult, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const now = yield* Clock.currentTimeMillis
    const batchSize = Math.max(1, Math.min(10_000, Math.floor(policy.batchSize ?? 1000)))
    const cutoff = policy.olderThan === undefined
      ? null
      : new Date(now - Duration.toMillis(Duration.decode(policy.olderThan))).toISOString()
    const target = policy.maxBytes === undefined ? null : yield* runsOverBudget(sql, policy.maxBytes)
    const dryRun = policy.dryRun === true
    const payloadsOnly = policy.payloadsOnly === true
    const keepUsage = !payloadsOnly && policy.keepUsage === true
    const deleted = zero()
    const cleared = { llm_interactions: 0, tool_calls: 0 }
    const freeBefore = yield* freeBytes(sql)
    let runs = 0
    let batches = 0
    let after: { createdAt: string; id: string } | null = null
    const done = (bytesFreed: number | null): PruneResult => ({
      dryRun,
      payloadsOnly,
      keepUsage,
      cutoff,
      runs,
      batches,
      deleted,
      payloadsCleared: cleared,
      bytesFreed
    })
    if (cutoff === null && target === null) return done(0)
    while (target === null || runs < target) {
      const limit = target === null ? batchSize : Math.min(batchSize, target - runs)
      const position: { createdAt: string; id: string } | null = after
      const rows: ReadonlyArray<{ id: string; created_at: string | Date }> = yield* sql<
        { id: string; created_at: string | Date }
      >`SELECT id, created_at FROM agent_runs
        WHERE status IN ${sql.in(Lifecycle.terminalStatuses)}
        ${cutoff === null ? sql`` : sql`AND created_at < ${cutoff}`}
        ${position === null ? sql`` : sql`AND (created_at, id) > (${position.createdAt}, ${position.id})`}
        ${
        keepUsage
          ? sql`AND EXISTS (SELECT 1 FROM run_events e WHERE e.agent_run_id = agent_runs.id)`
          : sql``
      }
        ORDER BY created_at, id LIMIT ${limit}`
      if (rows.length === 0) break
      const last = rows[rows.length - 1]!
      const lastAt = last.created_at instanceof Date ? last.created_at.toISOString() : last.created_at
      after = { createdAt: lastAt, id: last.id }
      const ids = rows.map((r) => r.id)
      yield* sql.withTransaction(Effect.gen(function*() {
        if (payloadsOnly) {
          for (
            const [table, columns] of Object.entries(payloadColumns) as Array<
              [keyof typeof cleared, ReadonlyArray<string>]
            >
          ) {
            const any = sql.literal(columns.map((c) => `${c} IS NOT NULL`).join(" OR "))
            const n = count(
              sql,
              yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql(table)} WHERE agent_run_id IN ${
                sql.in(ids)
              } AND (${any})`
            )
            cleared[table] += n
            if (!dryRun && n > 0) {
              const set = sql.literal(columns.map((c) => `${c} = NULL`).join(", "))
              yield* sql`UPDATE ${sql(table)} SET ${set} WHERE agent_run_id IN ${sql.in(ids)} AND (${any})`
            }
          }
          return
        }
        for (const [table, n] of yield* childCounts(sql, ids)) {
          if (!(keepUsage && table === "token_usage")) deleted[table] += n
        }
        if (keepUsage) {
          if (dryRun) return
          for (const table of childTables) {
            if (table !== "token_usage") yield* sql`DELETE FROM ${sql(table)} WHERE agent_run_id IN ${sql.in(ids)}`
          }
          for (const [table, column] of uncountedTables) {
            yield* sql`DELETE FROM ${sql(table)} WHERE ${sql(column)} IN ${sql.in(ids)}`
          }
          return
        }
        deleted.agent_runs += ids.length
        if (!dryRun) yield* sql`DELETE FROM agent_runs WHERE id IN ${sql.in(ids)}`
      }))
      runs += ids.length
      batches += 1
      if (policy.onProgress !== undefined) yield* policy.onProgress({ batches, runs, target })
      if (rows.length < limit) break
    }
    const freeAfter = yield* freeBytes(sql)
    return done(
      dryRun ? 0 : freeBefore === null || freeAfter === null ? null : Math.max(0, freeAfter - freeBefore)
    )
  })

/** Deletes the runs matched by `where` (a run id or a tenant) with every row they own, plus usage rows. */
const erase = (
  select: (sql: SqlClient.SqlClient, limit: number) => Effect.Effect<ReadonlyArray<{ id: string }>, SqlError.SqlError>,
  usage: (sql: SqlClient.SqlClient) => Effect.Effect<number, SqlError.SqlError>,
  batchSize: number
): Effect.Effect<TableCounts, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const deleted = zero()
    while (true) {
      const rows = yield* select(sql, batchSize)
      if (rows.length === 0) break
      const ids = rows.map((r) => r.id)
      yield* sql.withTransaction(Effect.gen(function*() {
        for (const [table, n] of yield* childCounts(sql, ids)) deleted[table] += n
        deleted.agent_runs += ids.length
        // Children of an erased run keep their own record; their parent link goes (ON DELETE SET NULL).
        yield* sql`DELETE FROM agent_runs WHERE id IN ${sql.in(ids)}`
      }))
      if (rows.length < batchSize) break
    }
    deleted.usage_daily += yield* usage(sql)
    return deleted
  })

/** Erases one run: its row, every row it owns (usage included). */
export const eraseRun = (runId: string): Effect.Effect<TableCounts, SqlError.SqlError, SqlClient.SqlClient> =>
  erase(
    (sql, limit) => sql<{ id: string }>`SELECT id FROM agent_runs WHERE id = ${runId} LIMIT ${limit}`,
    () => Effect.succeed(0),
    1
  )

/** Erases every run of a tenant with every row they own, and the tenant's rows of the usage rollup. */
export const eraseTenant = (
  tenantId: string,
  batchSize = 1000
): Effect.Effect<TableCounts, SqlError.SqlError, SqlClient.SqlClient> =>
  erase(
    (sql, limit) =>
      sql<
        { id: string }
      >`SELECT id FROM agent_runs WHERE tenant_id = ${tenantId} ORDER BY created_at, id LIMIT ${limit}`,
    (sql) =>
      sql.withTransaction(Effect.gen(function*() {
        const n = count(
          sql,
          yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM usage_daily WHERE tenant_id = ${tenantId}`
        )
        yield* sql`DELETE FROM usage_daily WHERE tenant_id = ${tenantId}`
        return n
      })),
    Math.max(1, Math.floor(batchSize))
  )

/** Returns the free pages to the file system (SQLite `VACUUM`) or reclaims dead rows (Postgres `VACUUM`). */
export const vacuum: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.unsafe(isPg(sql) ? "VACUUM (ANALYZE)" : "VACUUM")
})

/** SQLite: a consistent copy of the database in `file` (`VACUUM INTO`, safe while writers run). */
export const backupSqlite = (file: string): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql`VACUUM INTO ${file}`)
