import { SqlClient, SqlError } from "@effect/sql"
import { Clock, Data, Duration, Effect, Either, Random } from "effect"
import { progressStatements, rowsStatements } from "./batch.js"
import { describe, isTransient } from "./classify.js"
import type { Plan } from "./plan.js"

/** The run's row was not where the event expects it (another writer, the sweep, a wrong status): not retried. */
export class WriteConflict extends Data.TaggedError("WriteConflict")<{ readonly message: string }> {}

/** Why a write failed. */
export type WriteError = SqlError.SqlError | WriteConflict

/** The retry policy of recorder writes. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 5). */
  readonly maxAttempts: number
  /** Total time the attempts and waits may take (default 2 seconds). */
  readonly budget: Duration.Duration
  /** The first wait; each further wait doubles, ±20% jitter (default 100 ms). */
  readonly baseDelay: Duration.Duration
}

/** The default policy: 5 attempts within about 2 seconds. */
export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  budget: Duration.seconds(2),
  baseDelay: Duration.millis(100)
}

/** A write that failed after `attempts` attempts. */
export interface Failed {
  readonly error: WriteError
  readonly attempts: number
  readonly transient: boolean
}

/** Whether a failure may go away when the write is tried again. */
export const retryable = (error: WriteError): boolean => error._tag === "SqlError" && isTransient(error)

/** A message for a failed write. */
export const describeWriteError = (error: WriteError): string =>
  error._tag === "WriteConflict" ? error.message : describe(error)

/**
 * Runs `write` until it succeeds, fails for good, or the policy's attempts or time budget are spent. Waits
 * double from `baseDelay` with ±20% jitter; each attempt is also cut off when the budget runs out.
 */
export const withRetry = <A>(
  policy: RetryPolicy,
  write: Effect.Effect<A, WriteError>
): Effect.Effect<Either.Either<{ readonly value: A; readonly attempts: number }, Failed>> =>
  Effect.gen(function*() {
    const budget = Duration.toMillis(policy.budget)
    const start = yield* Clock.currentTimeMillis
    const timedOut = () => new SqlError.SqlError({ message: "the write timed out", cause: { code: "ETIMEDOUT" } })
    for (let attempts = 1;; attempts++) {
      const left = Math.max(1, budget - ((yield* Clock.currentTimeMillis) - start))
      const result = yield* Effect.either(
        // Interruptible even inside the writer's uninterruptible batch, so that the timeout can cut a hung attempt.
        Effect.timeoutFail(Effect.interruptible(write), { duration: Duration.millis(left), onTimeout: timedOut }).pipe(
          // A failed ROLLBACK on a broken connection is a defect in @effect/sql; it is this attempt's failure.
          Effect.catchAllDefect((defect) =>
            Effect.fail(
              defect instanceof SqlError.SqlError
                ? defect
                : new SqlError.SqlError({ cause: defect, message: "the write failed unexpectedly" })
            )
          )
        )
      )
      if (Either.isRight(result)) return Either.right({ value: result.right, attempts })
      const transient = retryable(result.left)
      const jitter = 0.8 + 0.4 * (yield* Random.next)
      const delay = Duration.toMillis(policy.baseDelay) * 2 ** (attempts - 1) * jitter
      const elapsed = (yield* Clock.currentTimeMillis) - start
      if (!transient || attempts >= policy.maxAttempts || elapsed + delay >= budget) {
        return Either.left({ error: result.left, attempts, transient })
      }
      yield* Effect.sleep(Duration.millis(delay))
    }
  })

/**
 * When a run's row did not move for an event, the event is either already durable (a commit whose reply was
 * lost, then retried: succeed without writing again) or a conflict (another writer, the sweep, a wrong status).
 */
const resolveMiss = (sql: SqlClient.SqlClient, plan: Plan): Effect.Effect<void, WriteError> =>
  Effect.gen(function*() {
    const same = yield* sql`SELECT 1 AS one FROM run_events WHERE agent_run_id = ${plan.runId}
      AND sequence_index = ${plan.sequenceIndex} AND event_type = ${plan.eventType} AND created_at = ${plan.at}`
    if (same.length === 0) return yield* conflict(sql, plan)
  })

const conflict = (sql: SqlClient.SqlClient, plan: Plan) =>
  Effect.flatMap(
    sql<{ status: string; last_sequence_index: number }>`SELECT status, last_sequence_index FROM agent_runs
      WHERE id = ${plan.runId}`,
    (rows) => {
      const run = rows[0]
      const what = `${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId}`
      const message = run === undefined
        ? `${what}: the run has no row (was its run.started recorded in this database?)`
        : plan.sequenceIndex === 0
        ? `${what}: a run with this id or idempotency key already exists`
        : Number(run.last_sequence_index) !== plan.sequenceIndex - 1
        ? `${what}: the run's last recorded event is #${run.last_sequence_index}, expected #${plan.sequenceIndex - 1}`
        : `${what}: the run is '${run.status}', expected ${plan.expect?.map((s) => `'${s}'`).join(" or ")}`
      return Effect.fail(new WriteConflict({ message }))
    }
  )

/** One event: its compare-and-swap move, then its rows; a miss is resolved as a replay or a conflict. */
const applyOne = (sql: SqlClient.SqlClient, plan: Plan) =>
  Effect.gen(function*() {
    const moved = yield* plan.advance()
    if (moved.length === 0) return yield* resolveMiss(sql, plan)
    for (const statement of rowsStatements(sql, [plan])) yield* statement
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
    for (const statement of rowsStatements(sql, plans)) yield* statement
  })

/** Writes events in one transaction. */
export const transact = (sql: SqlClient.SqlClient, plans: ReadonlyArray<Plan>): Effect.Effect<void, WriteError> =>
  sql.withTransaction(plans.length === 1 ? applyOne(sql, plans[0]!) : applyMany(sql, plans))
