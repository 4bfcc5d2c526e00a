/**
 * The fail-closed SQL recorder: implements the runtime's `Recorder` port on SQLite or Postgres. Every event
 * becomes its rows (and a `run_events` row) in one transaction before `record` succeeds; concurrent runs
 * share commits (group commit); transient database errors are retried within a bounded budget; a write that
 * still fails is a `RecorderError`, which stops the run.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import { Recorder, type RecorderService, RetryPolicy, RunLedger } from "@sextant/runtime"
import { Context, type Duration, Effect, Either, Layer, Option, type Scope } from "effect"
import type { DatabaseOptions } from "./Database.js"
import * as Database from "./Database.js"
import { Encryption } from "./Encryption.js"
import type { DatabaseUrlError, DriverNotInstalled, MigrationsPending } from "./Errors.js"
import { RequestDeltas } from "./internal/deltas.js"
import { makeLedger } from "./internal/ledger.js"
import * as SqliteWriter from "./internal/sqliteWriter.js"
import { resolvePolicy, retryDefaults } from "./internal/write.js"
import { makeWriter } from "./internal/writer.js"
import * as Migrations from "./Migrations.js"

/** Options of `SqlRecorder.make` / `layer`. */
export interface SqlRecorderOptions {
  /**
   * How writes and ledger statements are retried when the database error is transient (the shared
   * `RetryPolicy` vocabulary). Defaults: 5 attempts within a 2 second budget, waits doubling from 100 ms
   * (±20% jitter, at most 1 second), and each attempt cut after half the budget (its connection abandoned).
   */
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  /** @deprecated use `retry.maxAttempts`. */
  readonly maxAttempts?: number | undefined
  /** @deprecated use `retry.budget`. */
  readonly retryBudget?: Duration.DurationInput | undefined
  /** @deprecated use `retry.baseDelay`. */
  readonly retryBaseDelay?: Duration.DurationInput | undefined
  /** The most callers (a `record`, or a `recordAll` of any size) one group commit carries (default 1000). */
  readonly maxBatch?: number | undefined
  /**
   * On a SQLite file, write through the recorder's own connection with its statements prepared once (default
   * true); false writes through the ambient `SqlClient` as Postgres does.
   */
  readonly sqliteWriter?: boolean | undefined
  /**
   * With the SQLite writer in WAL mode and `synchronous` NORMAL: a small group commit (up to 8 events) made
   * while the writer thread is idle runs on the main thread's own connection, which never waits for a lock
   * (a busy database sends it to the thread) — saving the thread hop at low concurrency. Default true; false
   * sends every commit to the thread.
   */
  readonly sqliteMainThread?: boolean | undefined
  /**
   * Whether a write that fails for good marks its runs `error` (`failure_reason = 'recorder'`) as a halted
   * native run is (default true). An ingest endpoint sets false: its sender retries the same events later, and
   * a run marked `error` would refuse them.
   */
  readonly haltRuns?: boolean | undefined
  /**
   * Store each model call's request as the messages new since the run's previous call (default true); the
   * RunStore rebuilds the full request. False stores every request in full (as before migration 8).
   */
  readonly requestDeltas?: boolean | undefined
}

/** Everything building a recorder from a URL can fail with. */
export type LayerError =
  | DatabaseUrlError
  | MigrationsPending
  | MigrationError
  | SqlError.SqlError
  | RetryPolicy.InvalidRetryPolicy
  | DriverNotInstalled

/**
 * `@effect/sql-sqlite-node`'s client tag, by its key: the recorder looks for one in the context without
 * importing that package (an optional peer, which a Postgres app does not install).
 */
const SqliteClientTag = Context.GenericTag<{
  readonly config: { readonly filename: string; readonly readonly?: boolean | undefined }
  <A extends object>(
    strings: TemplateStringsArray,
    ...args: Array<unknown>
  ): Effect.Effect<ReadonlyArray<A>, SqlError.SqlError>
}>("@effect/sql-sqlite-node/SqliteClient")

/** The recorder's retry defaults (`RetryPolicy` fields; `attemptTimeout` is half the budget unless set). */
export const defaultRetry: Required<RetryPolicy.RetryPolicy> = retryDefaults

/**
 * Builds the recorder over the ambient `SqlClient`: on SQLite it applies pending migrations, on Postgres it
 * fails with `MigrationsPending` unless the database is migrated. The writer lives as long as the scope.
 */
