/**
 * The per-run hook bus: stamps each event, makes it durable through the recorder (awaited, fail-closed), then
 * hands it to the segment's sinks (notifier mailboxes, the caller's stream), which never wait. Events between
 * two external steps are staged and made durable together at the commit point before the next step (one
 * write, one await); sinks only ever see durable events (docs/commit-points.md).
 */
import { Effect } from "effect"
import type { RecorderError } from "../Errors.js"
import type { HookEvent } from "../HookEvent.js"
import type { RecorderService } from "../Recorder.js"
import type { StreamDelta, StreamEvent } from "../StreamEvent.js"

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
   * Stamps the event and makes it durable together with every event staged before it (one write), then offers
   * them to the sinks (never awaited). Fail-closed: the run's next step waits for it. A commit point.
   */
  readonly emit: <E extends HookEventInput>(input: E, iteration: number) => Effect.Effect<HookEvent, RecorderError>
  /**
   * Stamps the event and keeps it for the next commit point (`emit` or `commit`): it is durable, and offered to
   * the sinks, only then. For the events between two external steps (see docs/commit-points.md).
   */
  readonly stage: <E extends HookEventInput>(input: E, iteration: number) => Effect.Effect<HookEvent>
  /** Makes every staged event durable (one write), then offers them to the sinks; nothing staged: no write. */
  readonly commit: Effect.Effect<void, RecorderError>
  /** Offers a stream-only delta to the sinks; nothing is recorded. */
  readonly delta: (delta: DeltaInput) => Effect.Effect<void>
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
}): Effect.Effect<Bus> =>
  Effect.map(Effect.clock, (clock) => {
    const { recorder, runId, sinks, traceContext } = options
    const lock = Effect.unsafeMakeSemaphore(1)
    let sequence = options.startSequence
    let groups = 0
    let staged: Array<HookEvent> = []
    // A failed write halts the run; one that failed leaves the bus refusing every later write, so no event can
    // follow a gap in the sequence (a failed write's events were stamped, maybe partly durable).
    let failure: RecorderError | undefined
    const publish = (event: HookEvent) => {
      const shown = forSinks(event)
      for (const sink of sinks) sink(shown, traceContext)
    }
    const stamp = (input: HookEventInput, iteration: number): HookEvent => {
      const event = {
        ...input,
        runId,
        sequenceIndex: sequence++,
        iteration,
        timestamp: clock.unsafeCurrentTimeMillis()
      } as HookEvent
      staged.push(event)
      return event
    }
    const failed = (error: RecorderError) => {
      failure = error
      return Effect.fail(error)
    }
    /** Without `recordAll` the events are written one by one, each offered to the sinks once durable. */
    const oneByOne = (events: ReadonlyArray<HookEvent>) =>
      Effect.forEach(events, (event) => Effect.map(recorder.record(event), () => publish(event)), { discard: true })
    const flush: Effect.Effect<void, RecorderError> = Effect.suspend(() => {
      if (failure !== undefined) return Effect.fail(failure)
      if (staged.length === 0) return Effect.void
      const events = staged
      staged = []
      const write = events.length === 1
        ? Effect.map(recorder.record(events[0]!), () => publish(events[0]!))
        : recorder.recordAll === undefined
        ? oneByOne(events)
        : Effect.map(recorder.recordAll(events), () => {
          for (const event of events) publish(event)
        })
      // A write that started finishes (its retry budget is bounded): the record never ends mid-write.
      return Effect.uninterruptible(Effect.catchAll(write, failed))
    })
    const commit = Effect.suspend(() => (groups === 0 ? flush : lock.withPermits(1)(flush)))
    return {
      runId,
      emit: (input, iteration) =>
        Effect.suspend(() => {
          const event = stamp(input, iteration)
          return Effect.as(commit, event)
        }),
      stage: (input, iteration) => Effect.sync(() => stamp(input, iteration)),
      commit,
      delta: (input) =>
        Effect.sync(() => {
          const delta = { ...input, runId, timestamp: clock.unsafeCurrentTimeMillis() } as StreamDelta
          for (const sink of sinks) sink(delta, traceContext)
        }),
      concurrently: (effect) =>
        Effect.suspend(() => {
          groups++
          return Effect.ensuring(effect, Effect.sync(() => groups--))
        })
    }
  })
