/**
 * The sweep of runs that will not finish by themselves: `running` runs with no recorded progress for too
 * long (their process died) end as `error`/`stale_running` with a `run.interrupted` event, and runs waiting
 * too long for a client, an approval or a human end as `error`/`abandoned_waiting` with `run.abandoned`.
 * Each event continues its run's sequence; a run that moves meanwhile is left alone (compare-and-swap).
 *
 * Several processes may sweep one database at once, and each stale run is ended exactly once. On Postgres
 * each kind is swept in one transaction that selects its runs `FOR UPDATE SKIP LOCKED`: concurrent sweepers
 * take disjoint runs (none waits on another's), and a run is moved while its row is locked. On SQLite the
 * database's single writer serialises the moves: a second sweeper's compare-and-swap on a run already ended
 * misses and it leaves the run alone (no lock is needed, nor available).
 *
 * Runs that another owner recovers (a fleet's runs, which continue on another runner) are marked in their
 * `metadata` and named by `handBack`: the sweep never interrupts them and hands their ids back instead.
 */
import { SqlClient, SqlError } from "@effect/sql"
import { type HookEvent, Lifecycle, type RetryPolicy } from "@sextant/runtime"
import { Clock, Duration, Effect, Either, ParseResult, Schema } from "effect"
import { SweepOptionsError } from "./Errors.js"
import { plan } from "./internal/plan.js"
import { agentRuns } from "./internal/tables.js"
import { durable, resolvePolicy, transactFresh, withRetry, type WriteError } from "./internal/write.js"

/** Options of `Sweep.run`. */
export interface SweepOptions {
  /** A `running` run with no progress for this long is interrupted. */
  readonly staleRunningAfter: Duration.DurationInput
  /** A `waiting_*` run with no progress for this long is abandoned. */
  readonly abandonedWaitingAfter: Duration.DurationInput
  /** The most runs of each kind one call sweeps (default 1000). */
  readonly limit?: number | undefined
  /** How its statements are retried (the recorder's defaults: 5 attempts within 2 seconds). */
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  /** Stale `running` runs another owner recovers (a fleet's): handed back, never interrupted. */
  readonly handBack?: HandBack | undefined
}

/**
 * Which stale runs the sweep hands back instead of interrupting, and to whom. A `running` run whose `metadata`
 * has the top-level key `metadataKey` (any value; `RunOptions.metadata`) is left `running`, and its id is
 * passed to `to` once the sweep's moves are committed. Hand-back is at least once: the run is untouched, so a
 * later sweep hands it back again until its owner records progress on it (an event, a claim or a heartbeat).
 * Waiting runs are abandoned as any other (a pause holds nothing on a runner).
 */
export interface HandBack {
  /** The metadata key that marks such runs: 1..64 of A-Z, a-z, 0-9, `_`, `-` (e.g. "fleet"). */
  readonly metadataKey: string
  /** Receives the ids of the stale runs handed back (not called when there are none); it handles its own errors. */
  readonly to?: ((runIds: ReadonlyArray<string>) => Effect.Effect<void>) | undefined
}

/** The runs one sweep ended. */
export interface SweepResult {
  /** Runs moved to `error`/`stale_running` (with `run.interrupted`). */
  readonly interrupted: ReadonlyArray<string>
  /** Runs moved to `error`/`abandoned_waiting` (with `run.abandoned`). */
  readonly abandoned: ReadonlyArray<string>
  /** With `handBack`: the stale `running` runs handed back (left `running`). */
  readonly handedBack?: ReadonlyArray<string>
}

const Candidate = agentRuns.Row.pick("id", "status", "last_sequence_index", "iteration_count")
type Candidate = typeof Candidate.Type
const COLUMNS = Object.keys(Candidate.fields).join(", ")
const decodeCandidates = Schema.decodeUnknown(Schema.Array(Candidate))

