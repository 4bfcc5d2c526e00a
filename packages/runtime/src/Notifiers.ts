/**
 * The runtime's notifier dispatcher: one bounded mailbox and one fiber per notifier, forked into the scope
 * of this layer (not a run's), drained up to one deadline when the layer is released.
 */
import { Context, Duration, Effect, Layer, type Scope } from "effect"
import type { InvalidNotifiers } from "./Errors.js"
import { defaultDrainTimeout, type Dispatcher, DispatcherKey, makeDispatcher } from "./internal/dispatch.js"
import { invalidNotifiers } from "./internal/notifierList.js"
import type { Notifier, NotifierStats } from "./Notifier.js"

/** The runtime's notifier dispatcher. */
export interface NotifiersService {
  /** Delivered, failed, timed-out and dropped counts per notifier name. */
  readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>>
}

/** Options of `Notifiers.layer`. */
export interface NotifiersOptions {
  /** How long releasing the layer waits for the mailboxes to drain, all at once (default 2 seconds). */
  readonly drainTimeout?: Duration.DurationInput | undefined
}

/** The runtime's notifier dispatcher, as a service. */
export class Notifiers extends Context.Tag("@sextant/runtime/Notifiers")<Notifiers, NotifiersService>() {
  /**
   * A dispatcher for these notifiers, scoped to the layer. Fails with `InvalidNotifiers` naming the entry
   * when one is not a notifier or two share a name.
   */
  static readonly layer = (
    notifiers: ReadonlyArray<Notifier>,
    options?: NotifiersOptions
  ): Layer.Layer<Notifiers, InvalidNotifiers> =>
    Layer.scoped(
      Notifiers,
      Effect.suspend(() => {
        const invalid = invalidNotifiers(notifiers)
        return invalid === undefined ? make(notifiers, options) : Effect.fail(invalid)
      })
    )
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
    const dispatcher = yield* makeDispatcher(
      notifiers,
      scope,
      Duration.decode(options?.drainTimeout ?? defaultDrainTimeout)
    )
    const service: NotifiersService & { readonly [DispatcherKey]: Dispatcher } = {
      stats: dispatcher.stats,
      [DispatcherKey]: dispatcher
    }
    return service
  })
