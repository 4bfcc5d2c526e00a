import { SqlClient, SqlError } from "@effect/sql"
import { type HookEvent, Lifecycle, RetryPolicy } from "@sextant/runtime"
import { Cause, Clock, Duration, Effect, Either, Exit, Option, Schema } from "effect"
import { progressStatements, writeRows } from "./batch.js"
import { describe, isTransient } from "./classify.js"
import { WriteConflict } from "./conflict.js"
import { abandonable } from "./connections.js"
import { unescapeText } from "./escape.js"
import type { Plan } from "./plan.js"
import { Timestamp } from "./tables.js"

export { WriteConflict }

/** Why a write failed. */
export type WriteError = SqlError.SqlError | WriteConflict

/**
 * The recorder's retry defaults: 5 attempts within 2 seconds, waits doubling from 100 ms with ±20% jitter.
 * An attempt gets at most half the budget unless `attemptTimeout` says otherwise, so that a connection that
 * stopped answering leaves time for a retry on a fresh one.
 */
export const retryDefaults: Required<RetryPolicy.RetryPolicy> = {
  maxAttempts: 5,
  baseDelay: "100 millis",
  maxDelay: "1 second",
  jitter: 0.2,
  budget: "2 seconds",
  attemptTimeout: Duration.infinity,
  maxRetryAfter: Duration.zero
}

/** A user's policy with the recorder's defaults; throws `InvalidRetryPolicy` naming a bad field. */
export const resolvePolicy = (policy?: RetryPolicy.RetryPolicy): RetryPolicy.Resolved => {
  const resolved = RetryPolicy.resolve(policy, retryDefaults)
  return policy?.attemptTimeout === undefined
    ? { ...resolved, attemptTimeout: Duration.millis(Duration.toMillis(resolved.budget) / 2) }
    : resolved
}

/** The default policy. */
export const defaultRetryPolicy: RetryPolicy.Resolved = resolvePolicy()

/** A write that failed after `attempts` attempts. */
export interface Failed {
  readonly error: WriteError
  readonly attempts: number
  /** Whether the last failure may go away when tried again (busy, connection lost, no reply). */
  readonly transient: boolean
  /** Whether the last attempt was cut because the database did not answer in time. */
  readonly timedOut: boolean
}

/** Whether a failure may go away when the write is tried again. */
export const retryable = (error: WriteError): boolean => error._tag === "SqlError" && isTransient(error)

/** A message for a failed write. */
export const describeWriteError = (error: WriteError): string =>
  error._tag === "WriteConflict" ? error.message : describe(error)

const noReply = (ms: number) => {
  const message = `the database did not answer within ${Math.round(ms)} ms; the connection was abandoned`
  return new SqlError.SqlError({ message, cause: { code: "ETIMEDOUT", message } })
}

/** Where a continued retry starts: the first attempt's start and the attempts already made. */
export interface Continuation {
  readonly startedAt: number
  readonly attempts: number
  readonly last: Failed
}

/** Options of `withRetry`. */
export interface RetryOptions {
  /** A timed-out attempt ends the retries (the caller splits the work), instead of being retried. */
  readonly splitOnTimeout?: boolean | undefined
  /** Continue a retry begun elsewhere: its time budget and attempts count from there. */
  readonly from?: Continuation | undefined
  /** Runs once the first attempt has ended, however it ended (when it is cut: before its abandonment). */
  readonly afterFirstAttempt?: Effect.Effect<void> | undefined
  /**
   * The write ends by itself, as a SQLite statement does within its busy timeout (the recorder's writer
   * thread): an attempt is never cut. One that outlasts the budget is waited for, and its own outcome (its
   * driver error, or its commit) is the write's, as when the writer ran on the main thread.
   */
  readonly uncut?: boolean | undefined
  /**
   * The first attempt runs without a timer around it (no race, no forked fiber): for a synchronous driver
   * (SQLite), whose statement a timer cannot cut anyway. Only when it fails with a retryable error does the
   * policy's machinery start, counting that attempt as its first (same waits, attempts and budget). Implied
   * by `uncut`.
   */
  readonly bareFirst?: boolean | undefined
}

