/**
 * A Promise facade for hosts that do not use Effect: build it once from a layer that provides the model
 * and the recorder, run agents, and dispose it on shutdown (which drains the notifiers).
 */
import { context as otelContext } from "@opentelemetry/api"
import { Cause, type Duration, Effect, Exit, Layer, ManagedRuntime, Option, Runtime, Stream } from "effect"
import type { Agent, RunInput, RunOptions, RunOptionsOf } from "./Agent.js"
import { EffectVersionMismatch, InvalidRunOptions } from "./Errors.js"
import * as Admission from "./internal/admission.js"
import { foreignOf, mismatchMessage, versionsOf } from "./internal/effectCopies.js"
import { invalidNotifiers } from "./internal/notifierList.js"
import type { LanguageModel } from "./LanguageModel.js"
import type { Notifier, NotifierStats } from "./Notifier.js"
import { Notifiers, notifierStats } from "./Notifiers.js"
import type { Recorder } from "./Recorder.js"
import { RunLedger } from "./RunLedger.js"
import type { CancelResult, RunResult, ToolResultSubmission } from "./RunResult.js"
import { cancelRun } from "./Runs.js"
import type { StreamEvent } from "./StreamEvent.js"

/** Options of `AgentRuntime.make`. */
export interface AgentRuntimeOptions {
  /** Notifiers that see every run of this runtime. */
  readonly notifiers?: ReadonlyArray<Notifier> | undefined
  /** How long `dispose` waits for each notifier's mailbox to drain (default 2 seconds). */
  readonly drainTimeout?: Duration.DurationInput | undefined
  /**
   * At most this many runs execute at once (`run`, `stream`, `submit*`, `streamSubmit*`, `retryRun`; each
   * resumed segment counts as a run; a stream holds its slot from its first `next()` until it ends or is
   * stopped). Default: no limit. Past it runs wait in arrival order, up to `maxQueuedRuns`; beyond that they are
   * rejected with `Overloaded` before anything is recorded.
   */
  readonly maxConcurrentRuns?: number | undefined
  /** How many runs may wait for a slot when `maxConcurrentRuns` are running (default: `maxConcurrentRuns`). */
  readonly maxQueuedRuns?: number | undefined
}

/** What admission (`maxConcurrentRuns`) has done and holds now. */
export type AdmissionStats = Admission.AdmissionStats

/**
 * A runtime for Promise-based hosts. Every rejection is the typed error itself (`_tag` and its fields, an
 * `instanceof` of the error class), never a wrapper: `RecorderError`, `InvalidRunOptions`, `RunNotFound`…
 */
export interface AgentRuntime {
  /** Runs an agent; rejects with the typed error (`RecorderError`, `InvalidRunOptions`) when the run could not be recorded. */
  readonly run: <Out, A = Out>(agent: Agent<Out>, input: RunInput, options?: RunOptionsOf<A>) => Promise<RunResult<A>>
  /** Streams a run's recorded events and deltas; breaking out of the loop cancels the run. */
  readonly stream: (agent: Agent, input: RunInput, options?: RunOptions) => AsyncIterable<StreamEvent>
  /** Resumes a run waiting for client tool results. */
  readonly submitToolResults: (
    agent: Agent,
    runId: string,
    results: ReadonlyArray<ToolResultSubmission>,
    options?: RunOptions
  ) => Promise<RunResult>
  /** Resumes a run waiting for approval. */
  readonly submitApproval: (
    agent: Agent,
    runId: string,
    decision: { readonly approved: boolean; readonly reason?: string | undefined },
    options?: RunOptions
  ) => Promise<RunResult>
  /** Resumes a run waiting for human input. */
  readonly submitInput: (agent: Agent, runId: string, text: string, options?: RunOptions) => Promise<RunResult>
  /** Resumes a run waiting for client tool results, as the stream of the resumed segment's events. */
  readonly streamSubmitToolResults: (
    agent: Agent<unknown>,
    runId: string,
    results: ReadonlyArray<ToolResultSubmission>,
    options?: RunOptions
  ) => AsyncIterable<StreamEvent>
  /** Resumes a run waiting for approval, as a stream. */
  readonly streamSubmitApproval: (
    agent: Agent<unknown>,
    runId: string,
    decision: { readonly approved: boolean; readonly reason?: string | undefined },
    options?: RunOptions
  ) => AsyncIterable<StreamEvent>
  /** Resumes a run waiting for human input, as a stream. */
  readonly streamSubmitInput: (
    agent: Agent<unknown>,
    runId: string,
    text: string,
    options?: RunOptions
  ) => AsyncIterable<StreamEvent>
  /** Cancels a run (see `Runs.cancelRun`). */
  readonly cancelRun: (runId: string) => Promise<CancelResult>
  /** Starts a new run from a finished run's input. */
  readonly retryRun: (agent: Agent, runId: string, options?: RunOptions) => Promise<RunResult>
  /** Delivery counters per notifier. */
  readonly stats: () => Promise<ReadonlyArray<NotifierStats>>
  /** Admission counters: runs running and queued now, admitted and rejected (`Overloaded`) so far. */
  readonly admission: () => AdmissionStats
  /**
   * Builds the layer now (or waits for the build under way) and resolves once it is up; rejects with the
   * build's typed error (a missing database directory, a Postgres server that is down). A failed build is
   * released and the next call (`ready`, `run`, …) builds again, so the runtime recovers once the cause is fixed.
   */
  readonly ready: () => Promise<void>
  /** Releases the layer: drains notifiers up to their deadline, closes database pools. */
  readonly dispose: () => Promise<void>
}

