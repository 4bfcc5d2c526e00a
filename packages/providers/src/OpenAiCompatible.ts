/**
 * Any server speaking OpenAI's chat completions (`POST {baseUrl}/chat/completions`): Ollama, vLLM, LM Studio,
 * OpenRouter and the like, on `@effect/platform`'s HttpClient, behind the kernel's `LanguageModel` port.
 */
import type { HttpClient } from "@effect/platform"
import { type HookEvent, LanguageModel } from "@sextant/runtime"
import { Effect, Layer, Option, type Redacted } from "effect"
import type { ProviderConfigError } from "./Errors.js"
import { make } from "./internal/chatCompletions.js"
import { checkUrl, optionalKey } from "./internal/env.js"
import { resolveRetry } from "./internal/retry.js"
import type { RetryPolicy } from "./RetryPolicy.js"

/** Options of `OpenAiCompatible.layer`. */
export interface OpenAiCompatibleOptions {
  /** The model name the server knows, e.g. `llama3.1`. */
  readonly model: string
  /** The API root that `/chat/completions` is appended to, e.g. `http://127.0.0.1:11434/v1`. */
  readonly baseUrl: string
  /** Sent as a bearer token when given (local servers usually need none). */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Recorded as the call's provider (default `openai-compatible`; e.g. `ollama`, `openrouter`). */
  readonly provider?: string | undefined
  /**
   * Extra request headers (e.g. OpenRouter's `HTTP-Referer`). Values of credential headers (`authorization`,
   * `*api-key*`, `*token*`, `*secret*`, `cookie`, …) are scrubbed like the API key from everything recorded.
   */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Extra body fields (`temperature`, `max_tokens`, …); `model`, `messages`, `tools` and `stream` are the kernel's. */
  readonly body?: Readonly<Record<string, HookEvent.Json>> | undefined
  readonly retry?: RetryPolicy | undefined
}

/** The default provider name. */
export const provider = "openai-compatible"

/**
 * A chat-completions model as the kernel's `LanguageModel`; needs an `HttpClient`. A bad `retry` setting fails
 * with `ProviderConfigError` (`setting: "retry.<field>"`) when the layer is built.
 */
export const layer = (
  options: OpenAiCompatibleOptions
): Layer.Layer<LanguageModel, ProviderConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    LanguageModel,
    Effect.flatMap(resolveRetry(options.retry), (retry) =>
      make({
        provider: options.provider ?? provider,
        model: options.model,
        baseUrl: options.baseUrl,
        apiKey: options.apiKey,
        headers: options.headers ?? {},
        body: options.body ?? {},
        retry
      }))
  )

/**
 * Like `layer`, checking `baseUrl` and reading an optional key from `OPENAI_COMPATIBLE_API_KEY` when the
 * options give none; errors are `ProviderConfigError`s raised when the layer is built.
 */
export const layerConfig = (
  options: Omit<OpenAiCompatibleOptions, "apiKey">
): Layer.Layer<LanguageModel, ProviderConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const baseUrl = yield* checkUrl("baseUrl", options.baseUrl)
    const apiKey = yield* optionalKey("OPENAI_COMPATIBLE_API_KEY")
    return layer({ ...options, baseUrl, apiKey: Option.getOrUndefined(apiKey) })
  }))