/**
 * Runs `write` under the policy (`RetryPolicy.retry`: exponential waits with jitter, bounded attempts and total
 * time) until it succeeds, fails for good, or the attempts or budget are spent. Each attempt is cut at the
 * policy's `attemptTimeout` for real: the connections it holds are abandoned (see `connections.ts`).
 */
export const withRetry = <A>(
  policy: RetryPolicy.Resolved,
  write: Effect.Effect<A, WriteError>,
  options: RetryOptions = {}
): Effect.Effect<Either.Either<{ readonly value: A; readonly attempts: number }, Failed>> =>
  (options.uncut === true || options.bareFirst === true) && options.from === undefined
    ? bareFirst(policy, write, options)
    : retried(policy, write, options)

/**
 * The common case without the retry machinery: one attempt, bare. A retryable failure continues under the
 * policy as if that attempt had been its first (`retried` with `prior`), so waits, attempts and budget are
 * those of the full path.
 */
const bareFirst = <A>(
  policy: RetryPolicy.Resolved,
  write: Effect.Effect<A, WriteError>,
  options: RetryOptions
): Effect.Effect<Either.Either<{ readonly value: A; readonly attempts: number }, Failed>> =>
  Effect.flatMap(Clock.currentTimeMillis, (startedAt) => {
    const own = options.uncut === true ? Effect.uninterruptible(write) : write
    const first = options.afterFirstAttempt
    return Effect.flatMap(Effect.either(first === undefined ? own : Effect.ensuring(own, first)), (outcome) => {
      if (Either.isRight(outcome)) return Effect.succeed(Either.right({ value: outcome.right, attempts: 1 }))
      const error = outcome.left
      if (!retryable(error) || policy.maxAttempts <= 1) {
        return Effect.succeed(Either.left({ error, attempts: 1, transient: retryable(error), timedOut: false }))
      }
      return retried(policy, write, { ...options, afterFirstAttempt: undefined }, { startedAt, error })
    })
  })

const retried = <A>(
  policy: RetryPolicy.Resolved,
  write: Effect.Effect<A, WriteError>,
  options: RetryOptions,
  prior?: { readonly startedAt: number; readonly error: WriteError }
): Effect.Effect<Either.Either<{ readonly value: A; readonly attempts: number }, Failed>> =>
  Effect.gen(function*() {
    const from = options.from
    const now = yield* Clock.currentTimeMillis
    const before = from?.attempts ?? 0
    const began = from?.startedAt ?? prior?.startedAt
    const budget = Duration.toMillis(policy.budget) - (began === undefined ? 0 : now - began)
    if (from !== undefined && (budget <= 0 || before >= policy.maxAttempts)) return Either.left(from.last)
    if (prior !== undefined && budget <= 0) {
      return Either.left({ error: prior.error, attempts: 1, transient: true, timedOut: false })
    }
    const attemptMs = Math.min(Duration.toMillis(policy.attemptTimeout), budget)
    const cut = noReply(attemptMs)
    let count = 0
    // With `uncut`, the last attempt's own exit (the budget's timeout waits for it, then reports itself).
    let last: Exit.Exit<A, WriteError> | undefined
    const attempt = Effect.suspend(() => {
      // The attempt `bareFirst` made already: its failure again, so the policy waits before the next.
      if (++count === 1 && prior !== undefined) return Effect.fail(prior.error)
      const first = count === 1 ? options.afterFirstAttempt : undefined
      if (options.uncut === true) {
        last = undefined
        const own = Effect.uninterruptible(Effect.onExit(write, (exit) => Effect.sync(() => (last = exit))))
        return first === undefined ? own : Effect.ensuring(own, first)
      }
      const bounded = abandonable(write, first).pipe(
        // A failed ROLLBACK or COMMIT on a broken connection is a defect in @effect/sql; it is this attempt's failure.
        Effect.catchAllDefect((defect) =>
          Effect.fail(
            defect instanceof SqlError.SqlError
              ? defect
              : new SqlError.SqlError({ cause: defect, message: "the write failed unexpectedly" })
          )
        ),
        Effect.timeoutFail({ duration: Duration.millis(attemptMs), onTimeout: () => cut })
      )
      return first === undefined ? bounded : Effect.ensuring(bounded, first)
    })
    const outcome = yield* Effect.either(
      RetryPolicy.retry(attempt, {
        ...policy,
        maxAttempts: policy.maxAttempts - before,
        budget: Duration.millis(budget),
        // The attempt bounds itself (above); the budget still cuts the last one.
        attemptTimeout: Duration.infinity
      }, {
        isRetryable: (error) => retryable(error) && !(options.splitOnTimeout === true && error === cut),
        onTimeout: () => cut
      })
    )
    if (Either.isRight(outcome)) {
      return Either.right({ value: outcome.right.value, attempts: before + outcome.right.attempts })
    }
    const { attempts, error } = outcome.left
    if (error === cut && last !== undefined) {
      // An uncut attempt outlasted the budget: what it did is the outcome.
      const own = last
      if (Exit.isSuccess(own)) return Either.right({ value: own.value, attempts: before + attempts })
      const failure = Cause.failureOption(own.cause)
      if (Option.isSome(failure)) {
        const real = failure.value
        return Either.left({ error: real, attempts: before + attempts, transient: retryable(real), timedOut: false })
      }
    }
    return Either.left({ error, attempts: before + attempts, transient: retryable(error), timedOut: error === cut })
  })

