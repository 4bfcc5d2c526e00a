/**
 * The notifier dispatcher: one bounded mailbox and one fiber per notifier (composites flattened), per-run
 * notifiers attached in a child scope, and a drain on scope close that waits for every mailbox at once, under
 * one deadline.
 */
import { Cause, Clock, Duration, Effect, ExecutionStrategy, Exit, Fiber, Mailbox, Scope } from "effect"
import {
  type DeliveryContext,
  type HandlerResult,
  isAsync,
  type Notifier,
  type NotifierStats,
  runHandler
} from "../Notifier.js"
import { isChunk, type StreamEvent } from "../StreamEvent.js"
import { childrenOf, directHandlerOf } from "./notifierKeys.js"

/** The key under which the `Notifiers` service carries its dispatcher (not part of its public type). */
export const DispatcherKey: unique symbol = Symbol.for("@sextant/runtime/Notifiers/dispatcher")

/** An event on its way to a notifier, with the run's trace context. */
export interface Envelope {
  readonly event: StreamEvent
  readonly traceContext: unknown
}

/** A running notifier: its mailbox, counters and fiber. */
interface Worker {
  readonly name: string
  /** Enqueues an event at once; a full mailbox drops (the newest, or the oldest when sliding) and counts. */
  readonly offer: (envelope: Envelope) => void
  readonly stats: () => NotifierStats
  /** Ends the mailbox and waits for it to drain up to the deadline, then interrupts what is left. */
  readonly drain: Effect.Effect<void>
}

/** Notifiers attached to one run: offer its events, then release them (drained in the background). */
export interface Attached {
  readonly offer: (envelope: Envelope) => void
  readonly release: Effect.Effect<void>
}

/** A dispatcher: its notifiers, per-run attachments and counters. */
export interface Dispatcher {
  /** Offers an event to every notifier of the dispatcher; never waits for a handler. */
  readonly offer: (envelope: Envelope) => void
  /** Starts per-run notifiers in a child scope of the dispatcher's. */
  readonly attach: (notifiers: ReadonlyArray<Notifier>) => Effect.Effect<Attached>
  /** Delivered, failed, timed-out and dropped counts per notifier name (released ones included). */
  readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>>
  /** The names of the dispatcher's own notifiers (a run's may not reuse them). */
  readonly names: ReadonlySet<string>
}

type Counters = { delivered: number; failed: number; timedOut: number; dropped: number; droppedChunks: number }

/**
 * How many queued events a mailbox of `capacity` still takes a chunk at: the last quarter (at least one place)
 * is kept for lifecycle events, so a fast stream fills the mailbox with chunks and then loses chunks, never the
 * events around them (`tool.completed`, `run.completed`, …).
 */
export const chunkLimit = (capacity: number): number => Math.max(1, capacity - Math.max(1, Math.floor(capacity / 4)))

/** Leaves of a notifier tree: composites are flattened so every child gets its own mailbox. */
const leaves = (notifiers: ReadonlyArray<Notifier>): ReadonlyArray<Notifier> =>
  notifiers.flatMap((n) => {
    const children = childrenOf(n)
    return children === undefined ? [n] : leaves(children)
  })

/** Default time a closing scope waits for the mailboxes to drain. */
export const defaultDrainTimeout = Duration.seconds(2)

/**
 * Starts one worker per notifier in `scope`. Closing the scope ends every mailbox and waits for all of them
 * concurrently up to `drainTimeout` (so N hung notifiers cost one deadline, not N), then interrupts the rest.
 */
const startWorkers = (
  notifiers: ReadonlyArray<Notifier>,
  scope: Scope.Scope,
  options: { readonly drainTimeout: Duration.Duration; readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>> }
): Effect.Effect<ReadonlyArray<Worker>> =>
  Effect.gen(function*() {
    const workers = yield* Effect.forEach(leaves(notifiers), (n) => startWorker(n, scope, options))
    if (workers.length > 0) {
      yield* Scope.addFinalizer(
        scope,
        Effect.forEach(workers, (w) => w.drain, { concurrency: "unbounded", discard: true })
      )
    }
    return workers
  })

/**
 * One notifier's worker. Deliveries run one at a time in a runner fiber; instead of a timer per event
 * (a timeout race costs a fiber per delivery), a watchdog wakes every half timeout and interrupts the
 * runner when the same delivery is still running, so a hung handler is cut within 1.5× its timeout and
 * the supervisor starts a fresh runner on the events left.
 */
