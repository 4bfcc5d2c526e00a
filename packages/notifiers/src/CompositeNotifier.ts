/**
 * One notifier made of several. The runtime's dispatcher flattens it: each child gets its own mailbox, fiber,
 * timeout and counters, so one child's failure or slowness never touches its siblings.
 */
import { Notifier } from "@sextant/runtime"

/** Options of `CompositeNotifier.make`. */
export interface CompositeOptions {
  /** A name for the group (each child keeps its own name in the statistics). */
  readonly name?: string | undefined
}

/** A composite notifier: a notifier, and the children it groups. */
export interface CompositeNotifier extends Notifier.Notifier {
  readonly children: ReadonlyArray<Notifier.Notifier>
}

/**
 * Groups notifiers. Through the dispatcher each child runs in its own mailbox; calling `handle` directly (outside
 * a dispatcher) runs the children one after another, each one's failure caught so the next still runs.
 */
export const make = (
  children: ReadonlyArray<Notifier.Notifier>,
  options: CompositeOptions = {}
): CompositeNotifier => ({
  ...Notifier.composite(options.name ?? `composite(${children.map((c) => c.name).join(",")})`, children),
  children
})
