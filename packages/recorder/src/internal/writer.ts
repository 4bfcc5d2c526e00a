import { SqlClient, SqlError } from "@effect/sql"
import { HookEvent, RecorderError, type RecorderService } from "@sextant/runtime"
import { Cause, Clock, Context, Deferred, Duration, Effect, Either, Queue, type Scope } from "effect"
import { NotJson } from "./json.js"
import { type Plan, plan } from "./plan.js"
import { describeWriteError, type Failed, type RetryPolicy, transact, withRetry } from "./write.js"

/** Options of the group-commit writer. */
export interface WriterOptions {
  readonly retry: RetryPolicy
  /** The most events one transaction carries (default 1000). */
  readonly maxBatch: number
}

interface Job {
  readonly plan: Plan
  readonly done: Deferred.Deferred<void, RecorderError>
}

const ACTIVE = ["running", "waiting_client_tool", "waiting_approval", "waiting_human_input"]

const recorderError = (plan: Plan, failed: Failed) =>
  new RecorderError({
    operation: "record",
    eventType: plan.eventType,
    runId: plan.runId,
    sequenceIndex: plan.sequenceIndex,
    attempts: failed.attempts,
    reason: failed.error._tag === "WriteConflict" ? "conflict" : failed.transient ? "transient" : "permanent",
    message: `recording ${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId} failed after ` +
      `${failed.attempts} attempt(s): ${describeWriteError(failed.error)}`,
    cause: failed.error
  })

/**
 * The recorder's single writer: callers enqueue an event's plan and wait; one fiber drains everything pending
 * into one transaction and completes each caller when it commits. A batch that fails for good is retried one
 * event per transaction, so only the event that caused the failure fails.
 */
export const makeWriter = (
  options: WriterOptions
): Effect.Effect<RecorderService, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const queue = yield* Queue.unbounded<Job>()

    // One best-effort write (no retries) so the run reads `error`/`recorder` if the database still takes it.
    const markFailed = (error: RecorderError) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const at = new Date(now).toISOString()
        return sql`UPDATE agent_runs SET status = 'error', failure_reason = 'recorder', error_tag = 'RecorderError',
          error_message = ${error.message}, finished_at = ${at}, updated_at = ${at}
          WHERE id = ${error.runId} AND status IN ${sql.in(ACTIVE)}`
      }).pipe(
        Effect.timeout(Duration.millis(500)),
        Effect.catchAllCause(() => Effect.void)
      )

    const outsideTransactions = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.mapInputContext(
        effect,
        (ctx: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(ctx) as Context.Context<R>
      )

    const fail = (job: Job, error: RecorderError) =>
      Effect.zipRight(Deferred.fail(job.done, error), error.reason === "conflict" ? Effect.void : markFailed(error))

    // Returns the failure when the retry budget was spent, so that isolation stops waiting on a database that is down.
    const write = (jobs: ReadonlyArray<Job>): Effect.Effect<Failed | undefined> =>
      Effect.gen(function*() {
        const outcome = yield* withRetry(options.retry, transact(sql, jobs.map((j) => j.plan)))
        if (Either.isRight(outcome)) {
          for (const job of jobs) yield* Deferred.succeed(job.done, undefined)
          return undefined
        }
        if (jobs.length > 1 && !outcome.left.transient) {
          // One by one, so that only the event that caused the failure fails.
          for (const [i, job] of jobs.entries()) {
            const spent = yield* write([job])
            if (spent !== undefined) {
              for (const rest of jobs.slice(i + 1)) yield* fail(rest, recorderError(rest.plan, spent))
              return spent
            }
          }
          return undefined
        }
        for (const job of jobs) yield* fail(job, recorderError(job.plan, outcome.left))
        return outcome.left.transient ? outcome.left : undefined
      })

    // Nothing may stop the writer: an unexpected failure fails the batch's callers, and the loop goes on.
    const guarded = (jobs: ReadonlyArray<Job>) =>
      Effect.catchAllCause(write(jobs), (cause) =>
        Effect.forEach(jobs, (job) =>
          Deferred.fail(
            job.done,
            recorderError(job.plan, {
              error: new SqlError.SqlError({ cause: Cause.squash(cause), message: "the recorder's writer failed" }),
              attempts: 1,
              transient: false
            })
          ), { discard: true }))
    const loop = Effect.forever(
      Effect.flatMap(
        Queue.takeBetween(queue, 1, options.maxBatch),
        (jobs) => Effect.uninterruptible(guarded([...jobs]))
      )
    )
    // Callers still waiting when the recorder closes get a typed error rather than waiting forever.
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Queue.takeAll(queue), (jobs) =>
        Effect.forEach(jobs, (job) =>
          Deferred.fail(
            job.done,
            new RecorderError({
              operation: "record",
              eventType: job.plan.eventType,
              runId: job.plan.runId,
              sequenceIndex: job.plan.sequenceIndex,
              attempts: 0,
              reason: "transient",
              message: "the recorder was shut down before this event was written"
            })
          ), { discard: true }))
    )
    // The writer must not join a transaction that happens to be open where the recorder was built.
    yield* Effect.forkScoped(outsideTransactions(Effect.withTracerEnabled(loop, false)))

    return {
      record: (event) =>
        Effect.gen(function*() {
          const planned = Effect.try({ try: () => plan(sql, event), catch: (e) => e })
          const made = yield* Effect.either(planned)
          if (Either.isLeft(made)) {
            const cause = made.left
            const error = new RecorderError({
              operation: "record",
              eventType: HookEvent.eventType(event),
              runId: event.runId,
              sequenceIndex: event.sequenceIndex,
              attempts: 0,
              reason: "serialization",
              message: `recording ${HookEvent.eventType(event)} #${event.sequenceIndex} of run ${event.runId} ` +
                "failed: " +
                (cause instanceof NotJson ? cause.message : String(cause)),
              cause
            })
            yield* outsideTransactions(markFailed(error))
            return yield* error
          }
          const done = yield* Deferred.make<void, RecorderError>()
          yield* Queue.offer(queue, { plan: made.right, done })
          return yield* Deferred.await(done)
        })
    }
  })
