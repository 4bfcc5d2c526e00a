import { Cause, Duration, Effect, Exit, Fiber, Mailbox, Ref, Scope } from "effect"
import type { DeliveryContext, Notifier, NotifierStats } from "../Notifier.js"
import type { StreamEvent } from "../StreamEvent.js"

/** An event on its way to a notifier, with the run's trace context. */
export interface Envelope {
  readonly event: StreamEvent
  readonly traceContext: unknown
}

/** A running notifier: its mailbox, counters and fiber. */
export interface Worker {
  readonly name: string
  /** Enqueues an event; never suspends, never fails (a full mailbox drops and counts). */
  readonly offer: (envelope: Envelope) => Effect.Effect<void>
  readonly stats: Effect.Effect<NotifierStats>
}

type Counters = { delivered: number; failed: number; timedOut: number; dropped: number }

/** Leaves of a notifier tree: composites are flattened so every child gets its own mailbox. */
export const leaves = (notifiers: ReadonlyArray<Notifier>): ReadonlyArray<Notifier> =>
  notifiers.flatMap((n) => (n.children === undefined ? [n] : leaves(n.children)))

/**
 * Starts one mailbox and one fiber per notifier in `scope`. Closing the scope ends each mailbox, waits
 * for it to drain up to `drainTimeout`, then interrupts what is left (counted as dropped).
 */
export const startWorkers = (
  notifiers: ReadonlyArray<Notifier>,
  scope: Scope.Scope,
  options: {
    readonly drainTimeout: Duration.Duration
    readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>>
  }
): Effect.Effect<ReadonlyArray<Worker>> => Effect.forEach(leaves(notifiers), (n) => startWorker(n, scope, options))

const startWorker = (
  notifier: Notifier,
  scope: Scope.Scope,
  options: { readonly drainTimeout: Duration.Duration; readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>> }
): Effect.Effect<Worker> =>
  Effect.gen(function*() {
    const mailbox = yield* Mailbox.make<Envelope>({ capacity: notifier.capacity, strategy: notifier.strategy })
    const counters = yield* Ref.make<Counters>({ delivered: 0, failed: 0, timedOut: 0, dropped: 0 })
    const count = (key: keyof Counters, n = 1) => Ref.update(counters, (c) => ({ ...c, [key]: c[key] + n }))
    const deliver = ({ event, traceContext }: Envelope) => {
      const context: DeliveryContext = { traceContext, stats: options.stats }
      return Effect.suspend(() => notifier.handle(event, context)).pipe(
        Effect.timeoutFail({ duration: notifier.timeout, onTimeout: () => TIMED_OUT }),
        Effect.exit,
        Effect.flatMap((exit) => {
          if (Exit.isSuccess(exit)) return count("delivered")
          const timedOut = Cause.failureOption(exit.cause).pipe((o) => o._tag === "Some" && o.value === TIMED_OUT)
          return Effect.zipRight(
            count(timedOut ? "timedOut" : "failed"),
            Effect.logWarning(
              timedOut
                ? `notifier '${notifier.name}' timed out on ${event._tag}`
                : `notifier '${notifier.name}' failed on ${event._tag}`,
              timedOut ? undefined : exit.cause
            )
          )
        }),
        Effect.annotateLogs({ notifier: notifier.name, runId: event.runId })
      )
    }
    const fiber = yield* Effect.gen(function*() {
      while (true) {
        const [batch, done] = yield* mailbox.takeAll
        for (const envelope of batch) yield* deliver(envelope)
        if (done) return
      }
    }).pipe(Effect.forkIn(scope))
    yield* Scope.addFinalizer(
      scope,
      Effect.gen(function*() {
        yield* mailbox.end
        const drained = yield* Fiber.await(fiber).pipe(Effect.timeout(options.drainTimeout), Effect.option)
        if (drained._tag === "None") {
          const left = yield* mailbox.size
          yield* count("dropped", left._tag === "Some" ? left.value : 0)
          yield* Fiber.interrupt(fiber)
          yield* Effect.logWarning(`notifier '${notifier.name}' did not drain within its deadline`)
        }
      })
    )
    return {
      name: notifier.name,
      offer: (envelope) =>
        Effect.flatMap(mailbox.offer(envelope), (accepted) => (accepted ? Effect.void : count("dropped"))),
      stats: Effect.map(Ref.get(counters), (c) => ({ name: notifier.name, ...c }))
    }
  })

const TIMED_OUT = Symbol.for("@sextant/runtime/notifier-timeout")

/** Adds counters of notifiers that share a name. */
export const mergeStats = (stats: ReadonlyArray<NotifierStats>): ReadonlyArray<NotifierStats> => {
  const byName = new Map<string, NotifierStats>()
  for (const s of stats) {
    const prev = byName.get(s.name)
    byName.set(
      s.name,
      prev === undefined ? s : {
        name: s.name,
        delivered: prev.delivered + s.delivered,
        failed: prev.failed + s.failed,
        timedOut: prev.timedOut + s.timedOut,
        dropped: prev.dropped + s.dropped
      }
    )
  }
  return [...byName.values()]
}

/** Default time a closing scope waits for each mailbox to drain. */
export const defaultDrainTimeout = Duration.seconds(2)
