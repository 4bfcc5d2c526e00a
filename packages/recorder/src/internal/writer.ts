import { SqlClient, SqlError } from "@effect/sql"
import { HookEvent, Lifecycle, RecorderError, type RecorderService, type RetryPolicy } from "@sextant/runtime"
import { Cause, Clock, Effect, Either, FiberSet, Queue, type Scope } from "effect"
import { markFailed, outsideTransactions } from "./halt.js"
import { NotJson } from "./json.js"
import { type Codec, type Plan, plan } from "./plan.js"
import {
  type Continuation,
  describeWriteError,
  durable,
  type Failed,
  transactGroups,
  withRetry,
  type WriteError
} from "./write.js"

/** Options of the group-commit writer. */
export interface WriterOptions {
  readonly retry: RetryPolicy.Resolved
  /** The most callers one transaction carries (default 1000). */
  readonly maxBatch: number
  /** Writes callers' events in one transaction (default: through the ambient `SqlClient`, `transactGroups`). */
  readonly transact?: ((groups: ReadonlyArray<ReadonlyArray<Plan>>) => Effect.Effect<void, WriteError>) | undefined
  /** `transact` ends by itself (the SQLite writer thread): its attempts are never cut (see `withRetry`). */
  readonly uncut?: boolean | undefined
  /** Whether a failed write marks its runs `error` / `recorder` (default true; false for ingest, whose sender retries). */
  readonly haltRuns?: boolean | undefined
  /** How content is stored: request deltas and sealing (default: full requests, nothing sealed). */
  readonly codec?: Codec | undefined
}

/** One caller's events (one `record`, or one `recordAll`): written in one transaction, completed together. */
interface Job {
  readonly plans: ReadonlyArray<Plan>
  /** Completes the caller (the first completion wins; the caller may have stopped waiting). */
  readonly done: (outcome: Effect.Effect<void, RecorderError>) => void
}

/** Completes a job's caller. */
const succeed = (job: Job): Effect.Effect<void> => Effect.sync(() => job.done(Effect.void))
const failJob = (job: Job, error: RecorderError): Effect.Effect<void> => Effect.sync(() => job.done(Effect.fail(error)))

/** What a multi-event write names in messages: "3 events (#4–#6 of run r)" or one event's label. */
const describeJob = (plans: ReadonlyArray<Plan>): string => {
  const first = plans[0]!
  if (plans.length === 1) return `${first.eventType} #${first.sequenceIndex} of run ${first.runId}`
  const runs = [...new Set(plans.map((p) => p.runId))]
  const last = plans[plans.length - 1]!
  return runs.length === 1
    ? `${plans.length} events (#${first.sequenceIndex}–#${last.sequenceIndex} of run ${first.runId})`
    : `${plans.length} events of ${runs.length} runs (${runs.join(", ")})`
}

/** The event a failure is reported against: the one a conflict names, else the first of the write. */
const culprit = (plans: ReadonlyArray<Plan>, failed: Failed): Plan =>
  (failed.error._tag === "WriteConflict" && failed.error.index !== undefined ? plans[failed.error.index] : undefined) ??
    plans[0]!

const recorderError = (plans: ReadonlyArray<Plan>, failed: Failed) => {
  const plan = culprit(plans, failed)
  const what = plans.length === 1 || failed.error._tag === "WriteConflict"
    ? `${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId}`
    : describeJob(plans)
  return new RecorderError({
    operation: "record",
    eventType: plan.eventType,
    runId: plan.runId,
    sequenceIndex: plan.sequenceIndex,
    attempts: failed.attempts,
    reason: failed.error._tag === "WriteConflict" ? "conflict" : failed.transient ? "transient" : "permanent",
    message: `recording ${what} failed after ${failed.attempts} attempt(s): ${describeWriteError(failed.error)}`,
    cause: failed.error
  })
}

/** Every run a job writes to, once each. */
const runsOf = (items: ReadonlyArray<{ readonly runId: string }>): ReadonlyArray<string> => [
  ...new Set(items.map((i) => i.runId))
]

/** A refusal found before anything is written (a misplaced run.started, an event that cannot be encoded). */
const refusal = (
  event: HookEvent.HookEvent,
  reason: "conflict" | "serialization",
  detail: string,
  cause?: unknown
) =>
  new RecorderError({
    operation: "record",
    eventType: HookEvent.eventType(event),
    runId: event.runId,
    sequenceIndex: event.sequenceIndex,
    attempts: 0,
    reason,
    message: `recording ${HookEvent.eventType(event)} #${event.sequenceIndex} of run ${event.runId} failed: ${detail}`,
    ...(cause === undefined ? {} : { cause })
  })

