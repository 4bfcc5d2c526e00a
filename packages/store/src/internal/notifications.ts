/**
 * Live tails woken by Postgres notifications: the recorder `pg_notify`s `Database.eventsChannel` in the
 * transaction that commits a run's events, so a tail waiting on that run re-reads as soon as they are readable,
 * in any process, instead of at its next poll. One `LISTEN` per store (the client's listen connection), started
 * by the first tail and stopped with the last: `@effect/sql-pg` shares one connection between its listen
 * streams and a stream's end `UNLISTEN`s the channel for all of them, so the store fans out itself.
 * Readiness is proven, not assumed: the hub notifies a probe of its own and counts as listening once it comes
 * back. Polling stays as the fallback (a lost connection, a notification that never comes) and is all SQLite has.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import { Database } from "@sextant/recorder"
import { Clock, Deferred, Effect, Exit, Queue, Schedule, Scope, Stream } from "effect"

/** Wakes the tails of runs. */
export interface Hub {
  /**
   * A signal for the run (its stored id), listening before it returns (or after `READY_WITHIN`, polling only):
   * every commit of the run's events after this returns puts a signal in the queue. The tail subscribes the
   * first time it is idle and reads again before it waits, so no commit falls between.
   */
  readonly subscribe: (runKey: string) => Effect.Effect<Queue.Dequeue<void>, never, Scope.Scope>
}

/** The hub's own timers run on real time whatever clock the caller's fiber has (a test clock included). */
const live = Clock.make()

/** How long a first tail waits for the probe before it goes on polling only. */
const READY_WITHIN = "2 seconds"

type Listening = SqlClient.SqlClient & {
  readonly listen: (channel: string) => Stream.Stream<string, SqlError.SqlError>
}

/** `@effect/sql-pg`'s client (any client with its `listen`). */
const canListen = (sql: SqlClient.SqlClient): sql is Listening =>
  typeof (sql as unknown as { readonly listen?: unknown }).listen === "function"

/** The hub of a Postgres client that can listen; undefined otherwise (SQLite: tails poll). */
export const make = (sql: SqlClient.SqlClient): Hub | undefined => {
  if (!sql.onDialectOrElse({ pg: () => true, orElse: () => false }) || !canListen(sql)) return undefined
  const channel = Database.eventsChannel
  const waiting = new Map<string, Set<Queue.Queue<void>>>()
  const lock = Effect.unsafeMakeSemaphore(1)
  let active: { readonly scope: Scope.CloseableScope; readonly ready: Deferred.Deferred<void> } | undefined
  let count = 0

  const dispatch = (payload: string) => {
    const parsed = Database.parseEventsPayload(payload)
    const queues = parsed === undefined ? undefined : waiting.get(parsed.runKey)
    if (queues !== undefined) { for (const q of queues) q.unsafeOffer(undefined) }
  }

  const start = Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ready = yield* Deferred.make<void>()
    const probe = `probe-${Math.random().toString(36).slice(2)}-${Date.now()}`
    let heard = false
    const listen = Stream.runForEach(
      sql.listen(channel),
      (payload) =>
        payload === probe
          ? Effect.zipRight(Effect.sync(() => (heard = true)), Deferred.succeed(ready, undefined))
          : Effect.sync(() => dispatch(payload))
    ).pipe(Effect.catchAllCause((cause) => Effect.logDebug("the store's LISTEN ended; tails poll", cause)))
    // Forked from an acquisition (uninterruptible): made interruptible, so that closing the scope ends them.
    yield* Effect.forkIn(Effect.interruptible(listen), scope)
    // The probe until it comes back: LISTEN is then active, and every later commit is heard.
    yield* Effect.forkIn(
      Effect.interruptible(
        // `pg_notify`, not the client's `notify` (its `NOTIFY channel, $1` is refused by the server).
        sql`SELECT pg_notify(${channel}, ${probe})`.pipe(
          Effect.ignore,
          Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: () => heard }),
          Effect.timeout(READY_WITHIN),
          Effect.ignore
        )
      ),
      scope
    )
    return { scope, ready }
  }).pipe(Effect.withClock(live))

  const acquire = lock.withPermits(1)(Effect.gen(function*() {
    count++
    if (active === undefined) active = yield* start
    return active
  }))
  const release = lock.withPermits(1)(Effect.gen(function*() {
    count--
    if (count > 0 || active === undefined) return
    const done = active
    active = undefined
    yield* Scope.close(done.scope, Exit.void)
  }))

  return {
    subscribe: (runKey) =>
      Effect.gen(function*() {
        const queue = yield* Queue.sliding<void>(1)
        const listening = yield* Effect.acquireRelease(
          Effect.zipLeft(
            acquire,
            Effect.sync(() => {
              const set = waiting.get(runKey) ?? new Set()
              set.add(queue)
              waiting.set(runKey, set)
            })
          ),
          () =>
            Effect.zipRight(
              Effect.sync(() => {
                const set = waiting.get(runKey)
                set?.delete(queue)
                if (set?.size === 0) waiting.delete(runKey)
              }),
              release
            )
        )
        yield* Deferred.await(listening.ready).pipe(Effect.timeout(READY_WITHIN), Effect.ignore)
        return queue
      }).pipe(Effect.withClock(live))
  }
}
