/**
 * The model port: the kernel sends a turn (system prompt, history, tool definitions) and gets back text,
 * tool calls, usage and the raw provider payloads. Vendors plug in behind it; `ScriptedModel` stands in
 * for one in tests and examples.
 */
import { Context, type Effect, type Stream } from "effect"
import type { ModelError, RecorderError } from "./Errors.js"
import type { Json, Message, Usage } from "./HookEvent.js"

/** A tool as the model sees it: name, description and JSON Schema of its arguments (itself JSON). */
export type ToolDefinition = {
  readonly name: string
  readonly description: string
  readonly parameters: Json
}

/** A retryable provider failure, reported by the provider before it tries again. */
export interface ProviderRetryInfo {
  readonly attempt: number
  readonly statusCode?: number
  readonly retryAfterMs?: number
  readonly endpoint?: string
  readonly reason: string
}

/** The structured output a turn asks for: a name and the JSON Schema the final answer must conform to. */
export interface ModelOutputFormat {
  readonly name: string
  readonly schema: Json
}

/** One turn sent to the model. */
export interface ModelRequest {
  readonly runId: string
  readonly iteration: number
  readonly system: string
  readonly messages: ReadonlyArray<Message>
  readonly tools: ReadonlyArray<ToolDefinition>
  /**
   * The run's structured output, when it has an `output` Schema. A provider with native support
   * (`structuredOutput: "native"`) puts it on the wire (JSON Schema response format, or a forced output
   * tool whose arguments become the answer's text); the final answer's text must be the JSON.
   */
  readonly output?: ModelOutputFormat | undefined
  /** Records a `provider.retry` event; a provider calls it before each retry (fail-closed like every event). */
  readonly reportRetry: (info: ProviderRetryInfo) => Effect.Effect<void, RecorderError>
}

/** A tool call the model asked for, with the provider's call id. */
export interface ModelToolCall {
  readonly id: string
  readonly name: string
  readonly arguments: Json
}

/** The model's answer to one turn. */
export interface ModelResponse {
  readonly text: string
  readonly toolCalls: ReadonlyArray<ModelToolCall>
  /**
   * Token counts as the vendor reported them; leave it out when the vendor reported none (never invent
   * counts: they become billing rows).
   */
  readonly usage?: Usage | undefined
  readonly finishReason: string
  /** The model that answered, as the vendor named it. */
  readonly model?: string
  readonly responseId?: string
  /** The exact request body sent to the vendor (never with credentials). */
  readonly providerRequest?: Json
  /** The exact response body the vendor returned. */
  readonly providerResponse?: Json
}

/** A piece of a streamed answer. */
export type ModelStreamPart =
  | { readonly _tag: "TextDelta"; readonly delta: string }
  | {
    readonly _tag: "ToolCallDelta"
    readonly index: number
    readonly id?: string
    readonly name?: string
    readonly argumentsDelta: string
  }
  | { readonly _tag: "Done"; readonly response: ModelResponse }

/** A model provider. */
export interface LanguageModelService {
  /** Provider name as in the GenAI conventions (`openai`, `anthropic`, …; `scripted` for the test double). */
  readonly provider: string
  /** The model requested. */
  readonly model: string
  /**
   * `native` when the provider honours `ModelRequest.output` on the wire; otherwise the kernel instructs
   * the model in the system prompt (prompted mode) and parses the answer.
   */
  readonly structuredOutput?: "native" | "prompted" | undefined
  /** One turn, whole. */
  readonly generate: (request: ModelRequest) => Effect.Effect<ModelResponse, ModelError | RecorderError>
  /** One turn, streamed; the stream ends with exactly one `Done` part. */
  readonly stream: (request: ModelRequest) => Stream.Stream<ModelStreamPart, ModelError | RecorderError>
}

/** The model port the agent loop calls. */
export class LanguageModel
  extends Context.Tag("@sextant/runtime/LanguageModel")<LanguageModel, LanguageModelService>()
{
  /** Builds a model service value. */
  static readonly make = (service: LanguageModelService): LanguageModelService => service
}
