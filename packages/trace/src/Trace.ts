/**
 * Manual instrumentation: record an agent that is not built on Sextant's loop. `Trace.run` opens a run on the
 * same hook bus as a native run (stamped, gapless sequences; the `Recorder` fail-closed; notifiers fail-open),
 * so it appears in the RunStore, the read router and the dashboard exactly like one. Inside a run, calls to
 * `llm`, `tool`, `memoryRead`/`memoryWrite`, `event`, `stream`, `final` and `fail` become hook events; a run
 * started inside another becomes its child (parent id, delegation level) through the active context.
 */
import type { HookEvent, InvalidRunOptions, Notifier, Recorder, RecorderError, Redaction } from "@sextant/runtime"
import type { Effect, Layer, Option } from "effect"
import type { TraceError } from "./Errors.js"
import * as promise from "./internal/promise.js"
import * as internal from "./internal/run.js"
import type * as Remote from "./Remote.js"

/** Why a tracing call failed: a refused call (`TraceError`) or a failed write (`RecorderError`, fail-closed). */
export type TraceFailure = TraceError | RecorderError

/** Options of a traced run. */
export interface RunOptions {
  /** The tenant the run belongs to (a child run inherits its parent's). */
  readonly tenantId?: string | undefined
  /** The run's input (recorded as the first user message); a non-string is recorded as its JSON. */
  readonly input?: unknown
  /** The agent's instructions (system prompt), when it has some. */
  readonly instructions?: string | undefined
  /** The model and provider the agent mainly uses (shown on the run's row). */
  readonly model?: string | undefined
  /** The model's provider. */
  readonly provider?: string | undefined
  /** JSON metadata kept with the run (filterable in the RunStore). */
  readonly metadata?: { readonly [key: string]: HookEvent.Json } | undefined
  /** Names of the tools the agent has. */
  readonly tools?: ReadonlyArray<string> | undefined
  /** The run's id (default: a new time-sortable id). */
  readonly runId?: string | undefined
  /** The parent run's id, for a run whose parent lives in another process (default: the active run). */
  readonly parentRunId?: string | undefined
  /** The delegation level with an explicit `parentRunId` (default: 1 with a parent, 0 without). */
  readonly delegationLevel?: number | undefined
  /** Notifiers for this run only, besides the runtime's `Notifiers`. */
  readonly notifiers?: ReadonlyArray<Notifier.Notifier> | undefined
  /**
   * The redaction policy (key, pattern and per-tool rules, metadata-only, the field cap) applied by the run's
   * bus before the recorder and every notifier, as an agent's `redaction`; a child run inherits its parent's.
   * A bad setting fails the run's start with `InvalidRunOptions` naming it.
   */
  readonly redaction?: Redaction.Config | undefined
  /**
   * The fraction of runs recorded, 0..1 (default 1), decided by a hash of the run id (deterministic). A child
   * run follows its parent's decision.
   */
  readonly sampleRate?: number | undefined
  /**
   * Hold the run's events in memory and record them only if the run fails (`run.failed`); a run that
   * completes or is cancelled is forgotten. Applies to the runs `sampleRate` keeps; a child is held with its
   * parent's tree (recorded whole when the parent fails). Deltas are not offered live while held.
   */
  readonly onlyOnError?: boolean | undefined
  /**
   * Decides per run (instead of `sampleRate` and `onlyOnError`): `true` records it, `false` skips it,
   * `"onError"` holds it and records it only if it fails. A child follows its parent.
   */
  readonly sampler?: ((run: SampleInfo) => boolean | "onError") | undefined
}

/** What a sampler decides on. */
export interface SampleInfo {
  /** The run's id. */
  readonly runId: string
  /** The run's name. */
  readonly name: string
  /** The run's tenant. */
  readonly tenantId: string | undefined
}