/** A statement under the retry policy; a write conflict is the caller's to read. */
const retried = <A, E extends WriteError>(policy: RetryPolicy.Resolved, statement: Effect.Effect<A, E>) =>
  Effect.flatMap(
    withRetry(policy, statement),
    (outcome) => (Either.isRight(outcome) ? Effect.succeed(outcome.right.value) : Effect.fail(outcome.left.error as E))
  )

/** The event that ends a swept run, continuing its sequence. */
const event = (run: Candidate, kind: "RunInterrupted" | "RunAbandoned", now: number) =>
  ({
    _tag: kind,
    runId: run.id,
    sequenceIndex: run.last_sequence_index + 1,
    iteration: run.iteration_count,
    timestamp: now,
    failureReason: kind === "RunInterrupted" ? "stale_running" : "abandoned_waiting",
    previousStatus: run.status as HookEvent.RunStatus
  }) as const

/** One run moved by compare-and-swap (SQLite): false when it moved meanwhile (alive, or swept by another). */
const sweepOne = (
  sql: SqlClient.SqlClient,
  policy: RetryPolicy.Resolved,
  run: Candidate,
  kind: "RunInterrupted" | "RunAbandoned",
  now: number
) =>
  Effect.gen(function*() {
    const planned = plan(sql, event(run, kind, now))
    return yield* retried(policy, transactFresh(sql, planned)).pipe(
      Effect.as(true),
      // The run moved since it was selected: it is alive (or someone else swept it).
      Effect.catchTag("WriteConflict", () => Effect.succeed(false)),
      // A commit whose reply was lost swept the run all the same.
      Effect.catchTag("SqlError", (error) =>
        Effect.flatMap(durable(sql, [planned]), (done) => (done.size > 0 ? Effect.succeed(true) : Effect.fail(error))))
    )
  })

/** How many runs one Postgres sweep transaction locks and moves. */
const CHUNK = 25

const METADATA_KEY = /^[A-Za-z0-9_-]{1,64}$/

/** The handBack option as given, or a typed error naming what is wrong with it. */
const checkHandBack = (handBack: HandBack | undefined): Effect.Effect<HandBack | undefined, SweepOptionsError> => {
  if (handBack === undefined) return Effect.succeed(undefined)
  if (typeof handBack.metadataKey !== "string" || !METADATA_KEY.test(handBack.metadataKey)) {
    return Effect.fail(
      new SweepOptionsError({
        field: "handBack.metadataKey",
        message: `handBack.metadataKey: ${
          JSON.stringify(handBack.metadataKey)
        } is not a metadata key the sweep can match; use 1..64 of A-Z, a-z, 0-9, "_" or "-" (e.g. "fleet")`
      })
    )
  }
  if (handBack.to !== undefined && typeof handBack.to !== "function") {
    return Effect.fail(
      new SweepOptionsError({
        field: "handBack.to",
        message: "handBack.to: must be a function receiving the handed-back run ids and returning an Effect"
      })
    )
  }
  return Effect.succeed(handBack)
}

/** Whether a run's metadata has `key` (the key is checked: letters, digits, `_` and `-` only). */
const hasKey = (sql: SqlClient.SqlClient, key: string) =>
  sql.onDialectOrElse({
    pg: () => sql`(metadata -> ${key}) IS NOT NULL`,
    orElse: () => sql`json_type(metadata, ${`$."${key}"`}) IS NOT NULL`
  })