/** Runs an effect that reads runs back; a recorder that cannot (no `RunLedger`) is a typed error. */
const withLedger = <A, E, R>(
  effect: Effect.Effect<A, E, R | RunLedger>
): Effect.Effect<A, E | InvalidRunOptions, Exclude<R, RunLedger>> =>
  Effect.flatMap(
    Effect.serviceOption(RunLedger),
    (ledger): Effect.Effect<A, E | InvalidRunOptions, Exclude<R, RunLedger>> =>
      Option.isNone(ledger)
        ? Effect.fail(
          new InvalidRunOptions({
            field: "recorder",
            message: "recorder: resuming, cancelling and retrying need a recorder that reads runs back (RunLedger)"
          })
        )
        : Effect.provideService(effect, RunLedger, ledger.value)
  )

/** A stream that reads runs back; a recorder that cannot (no `RunLedger`) is a typed error. */
const streamWithLedger = <A, E, R>(
  stream: Stream.Stream<A, E, R | RunLedger>
): Stream.Stream<A, E | InvalidRunOptions, Exclude<R, RunLedger>> =>
  Stream.unwrap(
    Effect.map(
      withLedger(RunLedger),
      (ledger) => Stream.provideService(stream, RunLedger, ledger) as Stream.Stream<A, E, Exclude<R, RunLedger>>
    )
  )

/** The failure itself: an Effect failure's error, a defect's value or an interruption, never a FiberFailure. */
const unwrap = (error: unknown): unknown =>
  Runtime.isFiberFailure(error) ? Cause.squash(error[Runtime.FiberFailureCauseId]) : error

type Managed = ManagedRuntime.ManagedRuntime<LanguageModel | Recorder | Notifiers, unknown>

/** Runs an effect to a Promise that rejects with the typed failure. */
const promise = <A, E>(runtime: Managed, effect: Effect.Effect<A, E, LanguageModel | Recorder | Notifiers>) =>
  runtime.runPromiseExit(effect).then(
    (exit) => (Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))),
    (error: unknown) => Promise.reject(unwrap(error))
  )

/**
 * The layer as a `ManagedRuntime`, rebuilt after a failed build: `ManagedRuntime` keeps its first build's
 * outcome forever, so one failure (the database not there yet) would otherwise fail every later call.
 */
const rebuilding = (make: () => Managed) => {
  let current = make()
  let disposed = false
  return {
    /** The runtime once its layer is built; a failed build is released and replaced before the rejection. */
    acquire: (): Promise<Managed> => {
      const managed = current
      return managed.runtime().then(() => managed, (error: unknown) => {
        // Concurrent callers share one failed build: the first to see it replaces it.
        if (current === managed && !disposed) current = make()
        const failure = unwrap(error)
        return managed.dispose().then(() => Promise.reject(failure), () => Promise.reject(failure))
      })
    },
    dispose: () => {
      disposed = true
      return current.dispose()
    }
  }
}

const positiveInt = (n: number, allowZero: boolean) => Number.isInteger(n) && (allowZero ? n >= 0 : n > 0)

/** The admission gate of the options; a limit that is not a count is refused where it is given. */
const admissionOf = (options: AgentRuntimeOptions | undefined): Admission.Admission => {
  const max = options?.maxConcurrentRuns
  const queue = options?.maxQueuedRuns ?? max ?? 0
  if (max !== undefined && !positiveInt(max, false)) {
    throw new InvalidRunOptions({
      field: "maxConcurrentRuns",
      message: `maxConcurrentRuns: expected a positive integer, got ${String(max)}`
    })
  }
  if (!positiveInt(queue, true)) {
    throw new InvalidRunOptions({
      field: "maxQueuedRuns",
      message: `maxQueuedRuns: expected a non-negative integer, got ${String(queue)}`
    })
  }
  return Admission.makeAdmission(max, queue)
}

/**
 * Builds a Promise runtime over a layer providing `LanguageModel` and `Recorder` (and `RunLedger` to resume).
 * The layer is built on the first call (or `ready()`); a build that fails is retried on the next call.
 * Throws `InvalidNotifiers` naming the entry when a notifier is not one or two share a name,
 * `EffectVersionMismatch` when the layer comes from another copy of effect, and `InvalidRunOptions` when
 * `maxConcurrentRuns` or `maxQueuedRuns` is not a positive (or, for the queue, non-negative) integer.
 */
