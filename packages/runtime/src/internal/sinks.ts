/**
 * The sinks of one run segment: the runtime's dispatcher, the run's own notifiers (attached to it, or to a
 * dispatcher of their own when the runtime has none) and the caller's stream.
 */
import { Effect, Exit, Option, Scope } from "effect"
import { InvalidRunOptions } from "../Errors.js"
import type { Notifier } from "../Notifier.js"
import { Notifiers, type NotifiersService } from "../Notifiers.js"
import type { Sink } from "./bus.js"
import { type Attached, defaultDrainTimeout, type Dispatcher, DispatcherKey, makeDispatcher } from "./dispatch.js"
import { checkNotifiers, render } from "./notifierList.js"
import { followersSink } from "./streams/follow.js"

const dispatcherOf = (service: NotifiersService): Dispatcher | undefined =>
  (service as { readonly [DispatcherKey]?: Dispatcher })[DispatcherKey]

/**
 * Refuses a run's notifiers named as one of the runtime's (their counters would merge in `stats()`), before
 * anything is recorded or claimed. The list itself was checked when the options were decoded.
 */
export const checkRunNotifiers = (
  perRun: ReadonlyArray<Notifier> | undefined
): Effect.Effect<void, InvalidRunOptions> =>
  perRun === undefined || perRun.length === 0 ? Effect.void : Effect.flatMap(
    Effect.serviceOption(Notifiers),
    (service) => {
      const names = Option.getOrUndefined(Option.flatMapNullable(service, dispatcherOf))?.names
      const problem = names === undefined || names.size === 0 ? undefined : checkNotifiers(perRun, names)
      if (problem === undefined) return Effect.void
      const field = render(problem.path)
      return Effect.fail(new InvalidRunOptions({ field, message: `${field}: ${problem.message}` }))
    }
  )

/** Per-run notifiers without a runtime dispatcher: their own scope, drained in the background after the run. */
const detached = (notifiers: ReadonlyArray<Notifier>): Effect.Effect<Attached> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const dispatcher = yield* makeDispatcher(notifiers, scope, defaultDrainTimeout)
    return { offer: dispatcher.offer, release: Effect.asVoid(Effect.forkDaemon(Scope.close(scope, Exit.void))) }
  })

/** The sinks of a segment; its per-run notifiers are released when the segment's scope closes. */
export const segmentSinks = (
  perRun: ReadonlyArray<Notifier> | undefined,
  stream: Sink | undefined
): Effect.Effect<ReadonlyArray<Sink>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const hub = Option.flatMapNullable(yield* Effect.serviceOption(Notifiers), dispatcherOf)
    const sinks: Array<Sink> = []
    if (Option.isSome(hub)) {
      const dispatcher = hub.value
      sinks.push((event, traceContext) => dispatcher.offer({ event, traceContext }))
    }
    if (perRun !== undefined && perRun.length > 0) {
      const attached = yield* (Option.isSome(hub) ? hub.value.attach(perRun) : detached(perRun))
      sinks.push((event, traceContext) => attached.offer({ event, traceContext }))
      yield* Effect.addFinalizer(() => attached.release)
    }
    if (stream !== undefined) sinks.push(stream)
    sinks.push(followersSink)
    return sinks
  })
