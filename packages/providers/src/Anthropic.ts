/**
 * Anthropic through the Messages API (`POST {baseUrl}/v1/messages`), on `@effect/ai-anthropic`, behind the
 * kernel's `LanguageModel` port. Usage includes cache reads and writes (read from the vendor's body, since
 * `@effect/ai` drops cache writes).
 */
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import type { HttpClient } from "@effect/platform"
import { LanguageModel } from "@sextant/runtime"
import { Effect, Layer, type Redacted } from "effect"
import type { ProviderConfigError } from "./Errors.js"
import { adapt } from "./internal/effectAi.js"
import { optionalUrl, requiredKey } from "./internal/env.js"
import { instrument } from "./internal/http.js"
import { resolveRetry } from "./internal/retry.js"
import { scrubber } from "./internal/scrub.js"
import { seal } from "./internal/seal.js"
import * as Usage from "./internal/usage.js"
import type { RetryPolicy } from "./RetryPolicy.js"

/** Options of `Anthropic.layer`. */
export interface AnthropicOptions {
  /** The model id, e.g. `claude-sonnet-4-5`. */
  readonly model: string
  readonly apiKey: Redacted.Redacted
  /** Defaults to `https://api.anthropic.com`. */
  readonly baseUrl?: string | undefined
  /** The `anthropic-version` header (default `2023-06-01`). */
  readonly anthropicVersion?: string | undefined
  readonly retry?: RetryPolicy | undefined
  /** Extra Messages API request fields (`max_tokens` — default 4096 —, `temperature`, `thinking`, …). */
  readonly config?: Omit<AnthropicLanguageModel.Config.Service, "model"> | undefined
}

/** Options of `Anthropic.layerConfig` (the key and base URL come from the environment). */
export type AnthropicConfigOptions = Omit<AnthropicOptions, "apiKey" | "baseUrl">

/** The provider name recorded with every call. */
export const provider = "anthropic"

/**
 * Tool names `@effect/ai-anthropic` maps to Anthropic's built-in tools when they come back in a response;
 * a user tool with one of these names fails the call with a `ModelError` asking to rename it.
 */
export const reservedToolNames: ReadonlySet<string> = new Set([
  "bash",
  "code_execution",
  "computer",
  "str_replace_based_edit_tool",
  "str_replace_editor",
  "web_search"
])

/**
 * An Anthropic model as the kernel's `LanguageModel`; needs an `HttpClient` (e.g. `FetchHttpClient.layer`). A
 * bad `retry` setting fails with `ProviderConfigError` (`setting: "retry.<field>"`) when the layer is built.
 */
export const layer = (
  options: AnthropicOptions
): Layer.Layer<LanguageModel, ProviderConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(resolveRetry(options.retry), (retry) => {
    const scrub = scrubber([options.apiKey])
    return Layer.effect(
      LanguageModel,
      Effect.map(
        AnthropicLanguageModel.make({
          model: options.model,
          ...(options.config === undefined ? {} : { config: options.config })
        }),
        (model) =>
          seal(
            adapt(model, {
              provider,
              model: options.model,
              usage: Usage.anthropic,
              reservedToolNames,
              outputMode: "tool"
            }),
            scrub
          )
      )
    ).pipe(
      Layer.provide(AnthropicClient.layer({
        apiKey: options.apiKey,
        apiUrl: options.baseUrl,
        anthropicVersion: options.anthropicVersion,
        transformClient: instrument({ retry, scrub })
      }))
    )
  }))

/**
 * Like `layer`, reading `ANTHROPIC_API_KEY` (required: a `ProviderConfigError` naming it when the layer is
 * built) and `ANTHROPIC_BASE_URL` (optional) from the environment.
 */
export const layerConfig = (
  options: AnthropicConfigOptions
): Layer.Layer<LanguageModel, ProviderConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const apiKey = yield* requiredKey("ANTHROPIC_API_KEY", "Anthropic")
    const baseUrl = yield* optionalUrl("ANTHROPIC_BASE_URL")
    return layer({ ...options, apiKey, baseUrl })
  }))