/** A tool call the model asked for, as reported with a model call. */
export interface ToolCallInput {
  /** The call's id (default: a new id); pass it to `tool(…, { callId })` to pair the execution with it. */
  readonly id?: string | undefined
  /** The provider's own id of the call. */
  readonly providerCallId?: string | undefined
  /** The tool's name. */
  readonly name: string
  /** The arguments, as JSON. */
  readonly arguments: unknown
}

/** The start of a model call. */
export interface LlmStart {
  /** The model asked. */
  readonly model: string
  /** The provider (`openai`, `anthropic`, …). */
  readonly provider: string
  /** The semantic request (messages, tools) as JSON. */
  readonly request?: unknown
  /** How many messages the request holds (default: the length of `request.messages`, else 0). */
  readonly messageCount?: number | undefined
  /** Epoch ms the call started (default: now). */
  readonly startedAt?: number | undefined
}

/** The end of a model call. */
export interface LlmEnd {
  /** The text the model answered. */
  readonly text?: string | undefined
  /** The tool calls the model asked for. */
  readonly toolCalls?: ReadonlyArray<ToolCallInput> | undefined
  /** Why the model stopped (default `stop`, or `tool_calls` when it asked for tools). */
  readonly finishReason?: string | undefined
  /** Token counts (and cost) as the vendor reported them. */
  readonly usage?: HookEvent.Usage | undefined
  /** The exact response body from the vendor. */
  readonly response?: unknown
  /** The exact request body sent to the vendor. */
  readonly providerRequest?: unknown
  /** The model that answered, when the vendor says. */
  readonly responseModel?: string | undefined
  /** The vendor's response id. */
  readonly responseId?: string | undefined
  /** Epoch ms the call ended (default: now). */
  readonly endedAt?: number | undefined
}

/** A whole model call, reported after it returned. */
export interface LlmCall extends LlmStart, LlmEnd {}

/** A model call in flight (from `llmStart`): end it once with `end` or `fail`. */
export interface LlmSpan {
  /** The call's correlation id (on its start and end events). */
  readonly correlationId: string
  /** Records the call's answer. */
  readonly end: (result?: LlmEnd) => Effect.Effect<void, TraceFailure>
  /** Records the call's failure. */
  readonly fail: (
    error: unknown,
    options?: { readonly endedAt?: number | undefined }
  ) => Effect.Effect<void, TraceFailure>
}

/** Options of a memory read or write. */
export interface MemoryOptions {
  /** Which memory (a vector store, a key-value table). */
  readonly store?: string | undefined
}

/** Options of a traced tool call. */
export interface ToolOptions {
  /** The call's id, as the model call reported it (default: a new id). */
  readonly callId?: string | undefined
  /** The provider's id of the call. */
  readonly providerCallId?: string | undefined
}

/** A tool call in flight (from `toolStart`): end it once with `end` or `fail`. */
export interface ToolSpan {
  /** The call's correlation id. */
  readonly correlationId: string
  /** Records the call's result. */
  readonly end: (result?: unknown) => Effect.Effect<void, TraceFailure>
  /** Records the call's failure. */
  readonly fail: (error: unknown) => Effect.Effect<void, TraceFailure>
}

/** A tool call in flight, for hosts without Effect. */
export interface PromiseToolSpan {
  /** The call's correlation id. */
  readonly correlationId: string
  /** Records the call's result. */
  readonly end: (result?: unknown) => Promise<void>
  /** Records the call's failure. */
  readonly fail: (error: unknown) => Promise<void>
}

/** A stream of chunks (from `stream`): each chunk goes to the live wire, the count is recorded at `end`. */
export interface TraceStream {
  /** The stream's correlation id. */
  readonly correlationId: string
  /** Offers a chunk to notifiers and followers (not recorded row by row) and counts it. */
  readonly chunk: (data: unknown) => Effect.Effect<void>
  /** Records the stream's summary (`custom.sextant.stream`: name, chunks, characters). */
  readonly end: Effect.Effect<void, TraceFailure>
}

