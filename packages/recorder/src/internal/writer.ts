import { SqlClient, SqlError } from "@effect/sql"
import { HookEvent, Lifecycle, RecorderError, type RecorderService, type RetryPolicy } from "@sextant/runtime"
import { Cause, Clock, Deferred, Effect, Either, FiberSet, Queue, type Scope } from "effect"
import { markFailed, outsideTransactions } from "./halt.js"
import { NotJson } from "./json.js"
import { type Plan, plan } from "./plan.js"
import { type Continuation, describeWriteError, durable, type Failed, transact, withRetry } from "./write.js"

/** Options of the group-commit writer. */
export interface WriterOptions {
  readonly retry: RetryPolicy.Resolved
  /** The most events one transaction carries (default 1000). */
  readonly maxBatch: number
}

interface Job {
  readonly plan: Plan
  readonly done: Deferred.Deferred<void, RecorderError>
}

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
 * into one transaction and completes each caller when it commits. Only a batch's first attempt holds the
 * commit slot: its retries go on beside the next batches, so one stuck write never stalls the other runs (a
 * run has at most one event in flight, so nothing overtakes within a run). A batch that fails for good is
 * retried one event per transaction, so only the event that caused the failure fails; a batch whose attempt got
 * no reply is split, each event going on alone with what is left of the budget.
 */
export const makeWriter = (
  options: WriterOptions
): Effect.Effect<RecorderService, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const queue = yield* Queue.unbounded<Job>()
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
    const lanes = yield* FiberSet.make()
    // Writes in flight finish (within their budget) before the recorder closes; they are never interrupted, so
    // an attempt is only ever cut by its own timeout.
    yield* Effect.addFinalizer(() => FiberSet.awaitEmpty(lanes))
    const slot = yield* Effect.makeSemaphore(1)

    const fail = (job: Job, error: RecorderError) =>
      Effect.zipRight(
        Deferred.fail(job.done, error),
        error.reason === "conflict" ? Effect.void : markFailed(sql, error.runId, error.message)
      )

    // A write that failed for good: the events found durable (a commit whose reply was lost) succeed.
    const settle = (jobs: ReadonlyArray<Job>, failed: Failed) =>
      Effect.gen(function*() {
        const committed = failed.transient ? yield* durable(sql, jobs.map((j) => j.plan)) : new Set<Plan>()
        for (const job of jobs) {
          if (committed.has(job.plan)) yield* Deferred.succeed(job.done, undefined)
          else yield* fail(job, recorderError(job.plan, failed))
        }
      })

    // Returns the failure when the retry budget was spent, so that isolation stops waiting on a database that is down.
    const write = (
      jobs: ReadonlyArray<Job>,
      release: Effect.Effect<void>,
      from?: Continuation
    ): Effect.Effect<Failed | undefined> =>
      Effect.gen(function*() {
        const startedAt = from?.startedAt ?? (yield* Clock.currentTimeMillis)
        const outcome = yield* withRetry(options.retry, transact(sql, jobs.map((j) => j.plan)), {
          splitOnTimeout: jobs.length > 1,
          afterFirstAttempt: release,
          from
        })
        yield* release
        if (Either.isRight(outcome)) {
          for (const job of jobs) yield* Deferred.succeed(job.done, undefined)
          return undefined
        }
        const failed = outcome.left
        if (jobs.length > 1 && failed.timedOut) {
          // No reply: the connection was abandoned; each event goes on alone, so one cannot hold up the others.
          const rest: Continuation = { startedAt, attempts: failed.attempts, last: failed }
          yield* Effect.forEach(jobs, (job) => write([job], Effect.void, rest), {
            concurrency: "unbounded",
            discard: true
          })
          return undefined
        }
        if (jobs.length > 1 && !failed.transient) {
          // One by one, so that only the event that caused the failure fails.
          for (const [i, job] of jobs.entries()) {
            const spent = yield* write([job], Effect.void)
            if (spent !== undefined) {
              for (const rest of jobs.slice(i + 1)) yield* fail(rest, recorderError(rest.plan, spent))
              return spent
            }
          }
          return undefined
        }
        yield* settle(jobs, failed)
        return failed.transient ? failed : undefined
      })

    // Nothing may stop the writer: an unexpected failure fails the batch's callers, and the loop goes on.
    const guarded = (jobs: ReadonlyArray<Job>, release: Effect.Effect<void>) =>
      Effect.catchAllCause(write(jobs, release), (cause) =>
        Effect.zipRight(
          release,
          Effect.forEach(jobs, (job) =>
            Deferred.fail(
              job.done,
              recorderError(job.plan, {
                error: new SqlError.SqlError({ cause: Cause.squash(cause), message: "the recorder's writer failed" }),
                attempts: 1,
                transient: false,
                timedOut: false
              })
            ), { discard: true })
        ))

    const releaser = () => {
      let released = false
      return Effect.suspend(() => {
        if (released) return Effect.void
        released = true
        return slot.release(1)
      })
    }

    const loop = Effect.forever(
      Effect.gen(function*() {
        const first = yield* Queue.takeBetween(queue, 1, options.maxBatch)
        yield* slot.take(1)
        // Events that arrived while the previous batch's first attempt ran join this batch.
        const more = first.length < options.maxBatch
          ? yield* Queue.takeUpTo(queue, options.maxBatch - first.length)
          : []
        yield* FiberSet.run(lanes, guarded([...first, ...more], releaser()))
      })
    )
    // The writer must not join a transaction that happens to be open where the recorder was built.
    yield* Effect.forkScoped(outsideTransactions(Effect.withTracerEnabled(loop, false)))

    return {
      record: (event) =>
        Effect.gen(function*() {
          // What the lifecycle refuses without looking at the record (run.started must be event #0) is refused
          // before anything is written: a row inserted at another index would start a run with a gap.
          const fresh = event._tag === "RunStarted"
            // eslint-disable-next-line prefer-spread -- the lifecycle's fold, not Function.prototype.apply
            ? Lifecycle.apply(undefined, event)
            : Either.right(undefined)
          if (Either.isLeft(fresh)) {
            return yield* new RecorderError({
              operation: "record",
              eventType: HookEvent.eventType(event),
              runId: event.runId,
              sequenceIndex: event.sequenceIndex,
              attempts: 0,
              reason: "conflict",
              message: `recording ${HookEvent.eventType(event)} #${event.sequenceIndex} of run ${event.runId} ` +
                `failed: ${fresh.left.message}`
            })
          }
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
            yield* markFailed(sql, event.runId, error.message)
            return yield* error
          }
          const done = yield* Deferred.make<void, RecorderError>()
          yield* Queue.offer(queue, { plan: made.right, done })
          return yield* Deferred.await(done)
        })
    }
  })
