/**
 * The per-run hook bus: stamps each event, makes it durable through the recorder (awaited, fail-closed), then
 * hands it to the segment's sinks (notifier mailboxes, the caller's stream), which never wait.
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
  /** Stamps, records (awaited, fail-closed), then offers to the sinks (never awaited). */
  readonly emit: <E extends HookEventInput>(input: E, iteration: number) => Effect.Effect<HookEvent, RecorderError>
  /** Offers a stream-only delta to the sinks; nothing is recorded. */
  readonly delta: (delta: DeltaInput) => Effect.Effect<void>
  /** `delta` as a plain call, for synchronous producers (a tool's `stream.chunk`): stamped with the time, offered. */
  readonly offerDelta: (delta: DeltaInput) => void
  /**
   * Runs `effect`, whose fibers emit concurrently (a parallel tool group): while it runs, emits take a lock so
   * that sequence indexes stay gapless and in recording order. Outside such a group emits take no lock.
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
    const publish = (event: StreamEvent) => {
      for (const sink of sinks) sink(event, traceContext)
    }
    const write = (input: HookEventInput, iteration: number): Effect.Effect<HookEvent, RecorderError> => {
      const event = {
        ...input,
        runId,
        sequenceIndex: sequence,
        iteration,
        timestamp: clock.unsafeCurrentTimeMillis()
      } as HookEvent
      // A write that started finishes (its retry budget is bounded), so the counter never skips or repeats.
      return Effect.uninterruptible(Effect.map(recorder.record(event), () => {
        sequence++
        publish(forSinks(event))
        return event
      }))
    }
    const locked = (input: HookEventInput, iteration: number) =>
      lock.withPermits(1)(Effect.suspend(() => write(input, iteration)))
    return {
      runId,
      emit: (input, iteration) =>
        Effect.suspend(() => (groups === 0 ? write(input, iteration) : locked(input, iteration))),
      delta: (input) =>
        Effect.sync(() => publish({ ...input, runId, timestamp: clock.unsafeCurrentTimeMillis() } as StreamDelta)),
      offerDelta: (input) => publish({ ...input, runId, timestamp: clock.unsafeCurrentTimeMillis() } as StreamDelta),
      concurrently: (effect) =>
        Effect.suspend(() => {
          groups++
          return Effect.ensuring(effect, Effect.sync(() => groups--))
        })
    }
  })
