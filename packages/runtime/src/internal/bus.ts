import { Clock, Effect } from "effect"
import type { RecorderError } from "../Errors.js"
import type { HookEvent, HookEventInput } from "../HookEvent.js"
import type { RecorderService } from "../Recorder.js"
import type { StreamDelta, StreamEvent } from "../StreamEvent.js"

/** Where recorded events and deltas go after the recorder: notifier mailboxes and the caller's stream. */
export type Sink = (event: StreamEvent, traceContext: unknown) => Effect.Effect<void>

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
  /** The next sequence index. */
  readonly nextSequence: Effect.Effect<number>
}

/** A delta before the bus stamps run id and time. */
export type DeltaInput = StreamDelta extends infer D ? (D extends StreamDelta ? Omit<D, "runId" | "timestamp"> : never)
  : never

/** Makes a run's bus; `startSequence` continues a resumed run's sequence. */
export const makeBus = (options: {
  readonly runId: string
  readonly recorder: RecorderService
  readonly sinks: ReadonlyArray<Sink>
  readonly traceContext: unknown
  readonly startSequence: number
}): Effect.Effect<Bus> =>
  Effect.gen(function*() {
    const { recorder, runId, sinks, traceContext } = options
    const lock = yield* Effect.makeSemaphore(1)
    let sequence = options.startSequence
    const publish = (event: StreamEvent) =>
      Effect.forEach(sinks, (sink) => sink(event, traceContext), { discard: true })
    return {
      runId,
      emit: (input, iteration) =>
        lock.withPermits(1)(
          Effect.gen(function*() {
            const timestamp = yield* Clock.currentTimeMillis
            const event = { ...input, runId, sequenceIndex: sequence, iteration, timestamp } as unknown as HookEvent
            // A write that started finishes (its retry budget is bounded), so the counter never skips or repeats.
            yield* Effect.uninterruptible(Effect.tap(recorder.record(event), () => Effect.sync(() => sequence++)))
            yield* publish(forSinks(event))
            return event
          })
        ),
      delta: (input) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (timestamp) => publish({ ...input, runId, timestamp } as StreamDelta)
        ),
      nextSequence: Effect.sync(() => sequence)
    }
  })
