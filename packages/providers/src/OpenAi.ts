/**
 * OpenAI through the Responses API (`POST {baseUrl}/responses`), on `@effect/ai-openai`, behind the kernel's
 * `LanguageModel` port. Exact request/response bodies, usage (cached and reasoning tokens), retries and
 * vendor error messages come from the package's instrumented HttpClient (see the README).
 */
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
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

/** Options of `OpenAi.layer`. */
export interface OpenAiOptions {
  /** The model id, e.g. `gpt-4.1-mini`. */
  readonly model: string
  readonly apiKey: Redacted.Redacted
  /** Defaults to `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  readonly retry?: RetryPolicy | undefined
  /**
   * Extra Responses API request fields (`max_output_tokens`, `temperature`, `reasoning`, `store`, …).
   * `strict` (structured tool arguments) defaults to `false`: strict mode rejects ordinary JSON Schemas
   * with optional fields, and the kernel validates arguments with the tool's Schema anyway.
   */
  readonly config?: Omit<OpenAiLanguageModel.Config.Service, "model"> | undefined
}

/** Options of `OpenAi.layerConfig` (the key and base URL come from the environment). */
export type OpenAiConfigOptions = Omit<OpenAiOptions, "apiKey" | "baseUrl">

/** The provider name recorded with every call. */
export const provider = "openai"

/**
 * An OpenAI model as the kernel's `LanguageModel`; needs an `HttpClient` (e.g. `FetchHttpClient.layer`). A bad
 * `retry` setting fails with `ProviderConfigError` (`setting: "retry.<field>"`) when the layer is built.
 */
export const layer = (
  options: OpenAiOptions
): Layer.Layer<LanguageModel, ProviderConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(resolveRetry(options.retry), (retry) => {
    const scrub = scrubber([options.apiKey])
    return Layer.effect(
      LanguageModel,
      Effect.map(
        OpenAiLanguageModel.make({ model: options.model, config: { strict: false, ...options.config } }),
        (model) =>
          seal(adapt(model, { provider, model: options.model, usage: Usage.openAi, outputMode: "json_schema" }), scrub)
      )
    ).pipe(
      Layer.provide(OpenAiClient.layer({
        apiKey: options.apiKey,
        apiUrl: options.baseUrl,
        transformClient: instrument({ retry, scrub })
      }))
    )
  }))

/**
 * Like `layer`, reading `OPENAI_API_KEY` (required: a `ProviderConfigError` naming it when the layer is
 * built) and `OPENAI_BASE_URL` (optional) from the environment.
 */
export const layerConfig = (
  options: OpenAiConfigOptions
): Layer.Layer<LanguageModel, ProviderConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const apiKey = yield* requiredKey("OPENAI_API_KEY", "OpenAI")
    const baseUrl = yield* optionalUrl("OPENAI_BASE_URL")
    return layer({ ...options, apiKey, baseUrl })
  }))
