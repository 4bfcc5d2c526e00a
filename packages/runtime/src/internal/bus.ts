/**
 * The per-run hook bus: stamps each event, makes it durable through the recorder (awaited, fail-closed), then
 * hands it to the segment's sinks (notifier mailboxes, the caller's stream), which never wait. Events between
 * two external steps are staged and made durable together at the commit point before the next step (one
 * write, one await); sinks only ever see durable events (docs/commit-points.md).
 */
import { Effect } from "effect"
import { RecorderError } from "../Errors.js"
import { eventType, type HookEvent } from "../HookEvent.js"
import type { RecorderService } from "../Recorder.js"
import type { StreamDelta, StreamEvent } from "../StreamEvent.js"
import type { Policy } from "./privacy.js"
import type { StoragePass } from "./redaction/policy.js"

/** Where recorded events and deltas go after the recorder; called synchronously, it must not block. */
export type Sink = (event: StreamEvent, traceContext: unknown) => void

/** The fields the bus stamps on every event; the engine supplies the rest. */
export type Stamped = "runId" | "sequenceIndex" | "iteration" | "timestamp"

/** An event before the bus has stamped it: its tag and its own fields. */
export type HookEventInput = HookEvent extends infer E ? (E extends HookEvent ? Omit<E, Stamped> : never) : never

/** A delta before the bus stamps run id and time. */
export type DeltaInput = StreamDelta extends infer D ? (D extends StreamDelta ? Omit<D, "runId" | "timestamp"> : never)
  : never

/** A paused run's execution state is for the recorder only: notifiers and streams never see it. */
const forSinks = (event: HookEvent): HookEvent => {
  if (event._tag !== "RunPaused" || event.state === undefined) return event
  const { state: _state, ...rest } = event
  return rest
}

