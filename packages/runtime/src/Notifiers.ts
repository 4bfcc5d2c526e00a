/**
 * The runtime's notifier dispatcher: one bounded mailbox and one fiber per notifier, forked into the scope
 * of this layer (not a run's), drained up to a deadline when the layer is released.
 */
import { Context, Duration, Effect, ExecutionStrategy, Exit, Layer, Ref, Scope } from "effect"
import { defaultDrainTimeout, type Envelope, mergeStats, startWorkers, type Worker } from "./internal/dispatch.js"
import type { Notifier, NotifierStats } from "./Notifier.js"

/** Notifiers attached to one run: offer its events, then release them (drained in the background). */
export interface AttachedNotifiers {
  readonly offer: (envelope: Envelope) => Effect.Effect<void>
  readonly release: Effect.Effect<void>
}

/** The runtime's notifier dispatcher. */
export interface NotifiersService {
  /** Offers an event to every notifier of the runtime; never waits for a handler. */
  readonly offer: (envelope: Envelope) => Effect.Effect<void>
  /** Starts per-run notifiers in the runtime's scope. */
  readonly attach: (notifiers: ReadonlyArray<Notifier>) => Effect.Effect<AttachedNotifiers>
  /** Delivered, failed, timed-out and dropped counts per notifier name. */
  readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>>
}

/** Options of `Notifiers.layer`. */
export interface NotifiersOptions {
  /** How long releasing the layer waits for each mailbox to drain (default 2 seconds). */
  readonly drainTimeout?: Duration.DurationInput | undefined
}

/** The runtime's notifier dispatcher, as a service. */
export class Notifiers extends Context.Tag("@sextant/runtime/Notifiers")<Notifiers, NotifiersService>() {
  /** A dispatcher for these notifiers, scoped to the layer. */
  static readonly layer = (notifiers: ReadonlyArray<Notifier>, options?: NotifiersOptions): Layer.Layer<Notifiers> =>
    Layer.scoped(Notifiers, make(notifiers, options))
}

/** Reads the runtime's notifier counters (empty when the runtime has no dispatcher). */
export const notifierStats: Effect.Effect<ReadonlyArray<NotifierStats>> = Effect.flatMap(
  Effect.serviceOption(Notifiers),
  (o) => (o._tag === "Some" ? o.value.stats : Effect.succeed([]))
)

const make = (
  notifiers: ReadonlyArray<Notifier>,
  options?: NotifiersOptions
): Effect.Effect<NotifiersService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const drainTimeout = Duration.decode(options?.drainTimeout ?? defaultDrainTimeout)
    const all = yield* Ref.make<ReadonlyArray<Worker>>([])
    // Counters of per-run notifiers already released, so the worker list does not grow with every run.
    const retired = yield* Ref.make<ReadonlyArray<NotifierStats>>([])
    const statsOf = Effect.gen(function*() {
      const live = yield* Effect.forEach(yield* Ref.get(all), (w) => w.stats)
      return mergeStats([...(yield* Ref.get(retired)), ...live])
    })
    const workers = yield* startWorkers(notifiers, scope, { drainTimeout, stats: statsOf })
    yield* Ref.set(all, workers)
    return {
      offer: (envelope) => Effect.sync(() => workers.forEach((w) => w.offer(envelope))),
      attach: (extra) =>
        Effect.gen(function*() {
          const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
          const attached = yield* startWorkers(extra, child, { drainTimeout, stats: statsOf })
          yield* Ref.update(all, (ws) => [...ws, ...attached])
          return {
            offer: (envelope) => Effect.sync(() => attached.forEach((w) => w.offer(envelope))),
            // Drains in the runtime's scope so the run never waits for its notifiers.
            release: Effect.gen(function*() {
              yield* Scope.close(child, Exit.void)
              const final = yield* Effect.forEach(attached, (w) => w.stats)
              yield* Ref.update(retired, (r) => mergeStats([...r, ...final]))
              yield* Ref.update(all, (ws) => ws.filter((w) => !attached.includes(w)))
            }).pipe(Effect.forkIn(scope), Effect.asVoid)
          }
        }),
      stats: statsOf
    }
  })
