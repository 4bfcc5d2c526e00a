/**
 * The recorder port: the durable audit record. `record` is awaited before the run may take its next step
 * (fail-closed); a failure stops the run with `RecorderError`. `Recorder.memory` keeps events in memory.
 */
import { Context, Effect, Layer, Ref } from "effect"
import type { RecorderError } from "./Errors.js"
import type { HookEvent } from "./HookEvent.js"

/** What a recorder does. */
export interface RecorderService {
  /** Makes one event durable; succeeds only once it is. */
  readonly record: (event: HookEvent) => Effect.Effect<void, RecorderError>
}

/** Events a memory recorder has kept. */
export interface MemoryRecorderService {
  /** Every recorded event, in recording order (optionally of one run). */
  readonly events: (runId?: string) => Effect.Effect<ReadonlyArray<HookEvent>>
}

/** Read access to `Recorder.memory`. */
export class MemoryRecorder extends Context.Tag("@sextant/runtime/MemoryRecorder")<
  MemoryRecorder,
  MemoryRecorderService
>() {}

const makeMemory = Effect.gen(function*() {
  const ref = yield* Ref.make<Array<HookEvent>>([])
  const recorder: RecorderService = { record: (event) => Ref.update(ref, (all) => (all.push(event), all)) }
  const reader: MemoryRecorderService = {
    events: (runId) => Effect.map(Ref.get(ref), (all) => (runId === undefined ? [...all] : all.filter((e) => e.runId === runId)))
  }
  return { recorder, reader }
})

/** The recorder port the agent loop writes through. */
export class Recorder extends Context.Tag("@sextant/runtime/Recorder")<Recorder, RecorderService>() {
  /** Keeps events in memory, readable through `MemoryRecorder` (for tests and runs without a database). */
  static readonly memory: Layer.Layer<Recorder | MemoryRecorder> = Layer.effectContext(
    Effect.map(makeMemory, ({ reader, recorder }) => Context.make(Recorder, recorder).pipe(Context.add(MemoryRecorder, reader)))
  )
}