/** The `agent_runs` columns that say why a compare-and-swap missed. */
export interface MissedRun {
  readonly status: HookEvent.RunStatus
  readonly last_sequence_index: number
  readonly error_tag: string | null
  readonly error_message: string | null
}

/** Why a status compare-and-swap missed, naming the sweep when it ended the run. */
export const missMessage = (plan: Plan, run: MissedRun | undefined): string => {
  const what = `${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId}`
  const from = plan.step.from
  const error = run === undefined ? undefined : {
    tag: run.error_tag === null ? null : unescapeText(run.error_tag),
    message: run.error_message === null ? null : unescapeText(run.error_message)
  }
  // The sweep's event took the next sequence index of the run it ended: say so, not "a sequence gap".
  const swept = error?.tag === "RunInterrupted" || error?.tag === "RunAbandoned"
  return run === undefined
    ? `${what}: the run has no row (was its run.started recorded in this database?)`
    : from === "new"
    ? `${what}: a run with this id or idempotency key already exists`
    : !swept && Number(run.last_sequence_index) !== plan.sequenceIndex - 1
    ? `${what}: the run's last recorded event is #${run.last_sequence_index}, expected #${plan.sequenceIndex - 1}`
    : Lifecycle.statusConflictMessage(plan.event, run.status, from, error)
}

/** The query `missMessage` reads (one run by its stored id). */
export const MISSED_RUN_SQL =
  "SELECT status, last_sequence_index, error_tag, error_message FROM agent_runs WHERE id = ?"

/** The query `isRecorded` reads: the event's `run_events` row (run, index, type, time). */
export const RECORDED_SQL = "SELECT 1 AS one FROM run_events WHERE agent_run_id = ? AND sequence_index = ? " +
  "AND event_type = ? AND created_at = ?"

/** Errors that say why a status compare-and-swap missed. */
const conflict = (sql: SqlClient.SqlClient, plan: Plan) =>
  Effect.flatMap(
    sql<
      MissedRun
    >`SELECT status, last_sequence_index, error_tag, error_message FROM agent_runs WHERE id = ${plan.runKey}`,
    (rows) => Effect.fail(new WriteConflict({ message: missMessage(plan, rows[0]) }))
  )

/** The event's `run_events` row is there: it was committed before (a commit whose reply was lost). */
const isRecorded = (sql: SqlClient.SqlClient, plan: Plan) =>
  Effect.map(
    sql`SELECT 1 AS one FROM run_events WHERE agent_run_id = ${plan.runKey}
      AND sequence_index = ${plan.sequenceIndex} AND event_type = ${plan.eventType} AND created_at = ${plan.at}`,
    (rows) => rows.length > 0
  )