/** A run being traced: what the body of `Trace.run` records through. */
export interface TraceRun {
  /** The run's id. */
  readonly runId: string
  /** The parent run's id, for a child run. */
  readonly parentRunId: string | undefined
  /** 0 for a top-level run, parent's + 1 for a child. */
  readonly delegationLevel: number
  /** The run's tenant. */
  readonly tenantId: string | undefined
  /** Whether the run is recorded (false: sampled out, every call is a no-op). */
  readonly sampled: boolean
  /** Records a model call that already returned (start and end). */
  readonly llm: (call: LlmCall) => Effect.Effect<void, TraceFailure>
  /** Records the start of a model call (durable before it returns); end it with the span. */
  readonly llmStart: (start: LlmStart) => Effect.Effect<LlmSpan, TraceFailure>
  /** Runs `body` as a tool call: its start is durable first; its result or failure and duration are recorded. */
  readonly tool: <A, E, R>(
    name: string,
    args: unknown,
    body: Effect.Effect<A, E, R>,
    options?: ToolOptions
  ) => Effect.Effect<A, E | TraceFailure, R>
  /** Records the start of a tool call (durable first) for callers that see start and end apart (adapters). */
  readonly toolStart: (name: string, args: unknown, options?: ToolOptions) => Effect.Effect<ToolSpan, TraceFailure>
  /** Records a memory read (`value` undefined: the key was not found). */
  readonly memoryRead: (key: string, value: unknown, options?: MemoryOptions) => Effect.Effect<void, TraceFailure>
  /** Records a memory write. */
  readonly memoryWrite: (key: string, value: unknown, options?: MemoryOptions) => Effect.Effect<void, TraceFailure>
  /** Records a custom event, named `custom.<type>` (`sextant.*` types are reserved). */
  readonly event: (type: string, data?: unknown) => Effect.Effect<void, TraceFailure>
  /** Opens a named stream of chunks. */
  readonly stream: (name: string) => Effect.Effect<TraceStream, TraceFailure>
  /** Ends the run `success` with its answer. */
  readonly final: (answer?: string, options?: { readonly output?: unknown }) => Effect.Effect<void, TraceFailure>
  /** Ends the run `error` with this error (its tag and message are recorded). */
  readonly fail: (error: unknown) => Effect.Effect<void, TraceFailure>
}

/**
 * Traces `body` as a run. When the body succeeds without `final`/`fail`, the run completes (a string result is
 * its answer); when it fails, the run fails with that error, which the caller gets back; when it is
 * interrupted, the run is recorded `cancelled`. A failed write stops the run with its `RecorderError`.
 */