export const make = <E>(
  layer: Layer.Layer<LanguageModel | Recorder, E>,
  options?: AgentRuntimeOptions
): AgentRuntime => {
  const foreign = foreignOf(layer)
  if (foreign !== undefined) {
    throw new EffectVersionMismatch({
      ...versionsOf(foreign),
      message: `the layer given to AgentRuntime.make is ${mismatchMessage(foreign)}`
    })
  }
  const invalid = invalidNotifiers(options?.notifiers ?? [])
  if (invalid !== undefined) throw invalid
  const admission = admissionOf(options)
  const notifiers = Notifiers.layer(options?.notifiers ?? [], { drainTimeout: options?.drainTimeout })
  const runtime = rebuilding(() => ManagedRuntime.make(Layer.merge(layer, notifiers)))
  // The caller's OpenTelemetry context is captured here, synchronously, so later notifier spans can parent to it.
  const withTrace = (options?: RunOptions): RunOptions => ({
    ...options,
    traceContext: options?.traceContext ?? otelContext.active()
  })
  const run = <A, Err>(effect: Effect.Effect<A, Err, LanguageModel | Recorder | Notifiers>) =>
    runtime.acquire().then((managed) => promise(managed, effect))
  /** A run (or resumed segment) through admission. */
  const admitted = <A, Err>(effect: Effect.Effect<A, Err, LanguageModel | Recorder | Notifiers>) =>
    admission.admit(() => run(effect))
  /**
   * A stream through admission, like a run: its first `next()` takes a slot (waiting for one, or rejecting
   * with `Overloaded`), which is held until the stream ends, fails or the consumer stops it (`return`).
   */
  const iterable = <E>(
    stream: Stream.Stream<StreamEvent, E, LanguageModel | Recorder | Notifiers>
  ): AsyncIterable<StreamEvent> => ({
    [Symbol.asyncIterator]: () => {
      let inner: Promise<AsyncIterator<StreamEvent>> | undefined
      let release: (() => void) | undefined
      let ended = false
      const end = () => {
        ended = true
        release?.()
      }
      const iterator = () => (inner ??= new Promise<AsyncIterator<StreamEvent>>((resolve, reject) => {
        admission.admit(() =>
          new Promise<void>((done) => {
            release = done
            // Stopped while it waited for its slot: the slot goes straight back.
            if (ended) return done()
            runtime.acquire().then((managed) => managed.runtime()).then(
              (rt) => resolve(Stream.toAsyncIterableRuntime(stream, rt)[Symbol.asyncIterator]()),
              (error: unknown) => {
                done()
                reject(error)
              }
            )
          })
        ).catch(reject)
      }))
      return {
        next: () =>
          iterator().then((it) => it.next()).then((result) => {
            if (result.done === true) end()
            return result
          }).catch((error: unknown) => {
            end()
            return Promise.reject(unwrap(error))
          }),
        return: (value?: unknown) => {
          // Never started: nothing to stop, no slot to take.
          if (inner === undefined) {
            ended = true
            return Promise.resolve({ done: true as const, value: undefined })
          }
          return iterator().then((it) => it.return?.(value) ?? { done: true as const, value: undefined }).catch((
            error: unknown
          ) => Promise.reject(unwrap(error))).finally(end)
        }
      }
    }
  })
  return {
    run: <Out, A = Out>(agent: Agent<Out>, input: RunInput, runOptions?: RunOptionsOf<A>) =>
      admitted(agent.run<A>(input, withTrace(runOptions) as RunOptionsOf<A>)),
    stream: (agent, input, runOptions) => iterable(agent.stream(input, withTrace(runOptions))),
    streamSubmitToolResults: (agent, runId, results, runOptions) =>
      iterable(streamWithLedger(agent.streamSubmitToolResults(runId, results, withTrace(runOptions)))),
    streamSubmitApproval: (agent, runId, decision, runOptions) =>
      iterable(streamWithLedger(agent.streamSubmitApproval(runId, decision, withTrace(runOptions)))),
    streamSubmitInput: (agent, runId, text, runOptions) =>
      iterable(streamWithLedger(agent.streamSubmitInput(runId, text, withTrace(runOptions)))),
    submitToolResults: (agent, runId, results, runOptions) =>
      admitted(withLedger(agent.submitToolResults(runId, results, withTrace(runOptions)))),
    submitApproval: (agent, runId, decision, runOptions) =>
      admitted(withLedger(agent.submitApproval(runId, decision, withTrace(runOptions)))),
    submitInput: (agent, runId, text, runOptions) =>
      admitted(withLedger(agent.submitInput(runId, text, withTrace(runOptions)))),
    cancelRun: (runId) => run(withLedger(cancelRun(runId))),
    retryRun: (agent, runId, runOptions) => admitted(withLedger(agent.retry(runId, withTrace(runOptions)))),
    stats: () => run(notifierStats),
    admission: admission.stats,
    ready: () => runtime.acquire().then(() => undefined),
    dispose: () => runtime.dispose()
  }
}