/**
 * When a run's row did not move for an event, the event is either already durable (a commit whose reply was
 * lost, then retried: succeed without writing again) or a conflict (another writer, the sweep, a wrong status).
 */
const resolveMiss = (sql: SqlClient.SqlClient, plan: Plan): Effect.Effect<void, WriteError> =>
  Effect.flatMap(isRecorded(sql, plan), (recorded) => (recorded ? Effect.void : conflict(sql, plan)))

/** One event: its compare-and-swap move, then its rows; a miss is resolved as a replay or a conflict. */
const applyOne = (sql: SqlClient.SqlClient, plan: Plan) =>
  Effect.gen(function*() {
    const moved = yield* plan.advance()
    if (moved.length === 0) return yield* resolveMiss(sql, plan)
    yield* writeRows(sql, [plan])
  })

/**
 * Many events (of distinct runs): status moves one by one, plain progress moves in one UPDATE, then every
 * table's rows as multi-row INSERTs. Any miss fails the batch, which the writer then retries event by event.
 */
const applyMany = (sql: SqlClient.SqlClient, plans: ReadonlyArray<Plan>) =>
  Effect.gen(function*() {
    const isolate = (why: string) => new WriteConflict({ message: `${why}: writing the batch's events one by one` })
    if (new Set(plans.map((p) => p.runId)).size !== plans.length) return yield* isolate("two events of one run")
    for (const plan of plans) {
      if (plan.progress === undefined && (yield* plan.advance()).length === 0) {
        return yield* isolate(`${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId} did not move its run`)
      }
    }
    const progressing = plans.filter((p) => p.progress !== undefined)
    let moved = 0
    for (const statement of progressStatements(sql, progressing)) moved += (yield* statement).length
    if (moved !== progressing.length) return yield* isolate("a run did not move")
    yield* writeRows(sql, plans).pipe(Effect.catchTag("WriteConflict", (e) => isolate(e.message)))
  })

/**
 * The events of one caller (one `record`, or one `recordAll`), in order: each its own move and rows, so that a
 * miss names its event (`WriteConflict.index`) and a replay of an already durable event writes nothing.
 */
const applyGroup = (sql: SqlClient.SqlClient, plans: ReadonlyArray<Plan>) =>
  plans.length === 1 ? applyOne(sql, plans[0]!) : Effect.forEach(plans, (plan, index) =>
    applyOne(sql, plan).pipe(
      Effect.catchTag("WriteConflict", (e) => Effect.fail(new WriteConflict({ message: e.message, index })))
    ), { discard: true })

/**
 * The events of several callers in rounds: the first event of every run, then the second, … (a caller's
 * events keep their order; one round holds at most one event per run, as `applyMany` needs).
 */
export const rounds = (groups: ReadonlyArray<ReadonlyArray<Plan>>): ReadonlyArray<ReadonlyArray<Plan>> => {
  const out: Array<Array<Plan>> = []
  const seen = new Map<string, number>()
  for (const group of groups) {
    for (const plan of group) {
      const round = seen.get(plan.runId) ?? 0
      seen.set(plan.runId, round + 1)
      const list = out[round]
      if (list === undefined) out[round] = [plan]
      else list.push(plan)
    }
  }
  return out
}

/** The Postgres channel a commit of run events is announced on (`LISTEN sextant_events`; channels are per database). */
export const EVENTS_CHANNEL = "sextant_events"

/** A notification's payload: the run's last committed sequence index, a colon, the run's stored id. */
export const eventsPayload = (runKey: string, sequenceIndex: number): string => `${sequenceIndex}:${runKey}`

/**
 * On Postgres, one `pg_notify` per run the transaction writes to, with its last sequence index: delivered to
 * listeners when (and only if) the transaction commits, so a live tail wakes as soon as the events are
 * readable. One statement for all the runs of a batch; nothing on SQLite (no notifications: tails poll).
 */