export const run: <A, E, R>(
  name: string,
  options: RunOptions,
  body: (run: TraceRun) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E | TraceFailure | InvalidRunOptions, R | Recorder> = (name, options, body) =>
  internal.run(name, options, body, undefined)

/** The run being traced in this fiber, if any. */
export const current: Effect.Effect<Option.Option<TraceRun>> = internal.current

/** A run being traced, for hosts without Effect: the same calls, returning Promises. */
export interface PromiseRun {
  /** The run's id. */
  readonly runId: string
  /** The parent run's id, for a child run. */
  readonly parentRunId: string | undefined
  /** 0 for a top-level run, parent's + 1 for a child. */
  readonly delegationLevel: number
  /** Whether the run is recorded. */
  readonly sampled: boolean
  /** See `TraceRun.llm`. */
  readonly llm: (call: LlmCall) => Promise<void>
  /** See `TraceRun.llmStart`; the span's `end`/`fail` return Promises. */
  readonly llmStart: (start: LlmStart) => Promise<PromiseLlmSpan>
  /** See `TraceRun.tool`: `fn` may be sync or async; its result is returned, its error rethrown. */
  readonly tool: <A>(name: string, args: unknown, fn: () => A | PromiseLike<A>, options?: ToolOptions) => Promise<A>
  /** See `TraceRun.toolStart`. */
  readonly toolStart: (name: string, args: unknown, options?: ToolOptions) => Promise<PromiseToolSpan>
  /** See `TraceRun.memoryRead`. */
  readonly memoryRead: (key: string, value: unknown, options?: MemoryOptions) => Promise<void>
  /** See `TraceRun.memoryWrite`. */
  readonly memoryWrite: (key: string, value: unknown, options?: MemoryOptions) => Promise<void>
  /** See `TraceRun.event`. */
  readonly event: (type: string, data?: unknown) => Promise<void>
  /** See `TraceRun.stream`. */
  readonly stream: (name: string) => Promise<PromiseStream>
  /** See `TraceRun.final`. */
  readonly final: (answer?: string, options?: { readonly output?: unknown }) => Promise<void>
  /** See `TraceRun.fail`. */
  readonly fail: (error: unknown) => Promise<void>
}

/** A model call in flight, for hosts without Effect. */
export interface PromiseLlmSpan {
  /** The call's correlation id. */
  readonly correlationId: string
  /** Records the call's answer. */
  readonly end: (result?: LlmEnd) => Promise<void>
  /** Records the call's failure. */
  readonly fail: (error: unknown, options?: { readonly endedAt?: number | undefined }) => Promise<void>
}

/** A stream of chunks, for hosts without Effect. */
export interface PromiseStream {
  /** The stream's correlation id. */
  readonly correlationId: string
  /** Offers a chunk to the live wire and counts it. */
  readonly chunk: (data: unknown) => Promise<void>
  /** Records the stream's summary. */
  readonly end: () => Promise<void>
}

/** What `traced` records a wrapped function as. */
export interface TracedOptions {
  /** `tool` (the only kind so far): each call becomes a tool call of the active run. */
  readonly kind: "tool"
  /** The tool's name (default: the function's name). */
  readonly name?: string | undefined
}

/** A tracer for hosts without Effect, over a recorder layer; `close()` releases it. */
export interface Tracer {
  /** Traces `body` as a run (nested calls become child runs through `AsyncLocalStorage`). */
  readonly run: <A>(name: string, options: RunOptions, body: (run: PromiseRun) => Promise<A> | A) => Promise<A>
  /** The run active in this async context, if any. */
  readonly current: () => PromiseRun | undefined
  /**
   * Wraps a plain function (sync or async): called inside a run it is recorded as a tool call (arguments,
   * result or error, duration); outside one it is simply called. The wrapper always returns a Promise.
   */
  readonly traced: <Args extends ReadonlyArray<unknown>, A>(
    fn: (...args: Args) => A | PromiseLike<A>,
    options: TracedOptions
  ) => (...args: Args) => Promise<Awaited<A>>
  /** Releases the recorder layer (drains notifiers, closes the database). */
  readonly close: () => Promise<void>
}

/**
 * A Promise tracer over a layer providing the `Recorder` (and optionally `Notifiers`): for example
 * `SqlRecorder.layerFromUrl("sqlite:./agent.db")` or `Remote.layer({ url, apiKey })`.
 */
export const make: <E>(layer: Layer.Layer<Recorder, E>) => Tracer = promise.make

/** A Promise tracer over the buffered exporter (`Trace.remote`): a `Tracer` with the exporter's controls. */
export interface RemoteTracer extends Tracer {
  /** Sends everything traced so far (or drops it, counted); resolves with the counters after. */
  readonly flush: () => Promise<Remote.ExporterStats>
  /** The exporter's counters now. */
  readonly stats: () => Promise<Remote.ExporterStats>
  /** Flushes (up to `shutdownTimeout`), releases the exporter and resolves with the final counters. */
  readonly shutdown: () => Promise<Remote.ExporterStats>
}

/**
 * A Promise tracer that sends to an ingest endpoint through the buffered exporter (`Remote.buffered`):
 * batched, non-blocking beyond `blockFor`, drops counted and reported; `close()` and `shutdown()` flush.
 */
export const remote: (options: Remote.BufferedOptions) => RemoteTracer = promise.remote
