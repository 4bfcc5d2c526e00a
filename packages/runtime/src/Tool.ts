/**
 * Tools an agent may call. Arguments from the model are decoded with the tool's schema (an Effect Schema or
 * any Standard Schema: zod, valibot, ArkType); every way a call can go wrong becomes a failed tool result the
 * model sees on its next turn, never a crashed run. `Tool.make` only describes a tool; `Agent.make` validates
 * it and fails with `AgentConfigError`.
 */
import { type Duration, type Effect, Schema } from "effect"
import type { Json } from "./HookEvent.js"
import type { StandardSchemaV1 } from "./StandardSchema.js"
import type { StreamChunkData } from "./StreamEvent.js"

/**
 * A tool call's own stream (one per call): each `chunk` goes at once, in order, to notifiers and the caller's
 * stream as a `StreamChunk` with its sequence; the record gets the stream's aggregate (`stream.ended`) and, when
 * the tool samples (`Tool.make(…, { stream: { sampleRate } })`), some of the chunks in `stream_chunks`.
 */
export interface ToolStream {
  /**
   * Sends one chunk (JSON, or bytes as a `Uint8Array`). Synchronous and never waits; returns false once the
   * call has ended (a chunk sent later is not delivered). Throws `InvalidStreamChunk` for anything else.
   */
  readonly chunk: (data: StreamChunkData) => boolean
}

/** How a tool's stream is sampled into the record (`stream_chunks`). */
export interface ToolStreamOptions {
  /** Fraction of chunks kept in the record, 0..1 (default 0: only the aggregate is recorded). */
  readonly sampleRate?: number | undefined
  /** Most chunks kept per call (default 1000); chunks past it are counted but not kept. */
  readonly maxSamples?: number | undefined
}

/** What a tool handler is told about the call it serves. */
export interface ToolContext {
  readonly runId: string
  readonly callId: string
  readonly iteration: number
  /** How deep the run is in a delegation tree (0 for a top-level run). */
  readonly delegationLevel: number
  readonly tenantId?: string
  /** Aborted when the call times out or the run is interrupted; pass it to `fetch` and friends. */
  readonly signal: AbortSignal
  /** The call's stream: audio frames, progress, partial results, delivered live and aggregated in the record. */
  readonly stream: ToolStream
}

/** A handler may return an Effect, a Promise or a plain value (which must be JSON-serialisable). */
export type ToolHandlerResult = Effect.Effect<unknown, unknown> | PromiseLike<unknown> | unknown

/**
 * A tool's arguments: an Effect Schema, or a Standard Schema of any library (zod 4, valibot, ArkType, or
 * Effect's own through `Schema.standardSchemaV1`). `A` is what the handler gets, `I` what the model sends.
 */
export type ToolParameters<A, I> = Schema.Schema<A, I, never> | StandardSchemaV1<I, A>

/** Options of `Tool.make`. */
export interface ToolOptions<A, I> {
  readonly description: string
  /** Decodes the model's arguments; it must describe a JSON object. */
  readonly parameters: ToolParameters<A, I>
  /**
   * The JSON Schema of the arguments as the model is sent it. Derived when left out: `JSONSchema.make` for an
   * Effect Schema, the Standard JSON Schema interface (`~standard.jsonSchema`: zod 4, ArkType) or the
   * library's converter on the schema object for a Standard Schema. Give it for a library that has neither
   * (valibot: `toJsonSchema` from `@valibot/to-json-schema`).
   */
  readonly jsonSchema?: Json | undefined
  /** Required for server tools; client tools are executed by the caller while the run waits. */
  readonly handler?: ((args: A, context: ToolContext) => ToolHandlerResult) | undefined
  /** Default `"server"`. */
  readonly target?: "server" | "client" | undefined
  /** Consecutive parallel tools run concurrently; a non-parallel tool is a barrier. Default `true`. */
  readonly parallel?: boolean | undefined
  /** Default 120 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Calls past this count in one run get a failed result instead of executing. */
  readonly maxCallsPerRun?: number | undefined
  /** How the call's stream (`context.stream`) is sampled into the record. */
  readonly stream?: ToolStreamOptions | undefined
  /**
   * Safe to execute twice: a fleet run recovered after its runner was lost re-executes a call of this tool that
   * was in flight (see the agent's `onInterruptedTool` for the others). Default `false`.
   */
  readonly idempotent?: boolean | undefined
}

/** A tool definition, validated when an agent is made. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of rules/parts/tools of any type
export interface Tool<A = any, I = any> extends ToolOptions<A, I> {
  readonly name: string
  /** `human`: a call pauses the run `waiting_human_input`; `submitInput` answers it. */
  readonly kind?: "human" | undefined
}

/** Describes a tool; `Agent.make` validates it. */
export const make = <A, I>(name: string, options: ToolOptions<A, I>): Tool<A, I> => ({ name, ...options })

/** Options of `Tool.humanInput`. */
export interface HumanInputOptions {
  /** Default `ask_human`. */
  readonly name?: string | undefined
  readonly description?: string | undefined
}

/**
 * A tool the model calls to ask a person: the run pauses `waiting_human_input` with the question as its
 * prompt, and the text given to `submitInput` becomes the tool's result.
 */
export const humanInput = (options?: HumanInputOptions): Tool<{ readonly question: string }> => ({
  name: options?.name ?? "ask_human",
  description: options?.description ??
    "Ask the user a question when you need information or a decision only they can give.",
  parameters: Schema.Struct({ question: Schema.String }),
  target: "client",
  kind: "human"
})