const startWorker = (
  notifier: Notifier,
  scope: Scope.Scope,
  options: { readonly drainTimeout: Duration.Duration; readonly stats: Effect.Effect<ReadonlyArray<NotifierStats>> }
): Effect.Effect<Worker> =>
  Effect.gen(function*() {
    const mailbox = yield* Mailbox.make<Envelope>({ capacity: notifier.capacity, strategy: notifier.strategy })
    const counters: Counters = { delivered: 0, failed: 0, timedOut: 0, dropped: 0, droppedChunks: 0 }
    const chunksUpTo = chunkLimit(notifier.capacity)
    const backlog: Array<Envelope> = []
    const timeoutMs = Duration.toMillis(notifier.timeout)
    let current: { readonly envelope: Envelope; readonly startedAt: number } | undefined
    let expired: Envelope | undefined

    const failed = (envelope: Envelope, cause: Cause.Cause<unknown>) => {
      counters.failed++
      // Every failure is counted; the log gets the first and then one in a hundred, so that a notifier
      // failing on every event does not spend the run's CPU on formatting causes.
      return counters.failed % 100 === 1
        ? Effect.logWarning(
          `notifier '${notifier.name}' failed on ${envelope.event._tag} (${counters.failed} failure(s) so far)`,
          cause
        ).pipe(Effect.annotateLogs({ notifier: notifier.name, runId: envelope.event.runId }))
        : Effect.void
    }
    const deliverEffect = (envelope: Envelope, effect: Effect.Effect<void, unknown>) =>
      Effect.gen(function*() {
        current = { envelope, startedAt: yield* Clock.currentTimeMillis }
        const exit = yield* Effect.exit(effect)
        current = undefined
        if (Exit.isSuccess(exit)) counters.delivered++
        else yield* failed(envelope, exit.cause)
      })
    // A handler that is a plain function finishing synchronously costs one call: no effect, no clock. What it
    // returns asynchronously (an Effect or a Promise) is awaited under the watchdog like any other handler.
    const direct = directHandlerOf(notifier)
    // Runs without a trace context (the common case) share one delivery context: no object per delivery.
    const untraced: DeliveryContext = { traceContext: undefined, stats: options.stats }
    const deliver = (envelope: Envelope): Effect.Effect<void> | undefined => {
      const context: DeliveryContext = envelope.traceContext === undefined
        ? untraced
        : { traceContext: envelope.traceContext, stats: options.stats }
      if (direct === undefined) {
        return deliverEffect(envelope, Effect.suspend(() => notifier.handle(envelope.event, context)))
      }
      let out: HandlerResult
      try {
        out = direct(envelope.event, context)
      } catch (error) {
        return failed(envelope, Cause.die(error))
      }
      if (!isAsync(out)) {
        counters.delivered++
        return undefined
      }
      return deliverEffect(envelope, runHandler(() => out))
    }

    let syncDeliveries = 0
    // Ends once the mailbox has ended and everything was delivered.
    const runner = Effect.gen(function*() {
      while (true) {
        const next = backlog.shift()
        if (next !== undefined) {
          const pending = deliver(next)
          if (pending !== undefined) yield* pending
          // A long run of synchronous deliveries still lets the runs' fibers in now and then.
          else if (++syncDeliveries % 64 === 0) yield* Effect.yieldNow()
          continue
        }
        const [batch, done] = yield* mailbox.takeAll
        backlog.push(...batch)
        if (done && backlog.length === 0) return
      }
    })

    let running: Fiber.RuntimeFiber<void> | undefined
    const supervisor = Effect.gen(function*() {
      while (true) {
        running = yield* Effect.fork(runner)
        const exit = yield* Fiber.await(running)
        if (Exit.isSuccess(exit) || expired === undefined) return
        const late = expired
        expired = undefined
        current = undefined
        counters.timedOut++
        yield* Effect.logWarning(
          `notifier '${notifier.name}' timed out on ${late.event._tag} after ${Duration.format(notifier.timeout)}`
        ).pipe(Effect.annotateLogs({ notifier: notifier.name, runId: late.event.runId }))
      }
    })
    const watchdog = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(Duration.millis(Math.max(1, timeoutMs / 2)))
        const now = yield* Clock.currentTimeMillis
        const stuck = current
        if (stuck !== undefined && running !== undefined && now - stuck.startedAt >= timeoutMs) {
          expired = stuck.envelope
          yield* Fiber.interrupt(running)
        }
      }
    })
    const fiber = yield* Effect.forkIn(supervisor, scope)
    const dog = yield* Effect.forkIn(watchdog, scope)
    // Memoised: the dispatcher drains every live worker at once, and the worker's own scope asks again.
    const drain = yield* Effect.cached(Effect.gen(function*() {
      yield* mailbox.end
      // Finalizers run uninterruptibly: only an interruptible wait lets the deadline cut a mailbox still draining.
      const drained = yield* Fiber.await(fiber).pipe(
        Effect.interruptible,
        Effect.timeout(options.drainTimeout),
        Effect.option
      )
      yield* Fiber.interrupt(dog)
      if (drained._tag === "None") {
        yield* Fiber.interrupt(fiber)
        if (running !== undefined) yield* Fiber.interrupt(running)
        const left = yield* Effect.option(mailbox.clear)
        const lost = [
          ...backlog,
          ...(current === undefined ? [] : [current.envelope]),
          ...(left._tag === "Some" ? left.value : [])
        ]
        for (const envelope of lost) {
          if (isChunk(envelope.event)) counters.droppedChunks++
          else counters.dropped++
        }
        yield* Effect.logWarning(`notifier '${notifier.name}' did not drain within its deadline`)
      }
    }))
    return {
      name: notifier.name,
      offer: (envelope) => {
        // Synchronous: the run's fiber pays no effect overhead per notifier.
        const size = mailbox.unsafeSize()
        const queued = size._tag === "Some" ? size.value : 0
        if (isChunk(envelope.event)) {
          // A chunk never displaces anything: past the chunk limit it is the one dropped.
          if (queued >= chunksUpTo || !mailbox.unsafeOffer(envelope)) counters.droppedChunks++
          return
        }
        const full = queued >= notifier.capacity
        if (!mailbox.unsafeOffer(envelope) || (full && notifier.strategy === "sliding")) counters.dropped++
      },
      stats: () => ({ name: notifier.name, ...counters }),
      drain
    }
  })

