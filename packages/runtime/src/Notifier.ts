/**
 * Notifiers observe recorded events live. They are fail-open: each runs in its own bounded mailbox and
 * fiber, so one that throws, dies, is slow or hangs never changes what a run does or how long it takes.
 */
import { Cause, Duration, Effect } from "effect"
import { Children, DirectHandler, type NotifierParts } from "./internal/notifierKeys.js"
import type { StreamEvent } from "./StreamEvent.js"

/** Per-notifier delivery counters. */
export interface NotifierStats {
  readonly name: string
  /** Events handed to the notifier whose handler finished. */
  readonly delivered: number
  /** Events whose handler failed or died. */
  readonly failed: number
  /** Events whose handler ran past the notifier's timeout (it was interrupted). */
  readonly timedOut: number
  /**
   * Events other than chunks not delivered because the mailbox was full, or still queued when the drain deadline
   * passed.
   */
  readonly dropped: number
  /**
   * Chunks (`StreamChunk`, `TextDelta`, `ToolArgumentsDelta`) not delivered: a mailbox takes chunks only up to
   * three quarters of its capacity, so under pressure chunks are dropped before any lifecycle event is.
   */
  readonly droppedChunks: number
}

/** What a notifier is told with each event. */
export interface DeliveryContext {
  /** The OpenTelemetry `Context` captured when the run started (an `@opentelemetry/api` Context), if any. */
  readonly traceContext: unknown
  /** Current counters of every notifier of the runtime. */
  readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>>
}

/** A handler may return an Effect, a Promise or nothing. */
export type HandlerResult = Effect.Effect<unknown, unknown> | PromiseLike<unknown> | void

/** Per-event handlers keyed by event tag. */
export type EventHandlers = {
  readonly [K in StreamEvent["_tag"]]?: (
    event: Extract<StreamEvent, { readonly _tag: K }>,
    context: DeliveryContext
  ) => HandlerResult
}

/** Options of `Notifier.make`. */
export interface NotifierOptions {
  readonly name: string
  /** Typed handlers per event tag (`ToolCallCompleted`, `RunFailed`, …). */
  readonly on?: EventHandlers | undefined
  /** Called for every event, after the typed handler of its tag. */
  readonly onEvent?: ((event: StreamEvent, context: DeliveryContext) => HandlerResult) | undefined
  /**
   * Mailbox size (default 1024); events past it are dropped and counted. Chunks are taken only up to three
   * quarters of it (the rest is kept for lifecycle events) and are counted apart (`droppedChunks`).
   */
  readonly capacity?: number | undefined
  /** `dropping` (default) drops the newest event when full, `sliding` the oldest. */
  readonly strategy?: "dropping" | "sliding" | undefined
  /** Per-event handler timeout (default 5 seconds). */
  readonly timeout?: Duration.DurationInput | undefined
}

/** A notifier as the dispatcher runs it. */
export interface Notifier {
  readonly name: string
  readonly capacity: number
  readonly strategy: "dropping" | "sliding"
  readonly timeout: Duration.Duration
  /** Handles one event; failures and defects are caught and counted by the dispatcher. */
  readonly handle: (event: StreamEvent, context: DeliveryContext) => Effect.Effect<void, unknown>
}

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

/** Whether a handler's result still has work to wait for (an Effect or a Promise). */
export const isAsync = (u: unknown): u is Effect.Effect<unknown, unknown> | PromiseLike<unknown> =>
  Effect.isEffect(u) || isPromiseLike(u)

/** Runs a handler that returned an Effect, a Promise or nothing, as an Effect (throws become failures). */
export const runHandler = (thunk: () => HandlerResult): Effect.Effect<void, unknown> =>
  Effect.suspend(() => {
    const out = thunk()
    if (Effect.isEffect(out)) return Effect.asVoid(out)
    if (isPromiseLike(out)) {
      return Effect.tryPromise({ try: () => Promise.resolve(out), catch: (e) => e }).pipe(Effect.asVoid)
    }
    return Effect.void
  })

/** Builds a notifier from typed per-event handlers and/or a catch-all `onEvent`. */
export const make = (options: NotifierOptions): Notifier => {
  const on = (options.on ?? {}) as Record<string, ((e: StreamEvent, c: DeliveryContext) => HandlerResult) | undefined>
  const onEvent = options.onEvent
  const direct = (event: StreamEvent, context: DeliveryContext): HandlerResult => {
    const typed = on[event._tag]
    const first = typed === undefined ? undefined : typed(event, context)
    if (onEvent === undefined) return first
    if (isAsync(first)) return Effect.zipRight(runHandler(() => first), runHandler(() => onEvent(event, context)))
    return onEvent(event, context)
  }
  const notifier: Notifier & NotifierParts = {
    name: options.name,
    capacity: Math.max(1, Math.floor(options.capacity ?? 1024)),
    strategy: options.strategy ?? "dropping",
    timeout: Duration.decode(options.timeout ?? "5 seconds"),
    handle: (event, context) => runHandler(() => direct(event, context)),
    [DirectHandler]: direct
  }
  return notifier
}

/**
 * One notifier made of several, for packages that build composites (`CompositeNotifier`). The dispatcher
 * flattens it, so each child keeps its own mailbox, fiber, timeout and counters; called directly (outside a
 * dispatcher) `handle` runs the children one after another, each failure caught so the next still runs.
 */
export const composite = (name: string, children: ReadonlyArray<Notifier>): Notifier => {
  const notifier: Notifier & NotifierParts = {
    name,
    capacity: Math.max(1, ...children.map((c) => c.capacity)),
    strategy: "dropping",
    timeout: children.reduce((sum, c) => Duration.sum(sum, c.timeout), Duration.millis(1)),
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
      ),
    [Children]: children
  }
  return notifier
}
