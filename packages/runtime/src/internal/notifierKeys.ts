/**
 * What the dispatcher knows about a notifier beyond its public shape: a direct handler (`Notifier.make`) and
 * the children of a composite (`Notifier.composite`). They are symbol-keyed properties, kept by a spread copy
 * and absent from the public type.
 */
import type { DeliveryContext, HandlerResult, Notifier } from "../Notifier.js"
import type { StreamEvent } from "../StreamEvent.js"

/** The key of a notifier's direct handler. */
export const DirectHandler: unique symbol = Symbol.for("@sextant/runtime/Notifier/directHandler")
/** The key of a composite notifier's children. */
export const Children: unique symbol = Symbol.for("@sextant/runtime/Notifier/children")

/** A notifier with the parts only the dispatcher reads. */
export interface NotifierParts {
  /**
   * Called instead of `handle`: a synchronous return is delivered at once, without any effect machinery; a
   * returned Effect or Promise is awaited under the timeout; a throw fails.
   */
  readonly [DirectHandler]?: (event: StreamEvent, context: DeliveryContext) => HandlerResult
  /** The dispatcher runs each child in its own mailbox and fiber instead of calling `handle`. */
  readonly [Children]?: ReadonlyArray<Notifier>
}

/** A notifier's direct handler, if it has one. */
export const directHandlerOf = (notifier: Notifier) => (notifier as NotifierParts)[DirectHandler]

/** A composite notifier's children, if it is one. */
export const childrenOf = (notifier: Notifier) => (notifier as NotifierParts)[Children]