/**
 * Adds counters of notifiers that share a name: the per-run notifiers of different runs (one audit notifier
 * given to every run counts as one). Within one list, and between a run's and the runtime's, names are unique.
 */
const mergeStats = (stats: ReadonlyArray<NotifierStats>): ReadonlyArray<NotifierStats> => {
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
        dropped: prev.dropped + s.dropped,
        droppedChunks: prev.droppedChunks + s.droppedChunks
      }
    )
  }
  return [...byName.values()]
}

const offerAll = (workers: ReadonlyArray<Worker>) => (envelope: Envelope) => {
  for (const w of workers) w.offer(envelope)
}

/**
 * A dispatcher for `notifiers` in `scope`. Per-run notifiers get a child scope, released in the background so
 * a run never waits for them; their counters are kept after release so the worker list does not grow.
 */
export const makeDispatcher = (
  notifiers: ReadonlyArray<Notifier>,
  scope: Scope.Scope,
  drainTimeout: Duration.Duration
): Effect.Effect<Dispatcher> =>
  Effect.gen(function*() {
    const live = new Set<Worker>()
    let retired: ReadonlyArray<NotifierStats> = []
    const stats = Effect.sync(() => mergeStats([...retired, ...[...live].map((w) => w.stats())]))
    const root = yield* startWorkers(notifiers, scope, { drainTimeout, stats })
    root.forEach((w) => live.add(w))
    // Runs before the workers' own finalizers: the runtime's mailboxes and those of runs still draining all
    // drain together, under one deadline.
    yield* Scope.addFinalizer(
      scope,
      Effect.suspend(() => Effect.forEach([...live], (w) => w.drain, { concurrency: "unbounded", discard: true }))
    )
    return {
      offer: offerAll(root),
      attach: (extra) =>
        Effect.gen(function*() {
          const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
          const attached = yield* startWorkers(extra, child, { drainTimeout, stats })
          attached.forEach((w) => live.add(w))
          const release = Effect.gen(function*() {
            yield* Scope.close(child, Exit.void)
            retired = mergeStats([...retired, ...attached.map((w) => w.stats())])
            attached.forEach((w) => live.delete(w))
          })
          return { offer: offerAll(attached), release: Effect.asVoid(Effect.forkIn(release, scope)) }
        }),
      stats,
      names: new Set(root.map((w) => w.name))
    }
  })