export const make = (
  options: SqlRecorderOptions = {}
): Effect.Effect<
  RecorderService,
  MigrationsPending | MigrationError | SqlError.SqlError | RetryPolicy.InvalidRetryPolicy | DriverNotInstalled,
  SqlClient.SqlClient | Scope.Scope
> =>
  Effect.gen(function*() {
    const retry = yield* retryPolicy(options)
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({ sqlite: () => Effect.asVoid(Migrations.run), orElse: () => Migrations.check })
    const own = yield* sqliteWriter(options)
    // With an `Encryption` key ring in context, every content column is sealed with its current key.
    const ring = yield* Effect.serviceOption(Encryption)
    return yield* makeWriter({
      codec: {
        deltas: options.requestDeltas === false ? undefined : new RequestDeltas(),
        sealer: Option.getOrUndefined(ring)
      },
      retry,
      maxBatch: Math.max(1, Math.floor(options.maxBatch ?? 1000)),
      transact: own?.transact,
      uncut: own !== undefined,
      haltRuns: options.haltRuns
    })
  })

/**
 * On a SQLite file opened by `@effect/sql-sqlite-node`, the recorder's own write connection with its statements
 * prepared once (`sqliteWriter.ts`), with the ambient connection's busy timeout and `synchronous`. Elsewhere
 * (Postgres, an in-memory database, another SQLite client, `sqliteWriter: false`) writes go through the client.
 */
const sqliteWriter = (options: SqlRecorderOptions) =>
  Effect.gen(function*() {
    if (options.sqliteWriter === false) return undefined
    const client = yield* Effect.serviceOption(SqliteClientTag)
    if (Option.isNone(client)) return undefined
    const { filename, readonly } = client.value.config
    if (readonly === true || filename === ":memory:" || filename === "" || filename.startsWith("file:")) {
      return undefined
    }
    const sql = client.value
    const busy = yield* sql<{ timeout: number }>`PRAGMA busy_timeout`
    const synchronous = yield* sql<{ synchronous: number }>`PRAGMA synchronous`
    const journal = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
    const level = Number(synchronous[0]?.synchronous ?? 1)
    return yield* SqliteWriter.open(filename, {
      busyTimeoutMs: Number(busy[0]?.timeout ?? 100),
      synchronous: level,
      // In WAL mode with NORMAL (the default), a commit writes the log and never waits for the disk.
      local: options.sqliteMainThread !== false && level <= 1 &&
        String(journal[0]?.journal_mode ?? "").toLowerCase() === "wal"
    })
  })

const retryPolicy = (options: SqlRecorderOptions) => {
  const policy: RetryPolicy.RetryPolicy = {
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: Math.max(1, Math.floor(options.maxAttempts)) }),
    ...(options.retryBudget === undefined ? {} : { budget: options.retryBudget }),
    ...(options.retryBaseDelay === undefined ? {} : { baseDelay: options.retryBaseDelay }),
    ...options.retry
  }
  return Either.match(RetryPolicy.validate(policy, retryDefaults), {
    onLeft: (error) => Effect.fail(error),
    onRight: () => Effect.succeed(resolvePolicy(policy))
  })
}

/**
 * The `Recorder` over the ambient `SqlClient`, and the `RunLedger` the runtime reads runs back through to
 * resume, cancel, retry and de-duplicate them (same database, same retry policy).
 */
export const layer = (
  options: SqlRecorderOptions = {}
): Layer.Layer<
  Recorder | RunLedger,
  MigrationsPending | MigrationError | SqlError.SqlError | RetryPolicy.InvalidRetryPolicy | DriverNotInstalled,
  SqlClient.SqlClient
> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const recorder = yield* make(options)
      const ring = yield* Effect.serviceOption(Encryption)
      const ledger = yield* makeLedger(yield* retryPolicy(options), Option.getOrUndefined(ring))
      return Context.make(Recorder, recorder).pipe(Context.add(RunLedger, ledger))
    })
  )

/** The `Recorder` and its `SqlClient` for a database URL (`sqlite:./agent.db`, `postgres://…`). */
export const layerFromUrl = (
  databaseUrl: string,
  options?: SqlRecorderOptions & { readonly database?: DatabaseOptions | undefined }
): Layer.Layer<Recorder | RunLedger | SqlClient.SqlClient, LayerError> =>
  layer(options).pipe(Layer.provideMerge(Database.layerFromUrl(databaseUrl, options?.database)))