const announce = (sql: SqlClient.SqlClient, plans: ReadonlyArray<Plan>): Effect.Effect<void, SqlError.SqlError> => {
  if (!sql.onDialectOrElse({ pg: () => true, orElse: () => false }) || plans.length === 0) return Effect.void
  const last = new Map<string, number>()
  for (const p of plans) last.set(p.runKey, Math.max(last.get(p.runKey) ?? -1, p.sequenceIndex))
  const payloads = [...last].map(([run, seq]) => eventsPayload(run, seq))
  const values = payloads.map((_, i) => `($${i + 2})`).join(", ")
  return Effect.asVoid(
    sql.unsafe(`SELECT pg_notify($1, v) FROM (VALUES ${values}) AS t(v)`, [EVENTS_CHANNEL, ...payloads])
  )
}

/** Writes events (of distinct runs when there are several) in one transaction. */
export const transact = (sql: SqlClient.SqlClient, plans: ReadonlyArray<Plan>): Effect.Effect<void, WriteError> =>
  sql.withTransaction(
    Effect.zipRight(plans.length === 1 ? applyOne(sql, plans[0]!) : applyMany(sql, plans), announce(sql, plans))
  )

/**
 * One event written only if its run moves: a miss is a `WriteConflict`, never taken for the replay of an
 * earlier commit. For the sweep, whose events every sweeper makes anew: two sweepers that read the clock in the
 * same millisecond make identical events, and another's committed event is not this one's lost reply.
 */
export const transactFresh = (sql: SqlClient.SqlClient, plan: Plan): Effect.Effect<void, WriteError> =>
  sql.withTransaction(Effect.gen(function*() {
    const moved = yield* plan.advance()
    if (moved.length === 0) return yield* conflict(sql, plan)
    yield* writeRows(sql, [plan])
    yield* announce(sql, [plan])
  }))

/**
 * Writes the events of one or more callers in one transaction. One caller's events are applied one by one;
 * several callers' in rounds of multi-row statements, any miss failing the batch (the writer then retries
 * caller by caller).
 */
export const transactGroups = (
  sql: SqlClient.SqlClient,
  groups: ReadonlyArray<ReadonlyArray<Plan>>
): Effect.Effect<void, WriteError> =>
  sql.withTransaction(
    Effect.zipRight(
      groups.length === 1
        ? applyGroup(sql, groups[0]!)
        : Effect.forEach(rounds(groups), (round) => applyMany(sql, round), { discard: true }),
      announce(sql, groups.flat())
    )
  )

const decodeTime = Schema.decodeUnknownSync(Timestamp)

/** How long the durability check may take. */
const CHECK_WITHIN = Duration.seconds(1)

/**
 * Which of these events are durable, read once (bounded, on a fresh connection) after their write failed for
 * good: a commit whose reply was lost is not a failed write. Nothing is known durable when the read fails.
 */
export const durable = (sql: SqlClient.SqlClient, plans: ReadonlyArray<Plan>): Effect.Effect<ReadonlySet<Plan>> => {
  const key = (run: string, seq: number, type: string, at: string) => `${run}\u0000${seq}\u0000${type}\u0000${at}`
  return abandonable(
    sql<{ agent_run_id: string; sequence_index: number; event_type: string; created_at: string | Date }>`
      SELECT agent_run_id, sequence_index, event_type, created_at FROM run_events
      WHERE agent_run_id IN ${sql.in(plans.map((p) => p.runKey))}
        AND sequence_index IN ${sql.in([...new Set(plans.map((p) => p.sequenceIndex))])}`
  ).pipe(
    Effect.map((rows) => {
      const found = new Set(
        rows.map((r) => key(r.agent_run_id, Number(r.sequence_index), r.event_type, decodeTime(r.created_at)))
      )
      return new Set(plans.filter((p) => found.has(key(p.runKey, p.sequenceIndex, p.eventType, p.at))))
    }),
    Effect.timeout(CHECK_WITHIN),
    Effect.catchAllCause(() => Effect.succeed(new Set<Plan>()))
  )
}
