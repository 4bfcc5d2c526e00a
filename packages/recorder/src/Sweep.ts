/**
 * The sweep of runs that will not finish by themselves: `running` runs with no recorded progress for too
 * long (their process died) end as `error`/`stale_running` with a `run.interrupted` event, and runs waiting
 * too long for a client, an approval or a human end as `error`/`abandoned_waiting` with `run.abandoned`.
 * Each event continues its run's sequence; a run that moves meanwhile is left alone (compare-and-swap).
 */
import { SqlClient, SqlError } from "@effect/sql"
import { type HookEvent, Lifecycle, type RetryPolicy } from "@sextant/runtime"
import { Clock, Duration, Effect, Either, ParseResult, Schema } from "effect"
import { plan } from "./internal/plan.js"
import { agentRuns } from "./internal/tables.js"
import { durable, resolvePolicy, transact, withRetry, type WriteError } from "./internal/write.js"

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
}

/** The runs one sweep ended. */
export interface SweepResult {
  /** Runs moved to `error`/`stale_running` (with `run.interrupted`). */
  readonly interrupted: ReadonlyArray<string>
  /** Runs moved to `error`/`abandoned_waiting` (with `run.abandoned`). */
  readonly abandoned: ReadonlyArray<string>
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

const sweepOne = (
  sql: SqlClient.SqlClient,
  policy: RetryPolicy.Resolved,
  run: Candidate,
  kind: "RunInterrupted" | "RunAbandoned",
  now: number
) =>
  Effect.gen(function*() {
    const event = {
      _tag: kind,
      runId: run.id,
      sequenceIndex: run.last_sequence_index + 1,
      iteration: run.iteration_count,
      timestamp: now,
      failureReason: kind === "RunInterrupted" ? "stale_running" : "abandoned_waiting",
      previousStatus: run.status as HookEvent.RunStatus
    } as const
    const planned = plan(sql, event)
    return yield* retried(policy, transact(sql, [planned])).pipe(
      Effect.as(true),
      // The run moved since it was selected: it is alive (or someone else swept it).
      Effect.catchTag("WriteConflict", () => Effect.succeed(false)),
      // A commit whose reply was lost swept the run all the same.
      Effect.catchTag("SqlError", (error) =>
        Effect.flatMap(durable(sql, [planned]), (done) => (done.size > 0 ? Effect.succeed(true) : Effect.fail(error))))
    )
  })

/** Ends stale `running` and abandoned `waiting_*` runs; returns the ids it ended. */
export const run = (
  options: SweepOptions
): Effect.Effect<SweepResult, SqlError.SqlError | RetryPolicy.InvalidRetryPolicy, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const policy = yield* Effect.try({
      try: () => resolvePolicy(options.retry),
      catch: (e) => e as RetryPolicy.InvalidRetryPolicy
    })
    const now = yield* Clock.currentTimeMillis
    const limit = Math.max(1, Math.floor(options.limit ?? 1000))
    const before = (after: Duration.DurationInput) => new Date(now - Duration.toMillis(after)).toISOString()
    const select = (statuses: ReadonlyArray<string>, cutoff: string) =>
      retried(
        policy,
        sql`SELECT ${sql.literal(COLUMNS)} FROM agent_runs
        WHERE status IN ${sql.in(statuses)} AND last_progress_at < ${cutoff}
        ORDER BY last_progress_at LIMIT ${limit}`
      ).pipe(
        Effect.flatMap(decodeCandidates),
        Effect.catchTag("ParseError", (error) =>
          Effect.fail(
            new SqlError.SqlError({
              cause: error,
              message: `a run row could not be read: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
            })
          ))
      )
    const sweep = (candidates: ReadonlyArray<Candidate>, kind: "RunInterrupted" | "RunAbandoned") =>
      Effect.map(
        Effect.forEach(candidates, (c) =>
          Effect.map(sweepOne(sql, policy, c, kind, now), (done) => (done ? [c.id] : []))),
        (ids) =>
          ids.flat()
      )
    const interrupted = yield* sweep(yield* select(["running"], before(options.staleRunningAfter)), "RunInterrupted")
    const abandoned = yield* sweep(
      yield* select(Lifecycle.pausedStatuses, before(options.abandonedWaitingAfter)),
      "RunAbandoned"
    )
    return { interrupted, abandoned }
  })
