/**
 * Retention: pruning old runs in bounded batches, payload-only pruning, erasure of a run or a tenant (the
 * GDPR request), VACUUM and SQLite backups, on both dialects. It lives in the recorder because it owns the
 * schema: it knows which tables a run owns and which columns are heavy, and migrates with it.
 *
 * Every batch is one short transaction over at most `batchSize` runs (default 1000): memory stays flat
 * whatever the table's size, and a concurrent recorder waits at most one batch for a lock (within its retry
 * budget), so pruning never makes a run's write fail. Runs that are running or paused are never pruned.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import { type Duration, Effect, Layer, Schedule } from "effect"
import * as Database from "./Database.js"
import * as internal from "./internal/retention.js"

/** A table pruning or erasure counts rows of. */
export type CountedTable = internal.CountedTable

/** Rows per table. */
export type TableCounts = internal.TableCounts

/** How far pruning has got: batches committed, runs pruned, and the run target of a `maxBytes` budget. */
export type PruneProgress = internal.PruneProgress

/**
 * What to prune. `olderThan`: terminal runs created longer ago than this. `maxBytes`: the oldest terminal runs
 * until the database's used size (estimated from the mean run size) fits. Both together: whichever selects
 * fewer. `payloadsOnly`: keep runs, events and the usage ledger, clear the provider payloads, semantic
 * requests and tool results. `dryRun`: count, change nothing. The per-day usage rollup (`usage_daily`, what
 * `RunStore.usage` sums whole days from) is never pruned, so billing totals survive.
 */
export interface PrunePolicy {
  /** Terminal runs created longer ago than this go. */
  readonly olderThan?: Duration.DurationInput | undefined
  /** The oldest terminal runs go until the database's used bytes fit this budget. */
  readonly maxBytes?: number | undefined
  /** Clear the heavy columns only (provider payloads, semantic requests, tool results). */
  readonly payloadsOnly?: boolean | undefined
  /**
   * Keep each pruned run's `token_usage` rows (the per-call billing ledger) and its `agent_runs` row (header
   * and totals, which the ledger's foreign key needs); delete everything else it owns. Ignored with
   * `payloadsOnly`, which keeps them anyway. `eraseRun` / `eraseTenant` still delete them.
   */
  readonly keepUsage?: boolean | undefined
  /** Count what would go; change nothing. */
  readonly dryRun?: boolean | undefined
  /** Runs per batch (one transaction each), 1..10000, default 1000. */
  readonly batchSize?: number | undefined
  /** Called after every batch. */
  readonly onProgress?: ((progress: PruneProgress) => Effect.Effect<void>) | undefined
}

/** What a prune did (or, dry, would do): rows per table, payload rows cleared, SQLite bytes freed. */
export type PruneResult = internal.PruneResult

/** Prunes by the policy in bounded batches; see `PrunePolicy`. */
export const prune: (policy: PrunePolicy) => Effect.Effect<PruneResult, SqlError.SqlError, SqlClient.SqlClient> =
  internal.prune

/** Erases one run and every row it owns, its usage rows included; returns the counts per table. */
export const eraseRun: (runId: string) => Effect.Effect<TableCounts, SqlError.SqlError, SqlClient.SqlClient> =
  internal.eraseRun

/** Erases every run of a tenant (in batches) with every row they own and the tenant's usage rollup rows. */
export const eraseTenant: (
  tenantId: string,
  batchSize?: number
) => Effect.Effect<TableCounts, SqlError.SqlError, SqlClient.SqlClient> = internal.eraseTenant

/** Bytes the database uses: SQLite pages not on the free list; Postgres, its tables with their indexes. */
export const usedBytes: Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> = internal.usedBytes

/** `VACUUM`: SQLite returns free pages to the file system; Postgres reclaims dead rows and analyzes. */
export const vacuum: Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> = internal.vacuum

/** SQLite only: a consistent copy of the database written to `file` (`VACUUM INTO`), safe while writers run. */
export const backupSqlite: (file: string) => Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =
  internal.backupSqlite

/**
 * Prunes by `policy` on `schedule` (say `Schedule.spaced("1 hour")`) for as long as the layer lives, inside a
 * host app beside its recorder. A failed round is logged and the next one runs on schedule.
 */
export const layer = (
  policy: PrunePolicy,
  schedule: Schedule.Schedule<unknown>
): Layer.Layer<never, never, SqlClient.SqlClient> =>
  Layer.scopedDiscard(
    Effect.forkScoped(
      internal.prune(policy).pipe(
        Effect.tap((r) => Effect.logDebug(`sextant retention: pruned ${r.runs} runs`)),
        Effect.catchAll((e) => Effect.logWarning(`sextant retention: a prune failed: ${e.message}`)),
        Effect.repeat(schedule)
      )
    )
  )

/** `prune` as a Promise on its own connection to a database URL (opened and closed for the call). */
export const prunePromise = (databaseUrl: string, policy: Omit<PrunePolicy, "onProgress">): Promise<PruneResult> =>
  Effect.runPromise(withUrl(databaseUrl, internal.prune(policy)))

/** `eraseRun` as a Promise on its own connection to a database URL. */
export const eraseRunPromise = (databaseUrl: string, runId: string): Promise<TableCounts> =>
  Effect.runPromise(withUrl(databaseUrl, internal.eraseRun(runId)))

/** `eraseTenant` as a Promise on its own connection to a database URL. */
export const eraseTenantPromise = (databaseUrl: string, tenantId: string): Promise<TableCounts> =>
  Effect.runPromise(withUrl(databaseUrl, internal.eraseTenant(tenantId)))

const withUrl = <A, E>(url: string, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.provide(effect, Database.layerFromUrl(url, { busyTimeoutMs: 5000 }))
