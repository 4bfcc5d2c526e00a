/**
 * Live tails woken by Postgres notifications: the recorder `pg_notify`s `Database.eventsChannel` in the
 * transaction that commits a run's events, so a tail waiting on that run re-reads as soon as they are readable,
 * in any process, instead of at its next poll. One `LISTEN` per store (the client's listen connection), started
 * by the first tail and stopped with the last: `@effect/sql-pg` shares one connection between its listen
 * streams and a stream's end `UNLISTEN`s the channel for all of them, so the store fans out itself.
 * Readiness is proven, not assumed: the hub notifies a probe of its own and counts as listening once it comes
 * back. While tails are subscribed the hub keeps proving it (a probe every `HEALTH_EVERY`): a LISTEN whose
 * connection was lost (a terminated backend, a server restart: `@effect/sql-pg`'s stream then goes silent
 * rather than ending) is started again with backoff, and every tail re-reads once it is back. Polling stays
 * as the fallback meanwhile (and for a notification that never comes), and is all SQLite has.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import { Database } from "@sextant/recorder"
import { Clock, Deferred, Duration, Effect, Exit, Queue, Schedule, Scope, Stream } from "effect"

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

/** While tails are subscribed, how often the hub proves its LISTEN still hears (a probe of its own). */
const HEALTH_EVERY = "2 seconds"

/** How long a health probe may take to come back before the LISTEN counts as lost and is started again. */
const HEALTH_WITHIN = "3 seconds"

/** The backoff between LISTEN attempts after a loss: 100 ms doubling to 5 s, reset once one is proven. */
const backoff = (attempt: number) => Duration.millis(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)))

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
  const probePrefix = `probe-${Math.random().toString(36).slice(2)}-${Date.now()}-`
  let probes = 0

  const dispatch = (payload: string) => {
    const parsed = Database.parseEventsPayload(payload)
    const queues = parsed === undefined ? undefined : waiting.get(parsed.runKey)
    if (queues !== undefined) { for (const q of queues) q.unsafeOffer(undefined) }
  }

  /** Every subscribed tail reads again (after a LISTEN came back: commits while it was lost were not heard). */
  const wakeAll = Effect.sync(() => {
    for (const queues of waiting.values()) for (const q of queues) q.unsafeOffer(undefined)
  })

  /**
   * One LISTEN until it is lost: proven by a probe (then `onReady`), then probed every `HEALTH_EVERY`.
   * `@effect/sql-pg`'s listen stream does not end when its connection dies (a terminated backend, a restart):
   * it just goes silent, so only an unanswered probe tells. Ends when the stream ends or a probe goes unheard;
   * succeeds with whether the LISTEN was proven.
   */
  const session = (onReady: Effect.Effect<void>) => {
    let proven = false
    return Effect.gen(function*() {
      const heard = new Set<string>()
      const ended = yield* Deferred.make<void>()
      yield* Effect.forkScoped(
        Stream.runForEach(
          sql.listen(channel),
          (payload) => Effect.sync(() => payload.startsWith(probePrefix) ? heard.add(payload) : dispatch(payload))
        ).pipe(
          Effect.catchAllCause((cause) => Effect.logDebug("the store's LISTEN failed", cause)),
          Effect.ensuring(Deferred.succeed(ended, undefined)),
          Effect.interruptible
        )
      )
      // `pg_notify`, not the client's `notify` (its `NOTIFY channel, $1` is refused by the server).
      const probe = (within: Duration.DurationInput, every: Duration.DurationInput) =>
        Effect.suspend(() => {
          const token = `${probePrefix}${probes++}`
          return sql`SELECT pg_notify(${channel}, ${token})`.pipe(
            Effect.ignore,
            Effect.repeat({ schedule: Schedule.spaced(every), until: () => heard.has(token) }),
            Effect.timeoutOption(within),
            Effect.map((o) => o._tag === "Some" || heard.has(token)),
            Effect.ensuring(Effect.sync(() => heard.delete(token)))
          )
        })
      proven = yield* Effect.raceFirst(probe(READY_WITHIN, "50 millis"), Effect.as(Deferred.await(ended), false))
      if (!proven) return
      yield* onReady
      const health = Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(HEALTH_EVERY)
          if (!(yield* probe(HEALTH_WITHIN, "500 millis"))) return
        }
      })
      yield* Effect.raceFirst(health, Deferred.await(ended))
    }).pipe(
      Effect.scoped,
      // Closing a dead LISTEN's scope fails its `UNLISTEN`: the session is over either way.
      Effect.catchAllCause((cause) => Effect.logDebug("the store's LISTEN closed", cause)),
      Effect.map(() => proven)
    )
  }

  /** LISTENs again and again, with backoff, as long as tails are subscribed (interrupted with the last). */
  const supervise = (ready: Deferred.Deferred<void>) =>
    Effect.gen(function*() {
      let attempt = 0
      let first = true
      while (true) {
        // The first proven LISTEN releases the first subscribers; a later one wakes every tail.
        const proven = yield* session(
          Effect.zipRight(Deferred.succeed(ready, undefined), first ? Effect.void : wakeAll)
        )
        if (proven) {
          first = false
          attempt = 0
        }
        yield* Effect.logDebug("the store's LISTEN was lost; tails poll until it is back")
        yield* Effect.sleep(backoff(attempt++))
      }
    })

  const start = Effect.gen(function*() {
    const scope = yield* Scope.make()
    const ready = yield* Deferred.make<void>()
    // Forked from an acquisition (uninterruptible): made interruptible, so that closing the scope ends it.
    yield* Effect.forkIn(Effect.interruptible(supervise(ready)), scope)
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
