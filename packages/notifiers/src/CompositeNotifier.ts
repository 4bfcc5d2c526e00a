/**
 * One notifier made of several. The runtime's dispatcher flattens it: each child gets its own mailbox, fiber,
 * timeout and counters, so one child's failure or slowness never touches its siblings.
 */
import { Notifier } from "@sextant/runtime"
import { Cause, Duration, Effect } from "effect"

/** Options of `CompositeNotifier.make`. */
export interface CompositeOptions {
  /** A name for the group (each child keeps its own name in the statistics). */
  readonly name?: string | undefined
}

/**
 * Groups notifiers. Through the dispatcher each child runs in its own mailbox; calling `handle` directly (outside
 * a dispatcher) runs the children one after another, each one's failure caught so the next still runs.
 */
export const make = (
  children: ReadonlyArray<Notifier.Notifier>,
  options: CompositeOptions = {}
): Notifier.Notifier => ({
  name: options.name ?? `composite(${children.map((c) => c.name).join(",")})`,
  capacity: Math.max(1, ...children.map((c) => c.capacity)),
  strategy: "dropping",
  timeout: children.reduce((sum, c) => Duration.sum(sum, c.timeout), Duration.millis(1)),
  children,
  handle: (event, context) =>
    Effect.forEach(
      children,
      (child) =>
        Effect.suspend(() => child.handle(event, context)).pipe(
          Effect.timeout(child.timeout),
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.failCause(cause)
              : Effect.logWarning(`notifier '${child.name}' failed`, cause)
          )
        ),
      { discard: true }
    )
})