/** The per-run hook bus. */
export interface Bus {
  readonly runId: string
  /**
   * Stamps and sanitises the event (the run's redaction policy), makes it durable together with every event
   * staged before it (one write), then offers them to the sinks (never awaited); returns the event as recorded.
   * Fail-closed: the run's next step waits for it. A commit point.
   */
  readonly emit: <E extends HookEventInput>(input: E, iteration: number) => Effect.Effect<HookEvent, RecorderError>
  /**
   * Stamps and sanitises the event and keeps it for the next commit point (`emit` or `commit`): it is durable,
   * and offered to the sinks, only then. For the events between two external steps (see docs/commit-points.md).
   */
  readonly stage: <E extends HookEventInput>(input: E, iteration: number) => Effect.Effect<HookEvent>
  /** Makes every staged event durable (one write), then offers them to the sinks; nothing staged: no write. */
  readonly commit: Effect.Effect<void, RecorderError>
  /** Offers a stream-only delta to the sinks, sanitised (text may be held back until its call ends); never recorded. */
  readonly delta: (delta: DeltaInput) => Effect.Effect<void>
  /** `delta` as a plain call, for synchronous producers (a tool's `stream.chunk`): stamped with the time, offered. */
  readonly offerDelta: (delta: DeltaInput) => void
  /**
   * Runs `effect`, whose fibers emit concurrently (a parallel tool group): while it runs, commits take a lock
   * so that writes stay in sequence order. Outside such a group nothing is locked (staging never is).
   */
  readonly concurrently: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** Makes a run's bus; `startSequence` continues a resumed run's sequence. */
export const makeBus = (options: {
  readonly runId: string
  readonly recorder: RecorderService
  readonly sinks: ReadonlyArray<Sink>
  readonly traceContext: unknown
  readonly startSequence: number
  /** The run's redaction pass (runs with guardrails): nothing reaches the recorder or a sink without it. */
  readonly policy?: Policy | undefined
  /**
   * The agent's redaction policy and size cap, applied after `policy` for the recorder and every sink but
   * `caller` (the caller's own stream, which gets the guardrails' pass only).
   */
  readonly storage?: StoragePass | undefined
  /** The caller's stream: offered after the other sinks, with the event before the `storage` pass. */
  readonly caller?: Sink | undefined
}): Effect.Effect<Bus> =>
  Effect.map(Effect.clock, (clock) => {
    const { caller, policy, recorder, runId, sinks, storage, traceContext } = options
    const lock = Effect.unsafeMakeSemaphore(1)
    let sequence = options.startSequence
    let groups = 0
    let staged: Array<HookEvent> = []
    // The caller's version of each staged event, when the storage pass changed it.
    const shownOf = new WeakMap<HookEvent, HookEvent>()
    // A failed write halts the run; one that failed leaves the bus refusing every later write, so no event can
    // follow a gap in the sequence (a failed write's events were stamped, maybe partly durable).
    let failure: RecorderError | undefined
    const offer = (event: StreamEvent) => {
      for (const sink of sinks) sink(event, traceContext)
      if (caller !== undefined) caller(event, traceContext)
    }
    /** A delta after the guardrails' pass: to the caller as it is, to the other sinks through the storage pass. */
    const offerShown = (delta: StreamDelta) => {
      if (storage === undefined) return offer(delta)
      for (const part of storage.delta(delta)) {
        for (const sink of sinks) sink(part, traceContext)
      }
      if (caller !== undefined) caller(delta, traceContext)
    }
    // Text held back by the redaction passes goes out just before its call's end, so the pieces add up to it.
    const publish = (event: HookEvent) => {
      if (event._tag === "LlmCallCompleted" || event._tag === "LlmCallFailed") {
        if (policy !== undefined) { for (const held of policy.flush(event.correlationId)) offerShown(held) }
        if (storage !== undefined) {
          for (const held of storage.flush(event.correlationId)) for (const sink of sinks) sink(held, traceContext)
        }
      }
      const shown = shownOf.get(event)
      if (shown === undefined) return offer(forSinks(event))
      const stored = forSinks(event)
      for (const sink of sinks) sink(stored, traceContext)
      if (caller !== undefined) caller(forSinks(shown), traceContext)
    }
    const stamp = (input: HookEventInput, iteration: number): HookEvent => {
      const stamped = {
        ...input,
        runId,
        sequenceIndex: sequence++,
        iteration,
        timestamp: clock.unsafeCurrentTimeMillis()
      } as HookEvent
      const shown = policy === undefined ? stamped : policy.event(stamped)
      const event = storage === undefined ? shown : storage.event(shown)
      if (event !== shown) shownOf.set(event, shown)
      staged.push(event)
      return event
    }
    const failed = (events: ReadonlyArray<HookEvent>) => (error: RecorderError) => {
      // A `run.started` refused as a conflict (a thread's active run, an idempotency key) wrote nothing: the
      // sequence rewinds and the bus stays usable, so a start waiting for its thread can try again.
      if (error.reason === "conflict" && events.length === 1 && events[0]!._tag === "RunStarted") {
        sequence = events[0]!.sequenceIndex
      } else {
        failure = error
      }
      return Effect.fail(error)
    }
    /** Without `recordAll` the events are written one by one, each offered to the sinks once durable. */
    const oneByOne = (events: ReadonlyArray<HookEvent>) =>
      Effect.forEach(events, (event) => Effect.map(recorder.record(event), () => publish(event)), { discard: true })
    /** The write of everything staged, to run now (inside a `suspend` or the lock). */
    const flushNow = (): Effect.Effect<void, RecorderError> => {
      if (failure !== undefined) return Effect.fail(failure)
      if (staged.length === 0) return Effect.void
      const events = staged
      staged = []
      const record = events.length === 1
        ? Effect.map(recorder.record(events[0]!), () => publish(events[0]!))
        : recorder.recordAll === undefined
        ? oneByOne(events)
        : Effect.map(recorder.recordAll(events), () => {
          for (const event of events) publish(event)
        })
      // The full values of truncated fields are in the blob store before the references to them are recorded.
      const blobs = storage?.takeBlobs() ?? []
      const write = blobs.length === 0 || storage?.blobs === undefined ? record : Effect.zipRight(
        Effect.forEach(blobs, (b) => storage.blobs!.put(b.sha256, b.bytes), { discard: true, concurrency: 4 }).pipe(
          Effect.mapError((error) =>
            new RecorderError({
              operation: "record",
              runId,
              eventType: eventType(events[0]!),
              sequenceIndex: events[0]!.sequenceIndex,
              attempts: 1,
              reason: "transient",
              message: `the blob store refused a truncated field's value: ${error.message}`,
              cause: error
            })
          )
        ),
        record
      )
      // A write that started finishes (its retry budget is bounded): the record never ends mid-write.
      return Effect.uninterruptible(Effect.catchAll(write, failed(events)))
    }
    const flush = Effect.suspend(flushNow)
    /** The commit point, to run now: lock-free outside a concurrent group (one fiber emits), else under the lock. */
    const commitNow = () => (groups === 0 ? flushNow() : lock.withPermits(1)(flush))
    const commit = Effect.suspend(commitNow)
    /** A stream-only delta, through the redaction pass (which may hold text back until its call ends). */
    const offerDelta = (input: DeltaInput) => {
      const delta = { ...input, runId, timestamp: clock.unsafeCurrentTimeMillis() } as StreamDelta
      if (policy === undefined) return offerShown(delta)
      for (const part of policy.delta(delta)) offerShown(part)
    }
    return {
      runId,
      emit: (input, iteration) =>
        Effect.suspend(() => {
          const event = stamp(input, iteration)
          return Effect.as(commitNow(), event)
        }),
      stage: (input, iteration) => Effect.sync(() => stamp(input, iteration)),
      commit,
      delta: (input) => Effect.sync(() => offerDelta(input)),
      offerDelta,
      concurrently: (effect) =>
        Effect.suspend(() => {
          groups++
          return Effect.ensuring(effect, Effect.sync(() => groups--))
        })
    }
  })
