/**
 * The fail-closed SQL recorder: implements the runtime's `Recorder` port on SQLite or Postgres. Every event
 * becomes its rows (and a `run_events` row) in one transaction before `record` succeeds; concurrent runs
 * share commits (group commit); transient database errors are retried within a bounded budget; a write that
 * still fails is a `RecorderError`, which stops the run.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import { Recorder, type RecorderService, RunLedger } from "@sextant/runtime"
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import type { DatabaseOptions } from "./Database.js"
import * as Database from "./Database.js"
import type { DatabaseUrlError, MigrationsPending } from "./Errors.js"
import { makeLedger } from "./internal/ledger.js"
import { defaultRetryPolicy, type RetryPolicy } from "./internal/write.js"
import { makeWriter } from "./internal/writer.js"
import * as Migrations from "./Migrations.js"

/** Options of `SqlRecorder.make` / `layer`. */
export interface SqlRecorderOptions {
  /** Attempts per write, the first included (default 5). */
  readonly maxAttempts?: number | undefined
  /** Total time one write may take with its retries (default 2 seconds). */
  readonly retryBudget?: Duration.DurationInput | undefined
  /** The first wait between attempts; each further wait doubles, ±20% jitter (default 100 ms). */
  readonly retryBaseDelay?: Duration.DurationInput | undefined
  /** The most events one group commit carries (default 1000). */
  readonly maxBatch?: number | undefined
}

/** Everything building a recorder from a URL can fail with. */
export type LayerError = DatabaseUrlError | MigrationsPending | MigrationError | SqlError.SqlError

/**
 * Builds the recorder over the ambient `SqlClient`: on SQLite it applies pending migrations, on Postgres it
 * fails with `MigrationsPending` unless the database is migrated. The writer lives as long as the scope.
 */
export const make = (
  options: SqlRecorderOptions = {}
): Effect.Effect<
  RecorderService,
  MigrationsPending | MigrationError | SqlError.SqlError,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({ sqlite: () => Effect.asVoid(Migrations.run), orElse: () => Migrations.check })
    return yield* makeWriter({
      retry: retryPolicy(options),
      maxBatch: Math.max(1, Math.floor(options.maxBatch ?? 1000))
    })
  })

const retryPolicy = (options: SqlRecorderOptions): RetryPolicy => ({
  maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? defaultRetryPolicy.maxAttempts)),
  budget: options.retryBudget === undefined ? defaultRetryPolicy.budget : Duration.decode(options.retryBudget),
  baseDelay: options.retryBaseDelay === undefined
    ? defaultRetryPolicy.baseDelay
    : Duration.decode(options.retryBaseDelay)
})

/**
 * The `Recorder` over the ambient `SqlClient`, and the `RunLedger` the runtime reads runs back through to
 * resume, cancel, retry and de-duplicate them (same database, same retry policy).
 */
export const layer = (
  options: SqlRecorderOptions = {}
): Layer.Layer<Recorder | RunLedger, MigrationsPending | MigrationError | SqlError.SqlError, SqlClient.SqlClient> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const recorder = yield* make(options)
      const ledger = yield* makeLedger(retryPolicy(options))
      return Context.make(Recorder, recorder).pipe(Context.add(RunLedger, ledger))
    })
  )

/** The `Recorder` and its `SqlClient` for a database URL (`sqlite:./agent.db`, `postgres://…`). */
export const layerFromUrl = (
  databaseUrl: string,
  options?: SqlRecorderOptions & { readonly database?: DatabaseOptions | undefined }
): Layer.Layer<Recorder | RunLedger | SqlClient.SqlClient, LayerError> =>
  layer(options).pipe(Layer.provideMerge(Database.layerFromUrl(databaseUrl, options?.database)))
