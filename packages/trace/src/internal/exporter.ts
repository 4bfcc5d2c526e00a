/**
 * The buffered exporter: a `Recorder` whose writes go into a bounded in-memory buffer, drained by one fiber
 * that POSTs batches (by size and by time) to an ingest endpoint with the remote client's retries. When the
 * buffer is full a write waits up to `blockFor`, then its event is dropped and counted; once a run lost an
 * event, its later events are dropped too (the endpoint would refuse them as a gap). Nothing is dropped
 * silently: every drop is counted by reason and reported to `onDrop`. The layer's finalizer flushes.
 */
import { type HookEvent, Lifecycle, Recorder } from "@sextant/runtime"
import { Context, Deferred, Duration, Effect, Fiber, Layer, Option, Queue } from "effect"
import { type IngestError, TraceConfigError } from "../Errors.js"
import type * as Remote from "../Remote.js"
import { send } from "./remote.js"

const defaults = {
  capacity: 10_000,
  batchSize: 500,
  batchInterval: Duration.seconds(1),
  blockFor: Duration.seconds(1),
  shutdownTimeout: Duration.seconds(10)
}

type Reason = keyof Remote.DropCounts

interface Waiter {
  readonly target: number
  readonly done: Deferred.Deferred<void>
}

/** Validates a positive integer option, with a message naming it. */
const positive = (name: string, value: number | undefined, fallback: number): number => {
  const n = value ?? fallback
  if (!Number.isInteger(n) || n < 1) {
    throw new TraceConfigError({
      setting: name,
      message: `Remote.buffered: ${name} must be a positive integer (got ${String(value)})`
    })
  }
  return n
}

/** The options with defaults applied; throws a `TraceConfigError` naming a malformed one. */
const configure = (options: Remote.BufferedOptions) => ({
  capacity: positive("capacity", options.capacity, defaults.capacity),
  batchSize: positive("batchSize", options.batchSize, defaults.batchSize),
  batchInterval: Duration.decode(options.batchInterval ?? defaults.batchInterval),
  blockFor: Duration.decode(options.blockFor ?? defaults.blockFor),
  shutdownTimeout: Duration.decode(options.shutdownTimeout ?? defaults.shutdownTimeout)
})

/** The exporter's state and its operations (the Recorder and the Exporter service share it). */
const makeState = (options: Remote.BufferedOptions, config: ReturnType<typeof configure>) => {
  const { batchInterval, batchSize, blockFor, capacity, shutdownTimeout } = config
  let attempts = 0
  const baseFetch = options.fetch ?? globalThis.fetch
  const counting: typeof globalThis.fetch = (input, init) => {
    attempts++
    return baseFetch(input, init)
  }
  const sendBatch = send({ ...options, fetch: counting })
  const counts = { offered: 0, sent: 0, duplicates: 0, batches: 0, failedBatches: 0, settled: 0 }
  /** The batch the worker holds (taken from the queue, not yet settled). */
  let inFlight: ReadonlyArray<HookEvent.HookEvent> = []
  const dropped: Record<Reason, number> = { full: 0, gap: 0, refused: 0, unavailable: 0, shutdown: 0 }
  let lastError: string | undefined
  let closed = false
  /** Runs that lost an event: their later events are dropped (the endpoint would refuse the gap). */
  const broken = new Set<string>()
  const waiters: Array<Waiter> = []

  const stats = (queued: number): Remote.ExporterStats => ({
    offered: counts.offered,
    sent: counts.sent,
    duplicates: counts.duplicates,
    dropped: { ...dropped },
    droppedTotal: dropped.full + dropped.gap + dropped.refused + dropped.unavailable + dropped.shutdown,
    pending: queued + inFlight.length,
    batches: counts.batches,
    failedBatches: counts.failedBatches,
    attempts,
    ...(lastError === undefined ? {} : { lastError })
  })

  const release = Effect.suspend(() => {
    const ready = waiters.filter((w) => w.target <= counts.settled)
    for (const w of ready) waiters.splice(waiters.indexOf(w), 1)
    return Effect.forEach(ready, (w) => Deferred.succeed(w.done, undefined), { discard: true })
  })

  const drop = (
    events: ReadonlyArray<HookEvent.HookEvent>,
    reason: Reason,
    error?: IngestError
  ) =>
    Effect.suspend(() => {
      if (events.length === 0) return Effect.void
      dropped[reason] += events.length
      counts.settled += events.length
      if (error !== undefined) lastError = error.message
      const runIds = [...new Set(events.map((e) => e.runId))]
      for (const e of events) {
        if (Lifecycle.isTerminalEvent(e)) broken.delete(e.runId)
        else broken.add(e.runId)
      }
      const report: Remote.DropReport = {
        reason,
        events: events.length,
        runIds,
        ...(error === undefined ? {} : { error: error.message })
      }
      return Effect.zipRight(
        Effect.logWarning(`Remote.buffered dropped ${events.length} event(s) (${reason})`).pipe(
          Effect.annotateLogs({ runIds: runIds.join(","), ...(error === undefined ? {} : { error: error.message }) })
        ),
        Effect.try(() => options.onDrop?.(report)).pipe(Effect.ignore)
      )
    })

  return {
    capacity,
    batchSize,
    batchInterval,
    blockFor,
    shutdownTimeout,
    sendBatch,
    counts,
    broken,
    waiters,
    stats,
    release,
    drop,
    isClosed: () => closed,
    holding: () => inFlight,
    hold: (events: ReadonlyArray<HookEvent.HookEvent>) => {
      inFlight = events
    },
    close: () => {
      closed = true
    }
  }
}

