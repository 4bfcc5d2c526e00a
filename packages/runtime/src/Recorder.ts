/**
 * The recorder port: the durable audit record. Writes are awaited at the commit point before the run takes its
 * next external step (fail-closed, docs/commit-points.md); a failure stops the run with `RecorderError`. `Recorder.memory` keeps events in memory
 * and also serves as the run ledger (resume, cancel, idempotency) for runs without a database.
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import type { RecorderError } from "./Errors.js"
import type { HookEvent } from "./HookEvent.js"
import { MemoryRuns } from "./internal/memoryLedger.js"
import { RunLedger, type RunLedgerService } from "./RunLedger.js"

/** What a recorder does. */
export interface RecorderService {
  /** Makes one event durable; succeeds only once it is. */
  readonly record: (event: HookEvent) => Effect.Effect<void, RecorderError>
  /**
   * Makes several events durable together, in order (the events between two commit points of a run, or of
   * several runs); succeeds only once every one is. On failure a prefix may be durable, each event exactly
   * once, and the run halts as for a failed `record`. Optional: without it the kernel calls `record` per event.
   */
  readonly recordAll?: ((events: ReadonlyArray<HookEvent>) => Effect.Effect<void, RecorderError>) | undefined
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

const makeMemory = Effect.sync(() => {
  const all: Array<HookEvent> = []
  // Each run's events by sequence index (no per-event key string to build and hash).
  const byRun = new Map<string, Array<HookEvent>>()
  const runs = new MemoryRuns()
  /** Records one event; the refusal, if any. */
  const recordOne = (event: HookEvent): RecorderError | undefined => {
    // A write retried after its reply was lost: the same event at a recorded index is already durable.
    let indexed = byRun.get(event.runId)
    const recorded = indexed?.[event.sequenceIndex]
    if (recorded !== undefined && recorded._tag === event._tag && recorded.timestamp === event.timestamp) {
      return undefined
    }
    const applied = runs.apply(event)
    if (applied._tag === "Left") return applied.left
    all.push(event)
    if (indexed === undefined) byRun.set(event.runId, indexed = [])
    indexed[event.sequenceIndex] = event
    return undefined
  }
  const recorder: RecorderService = {
    record: (event) =>
      Effect.suspend(() => {
        const refused = recordOne(event)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      }),
    // Event by event, stopping at the first refusal: the events before it stay recorded (a prefix, as the port allows).
    recordAll: (events) =>
      Effect.suspend(() => {
        for (const event of events) {
          const refused = recordOne(event)
          if (refused !== undefined) return Effect.fail(refused)
        }
        return Effect.void
      })
  }
  const reader: MemoryRecorderService = {
    events: (runId) => Effect.sync(() => (runId === undefined ? [...all] : all.filter((e) => e.runId === runId)))
  }
  const ledger: RunLedgerService = {
    get: (runId) => Effect.sync(() => Option.fromNullable(runs.get(runId))),
    findByIdempotencyKey: (key) => Effect.sync(() => Option.fromNullable(runs.findByIdempotencyKey(key))),
    claim: (runId, expected, submission, submissionId) =>
      Effect.map(Clock.currentTimeMillis, (now) => runs.claim(runId, expected, submission, submissionId, now)),
    heartbeat: (runId) => Effect.map(Clock.currentTimeMillis, (now) => runs.heartbeat(runId, now)),
    requestCancel: (runId) => Effect.sync(() => runs.requestCancel(runId)),
    isCancelRequested: (runId) => Effect.sync(() => runs.isCancelRequested(runId)),
    threadState: (threadId) => Effect.sync(() => Option.fromNullable(runs.threadState(threadId))),
    threadHistory: (threadId) => Effect.sync(() => runs.threadHistory(threadId))
  }
  return Context.make(Recorder, recorder).pipe(Context.add(MemoryRecorder, reader), Context.add(RunLedger, ledger))
})

/** The recorder port the agent loop writes through. */
export class Recorder extends Context.Tag("@sextant/runtime/Recorder")<Recorder, RecorderService>() {
  /** Keeps events in memory, readable through `MemoryRecorder`, and serves as the `RunLedger`. */
  static readonly memory: Layer.Layer<Recorder | MemoryRecorder | RunLedger> = Layer.effectContext(makeMemory)
}
