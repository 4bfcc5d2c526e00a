/**
 * The hook bus for runs recorded from outside the agent loop (manual instrumentation, adapters, ingest):
 * the same stamping, fail-closed recording and fail-open notifier dispatch as a native run's bus, so such a
 * run reaches the recorder, the runtime's notifiers and `Runs.follow` exactly as a native one does.
 */
import { context as otelContext } from "@opentelemetry/api"
import { Effect, Either, type Scope } from "effect"
import { InvalidRunOptions, type RecorderError } from "./Errors.js"
import type { HookEvent } from "./HookEvent.js"
import * as Bus from "./internal/bus.js"
import { decodeWith } from "./internal/config/fields.js"
import { RedactionSpec } from "./internal/config/redactionConfig.js"
import { compileRedaction, defaultRedaction, makeStoragePass, type StoragePass } from "./internal/redaction/policy.js"
import * as Services from "./internal/services.js"
import { checkRunNotifiers, segmentSinks } from "./internal/sinks.js"
import type { Notifier } from "./Notifier.js"
import type { Recorder } from "./Recorder.js"
import type * as Redaction from "./Redaction.js"
import type { StreamDelta } from "./StreamEvent.js"

/** An event before the bus stamps `runId`, `sequenceIndex`, `iteration` and `timestamp`. */
export type HookEventInput = Bus.HookEventInput

/** A stream-only delta before the bus stamps `runId` and `timestamp`. */
export type DeltaInput = StreamDelta extends infer D ? (D extends StreamDelta ? Omit<D, "runId" | "timestamp"> : never)
  : never

/** One run's bus: every emit is stamped, made durable (awaited, fail-closed), then offered to the notifiers. */
export interface HookBus {
  /** The run's id. */
  readonly runId: string
  /** Stamps the event (gapless sequence), records it, then offers it to the sinks; fails if recording fails. */
  readonly emit: <E extends HookEventInput>(input: E, iteration: number) => Effect.Effect<HookEvent, RecorderError>
  /** Offers a stream-only delta to the notifiers and followers; nothing is recorded. */
  readonly delta: (delta: DeltaInput) => Effect.Effect<void>
}

/** Options of `open`. */
export interface OpenOptions {
  /** The run's id. */
  readonly runId: string
  /** Notifiers for this run only, besides the runtime's `Notifiers` (if provided). */
  readonly notifiers?: ReadonlyArray<Notifier> | undefined
  /** The OpenTelemetry context the run's spans belong to (default: the active one). */
  readonly traceContext?: unknown
  /** The sequence index of the first emitted event (default 0). */
  readonly startSequence?: number | undefined
  /**
   * The redaction policy applied before the recorder and the notifiers (as an agent's `redaction`); without
   * one, the default per-field size cap still applies. A bad setting fails `InvalidRunOptions` naming it.
   */
  readonly redaction?: Redaction.Config | undefined
}

const decodeRedaction = decodeWith(
  RedactionSpec,
  "redaction",
  (field, message) =>
    field === "redaction"
      ? new InvalidRunOptions({ field, message })
      : new InvalidRunOptions({ field: `redaction.${field}`, message: `redaction.${message}` })
)

/** The storage pass of a policy given to `open`, or the typed error naming what is wrong in it. */
const storageOf = (config: Redaction.Config | undefined): Either.Either<StoragePass, InvalidRunOptions> => {
  if (config === undefined) return Either.right(makeStoragePass(defaultRedaction))
  const decoded = decodeRedaction(config)
  if (Either.isLeft(decoded)) return Either.left(decoded.left)
  return Either.mapBoth(compileRedaction(decoded.right, undefined), {
    onLeft: (e) => new InvalidRunOptions({ field: e.field, message: e.message }),
    onRight: makeStoragePass
  })
}

/**
 * Opens a run's bus over the `Recorder` in context and the runtime's `Notifiers` (when provided); its per-run
 * notifiers are drained when the scope closes. Emits are serialised, so concurrent fibers never skip an index.
 */
export const open = (
  options: OpenOptions
): Effect.Effect<HookBus, InvalidRunOptions, Recorder | Scope.Scope> =>
  Effect.gen(function*() {
    yield* checkRunNotifiers(options.notifiers)
    const storage = storageOf(options.redaction)
    if (Either.isLeft(storage)) return yield* storage.left
    const recorder = yield* Services.recorder
    const bus = yield* Bus.makeBus({
      runId: options.runId,
      recorder,
      sinks: yield* segmentSinks(options.notifiers, undefined),
      traceContext: options.traceContext ?? otelContext.active(),
      startSequence: options.startSequence ?? 0,
      storage: storage.right
    })
    const lock = yield* Effect.makeSemaphore(1)
    return {
      runId: bus.runId,
      emit: (input, iteration) => lock.withPermits(1)(bus.emit(input, iteration)),
      delta: (delta) => bus.delta(delta as Bus.DeltaInput)
    }
  })