/** Partitions a batch into the events of runs that lost an earlier event and the rest. */
const split = (broken: ReadonlySet<string>, events: ReadonlyArray<HookEvent.HookEvent>) => {
  const gap: Array<HookEvent.HookEvent> = []
  const rest: Array<HookEvent.HookEvent> = []
  for (const e of events) (broken.has(e.runId) ? gap : rest).push(e)
  return { gap, rest }
}

/** The buffered exporter's layer: the `Recorder` and the `Exporter` service, flushed on release. */
export const layer = (
  options: Remote.BufferedOptions,
  Exporter: typeof Remote.Exporter
): Layer.Layer<Recorder | Remote.Exporter> => {
  const config = configure(options)
  return Layer.scopedContext(Effect.gen(function*() {
    const state = makeState(options, config)
    // The queue is unbounded; its bound is a semaphore of `capacity` permits, because a blocked
    // `Queue.offer` on a bounded queue cannot be cut at `blockFor` (its interruption waits for room).
    const queue = yield* Queue.unbounded<HookEvent.HookEvent>()
    const room = yield* Effect.makeSemaphore(state.capacity)
    const wake = yield* Queue.sliding<void>(1)
    /** While the worker waits for more events: how many it holds (0 otherwise). */
    let gathering = 0

    /** One batch: waits for a first event, then up to `batchInterval` for more (unless a flush is waiting). */
    const cycle = Effect.gen(function*() {
      const batch = [...(yield* Queue.takeBetween(queue, 1, state.batchSize))]
      yield* room.release(batch.length)
      state.hold(batch)
      if (batch.length < state.batchSize && state.waiters.length === 0) {
        gathering = batch.length
        yield* Effect.raceFirst(Effect.sleep(state.batchInterval), Queue.take(wake))
        gathering = 0
        const more = yield* Queue.takeUpTo(queue, state.batchSize - batch.length)
        yield* room.release(more.length)
        batch.push(...more)
        state.hold([...batch])
      }
      const { gap, rest } = split(state.broken, batch)
      yield* state.drop(gap, "gap")
      state.hold(rest)
      if (rest.length > 0) {
        state.counts.batches++
        const outcome = yield* Effect.either(state.sendBatch(rest))
        if (outcome._tag === "Right") {
          state.counts.sent += rest.length
          state.counts.duplicates += outcome.right.duplicates
          state.counts.settled += rest.length
          for (const e of rest) if (Lifecycle.isTerminalEvent(e)) state.broken.delete(e.runId)
        } else {
          state.counts.failedBatches++
          const error = outcome.left
          const reason = error.reason === "transport" || error.reason === "unavailable" ? "unavailable" : "refused"
          yield* state.drop(rest, reason, error)
        }
      }
      state.hold([])
      yield* state.release
    })
    const worker = yield* Effect.forkDaemon(Effect.forever(cycle))

    // Readable after release too (a shut-down queue has no size: nothing is left in it then).
    const stats = Effect.sync(() => state.stats(Math.max(0, Option.getOrElse(queue.unsafeSize(), () => 0))))

    const flush = Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      state.waiters.push({ target: state.counts.offered, done })
      yield* Queue.offer(wake, undefined)
      yield* state.release
      yield* Deferred.await(done)
      return yield* stats
    })

    const enqueue = (event: HookEvent.HookEvent) =>
      Effect.suspend(() => {
        state.counts.offered++
        if (state.isClosed()) return state.drop([event], "shutdown")
        if (state.broken.has(event.runId)) return state.drop([event], "gap")
        // The bus writes uninterruptibly; the wait for room alone is made interruptible so it can be cut.
        return Effect.interruptible(room.take(1)).pipe(
          Effect.timeoutOption(state.blockFor),
          Effect.tap((taken) => taken._tag === "Some" ? Queue.offer(queue, event) : Effect.void),
          Effect.flatMap((offered) =>
            offered._tag === "None"
              ? state.drop([event], "full")
              : Effect.flatMap(Queue.size(queue), (queued) =>
                // A full batch is sent at once, without waiting for `batchInterval`.
                gathering > 0 && queued + gathering >= state.batchSize ? Queue.offer(wake, undefined) : Effect.void)
          )
        )
      })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        state.close()
        const flushed = yield* Effect.timeoutOption(flush, state.shutdownTimeout)
        yield* Fiber.interrupt(worker)
        if (flushed._tag === "None") {
          // The batch in flight is not known to have landed: it is counted as dropped with the rest.
          const held = state.holding()
          state.hold([])
          const left = yield* Queue.takeAll(queue)
          yield* state.drop([...held, ...left], "shutdown")
          yield* state.release
        }
        yield* Queue.shutdown(queue)
      })
    )

    const recorder: Recorder["Type"] = {
      record: enqueue,
      recordAll: (events) => Effect.forEach(events, enqueue, { discard: true })
    }
    const exporter: Remote.Exporter["Type"] = { flush, stats }
    return Context.make(Recorder, recorder).pipe(Context.add(Exporter, exporter))
  }))
}