/**
 * Plans every event, or refuses the first that cannot be written: what the lifecycle refuses without looking
 * at the record (run.started must be event #0: a row inserted at another index would start a run with a gap),
 * and values JSON cannot carry. Nothing is written for a refused call.
 */
const planAll = (
  sql: SqlClient.SqlClient,
  events: ReadonlyArray<HookEvent.HookEvent>,
  codec: Codec | undefined
): Either.Either<ReadonlyArray<Plan>, RecorderError> => {
  const plans: Array<Plan> = []
  for (const event of events) {
    if (event._tag === "RunStarted") {
      // eslint-disable-next-line prefer-spread -- the lifecycle's fold, not Function.prototype.apply
      const fresh = Lifecycle.apply(undefined, event)
      if (Either.isLeft(fresh)) return Either.left(refusal(event, "conflict", fresh.left.message))
    }
    try {
      plans.push(plan(sql, event, codec))
    } catch (cause) {
      return Either.left(
        refusal(event, "serialization", cause instanceof NotJson ? cause.message : String(cause), cause)
      )
    }
  }
  return Either.right(plans)
}

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
    const transact = options.transact ?? ((groups: ReadonlyArray<ReadonlyArray<Plan>>) => transactGroups(sql, groups))
    const queue = yield* Queue.unbounded<Job>()
    // Callers still waiting when the recorder closes get a typed error rather than waiting forever.
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Queue.takeAll(queue), (jobs) =>
        Effect.forEach(jobs, (job) =>
          failJob(
            job,
            new RecorderError({
              operation: "record",
              eventType: job.plans[0]!.eventType,
              runId: job.plans[0]!.runId,
              sequenceIndex: job.plans[0]!.sequenceIndex,
              attempts: 0,
              reason: "transient",
              message: job.plans.length === 1
                ? "the recorder was shut down before this event was written"
                : `the recorder was shut down before ${describeJob(job.plans)} were written`
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
        failJob(job, error),
        error.reason === "conflict" || options.haltRuns === false
          ? Effect.void
          : Effect.forEach(runsOf(job.plans), (runId) => markFailed(sql, runId, error.message), { discard: true })
      )

    // A write that failed for good: the events found durable (a commit whose reply was lost) succeed.
    const settle = (jobs: ReadonlyArray<Job>, failed: Failed) =>
      Effect.gen(function*() {
        const committed = failed.transient ? yield* durable(sql, jobs.flatMap((j) => j.plans)) : new Set<Plan>()
        for (const job of jobs) {
          // A job is one transaction: all of its events are durable or none is.
          if (job.plans.every((p) => committed.has(p))) yield* succeed(job)
          else yield* fail(job, recorderError(job.plans, failed))
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
        const outcome = yield* withRetry(options.retry, transact(jobs.map((j) => j.plans)), {
          splitOnTimeout: jobs.length > 1,
          afterFirstAttempt: release,
          from,
          uncut: options.uncut
        })
        yield* release
        if (Either.isRight(outcome)) {
          yield* Effect.sync(() => {
            for (const job of jobs) job.done(Effect.void)
          })
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
              for (const rest of jobs.slice(i + 1)) yield* fail(rest, recorderError(rest.plans, spent))
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
            failJob(
              job,
              recorderError(job.plans, {
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

    const submit = (events: ReadonlyArray<HookEvent.HookEvent>): Effect.Effect<void, RecorderError> =>
      Effect.suspend(() => {
        if (events.length === 0) return Effect.void
        const planned = planAll(sql, events, options.codec)
        if (Either.isLeft(planned)) {
          const error = planned.left
          return error.reason === "conflict" || options.haltRuns === false
            ? Effect.fail(error)
            : Effect.zipRight(
              Effect.forEach(runsOf(events), (runId) => markFailed(sql, runId, error.message), { discard: true }),
              Effect.fail(error)
            )
        }
        const plans = planned.right
        // The job is queued once the caller waits, so its completion always finds the caller's callback.
        return Effect.async<void, RecorderError>((resume) => {
          let resumed = false
          queue.unsafeOffer({
            plans,
            done: (outcome) => {
              if (resumed) return
              resumed = true
              resume(outcome)
            }
          })
        })
      })

    return {
      record: (event) => submit([event]),
      recordAll: submit
    }
  })