/** Ends stale `running` and abandoned `waiting_*` runs; returns the ids it ended (and those it handed back). */
export const run = (
  options: SweepOptions
): Effect.Effect<
  SweepResult,
  SqlError.SqlError | RetryPolicy.InvalidRetryPolicy | SweepOptionsError,
  SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const policy = yield* Effect.try({
      try: () => resolvePolicy(options.retry),
      catch: (e) => e as RetryPolicy.InvalidRetryPolicy
    })
    const handBack = yield* checkHandBack(options.handBack)
    const now = yield* Clock.currentTimeMillis
    const limit = Math.max(1, Math.floor(options.limit ?? 1000))
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    const before = (after: Duration.DurationInput) => new Date(now - Duration.toMillis(after)).toISOString()
    const select = (
      statuses: ReadonlyArray<string>,
      cutoff: string,
      marked: "exclude" | "only" | "any",
      lockChunk?: number
    ) => {
      const mark = handBack === undefined || marked === "any"
        ? []
        : marked === "only"
        ? [hasKey(sql, handBack.metadataKey)]
        : [sql`NOT (${hasKey(sql, handBack.metadataKey)})`]
      const where = sql.and([sql`status IN ${sql.in(statuses)}`, sql`last_progress_at < ${cutoff}`, ...mark])
      return sql`SELECT ${sql.literal(COLUMNS)} FROM agent_runs WHERE ${where}
        ORDER BY last_progress_at LIMIT ${lockChunk ?? limit}${
        sql.literal(lockChunk === undefined ? "" : " FOR UPDATE SKIP LOCKED")
      }`.pipe(
        Effect.flatMap(decodeCandidates),
        Effect.catchTag("ParseError", (error) =>
          Effect.fail(
            new SqlError.SqlError({
              cause: error,
              message: `a run row could not be read: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
            })
          ))
      )
    }
    const sweepEach = (candidates: ReadonlyArray<Candidate>, kind: "RunInterrupted" | "RunAbandoned") =>
      Effect.map(
        Effect.forEach(candidates, (c) =>
          Effect.map(sweepOne(sql, policy, c, kind, now), (done) => (done ? [c.id] : []))),
        (ids) =>
          ids.flat()
      )
    // Postgres: the kind's runs locked (skipping those another sweeper holds) and moved, a chunk per
    // transaction (short transactions, each attempt well inside the retry policy's cut). Each move is a
    // savepoint (transactions nest), so one that misses leaves the others be.
    const sweepChunk = (
      statuses: ReadonlyArray<string>,
      cutoff: string,
      kind: "RunInterrupted" | "RunAbandoned",
      size: number
    ) =>
      retried(
        policy,
        sql.withTransaction(
          Effect.gen(function*() {
            const locked = yield* select(statuses, cutoff, kind === "RunInterrupted" ? "exclude" : "any", size)
            const ids: Array<string> = []
            for (const c of locked) {
              const moved = yield* transactFresh(sql, plan(sql, event(c, kind, now))).pipe(
                Effect.as(true),
                Effect.catchTag("WriteConflict", () => Effect.succeed(false))
              )
              if (moved) ids.push(c.id)
            }
            return { ids, full: locked.length === size }
          })
        )
      )
    const sweepLocked = (statuses: ReadonlyArray<string>, cutoff: string, kind: "RunInterrupted" | "RunAbandoned") =>
      Effect.gen(function*() {
        const ids: Array<string> = []
        let seen = 0
        while (seen < limit) {
          // At most `limit` runs in all, as on SQLite.
          const size = Math.min(CHUNK, limit - seen)
          const chunk = yield* sweepChunk(statuses, cutoff, kind, size)
          ids.push(...chunk.ids)
          seen += size
          if (!chunk.full) break
        }
        return ids
      })
    const sweepKind = (
      statuses: ReadonlyArray<string>,
      after: Duration.DurationInput,
      kind: "RunInterrupted" | "RunAbandoned"
    ) =>
      pg
        ? sweepLocked(statuses, before(after), kind)
        : Effect.flatMap(
          retried(policy, select(statuses, before(after), kind === "RunInterrupted" ? "exclude" : "any")),
          (candidates) => sweepEach(candidates, kind)
        )
    const interrupted = yield* sweepKind(["running"], options.staleRunningAfter, "RunInterrupted")
    const abandoned = yield* sweepKind(Lifecycle.pausedStatuses, options.abandonedWaitingAfter, "RunAbandoned")
    if (handBack === undefined) return { interrupted, abandoned }
    const handedBack = (yield* retried(
      policy,
      select(["running"], before(options.staleRunningAfter), "only")
    )).map((c) => c.id)
    if (handedBack.length > 0 && handBack.to !== undefined) yield* handBack.to(handedBack)
    return { interrupted, abandoned, handedBack }
  })
