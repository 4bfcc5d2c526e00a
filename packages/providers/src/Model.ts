/**
 * Model strings: `"openai:gpt-4.1-mini"`, `"anthropic:claude-sonnet-4-5"`,
 * `"openai-compatible:llama3.1@http://127.0.0.1:11434/v1"`, turned into a ready `LanguageModel` layer that
 * reads its key from the environment and sends with `fetch`.
 */
import { FetchHttpClient } from "@effect/platform"
import type { LanguageModel } from "@sextant/runtime"
import { Either, Layer } from "effect"
import * as Anthropic from "./Anthropic.js"
import { ProviderConfigError } from "./Errors.js"
import * as OpenAi from "./OpenAi.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"
import type { RetryPolicy } from "./RetryPolicy.js"

/** A parsed model string. */
export type ModelSpec =
  | { readonly provider: "openai" | "anthropic"; readonly model: string }
  | { readonly provider: "openai-compatible"; readonly model: string; readonly baseUrl: string }

/** Options that apply whichever provider the string names. */
export interface FromStringOptions {
  readonly retry?: RetryPolicy | undefined
}

const invalid = (message: string) => Either.left(new ProviderConfigError({ setting: "model", message }))

/** Parses `provider:model` (and `openai-compatible:model@baseUrl`); a bad string names what is wrong. */
export const parse = (spec: string): Either.Either<ModelSpec, ProviderConfigError> => {
  const colon = spec.indexOf(":")
  const vendor = colon === -1 ? "" : spec.slice(0, colon).trim()
  const rest = colon === -1 ? "" : spec.slice(colon + 1).trim()
  if (vendor === "" || rest === "") {
    return invalid(
      `model string '${spec}' must look like 'openai:gpt-4.1-mini', 'anthropic:claude-sonnet-4-5' or 'openai-compatible:llama3.1@http://127.0.0.1:11434/v1'`
    )
  }
  switch (vendor) {
    case "openai":
    case "anthropic":
      return Either.right({ provider: vendor, model: rest })
    case "openai-compatible": {
      const match = /^(.+?)@(https?:\/\/.+)$/.exec(rest)
      if (match === null) {
        return invalid(
          `model string '${spec}' needs the server's base URL: 'openai-compatible:<model>@http://host:port/v1'`
        )
      }
      return Either.right({ provider: vendor, model: match[1]!, baseUrl: match[2]! })
    }
    default:
      return invalid(
        `model string '${spec}' names an unknown provider '${vendor}' (openai, anthropic, openai-compatible)`
      )
  }
}

const layerFor = (model: ModelSpec, retry: RetryPolicy | undefined) => {
  switch (model.provider) {
    case "openai":
      return OpenAi.layerConfig({ model: model.model, retry })
    case "anthropic":
      return Anthropic.layerConfig({ model: model.model, retry })
    case "openai-compatible":
      return OpenAiCompatible.layerConfig({ model: model.model, baseUrl: model.baseUrl, retry })
  }
}

/**
 * The model a string names, as a `LanguageModel` layer over `fetch`. Keys come from `OPENAI_API_KEY` /
 * `ANTHROPIC_API_KEY` (optional `OPENAI_COMPATIBLE_API_KEY`), base URLs from `OPENAI_BASE_URL` /
 * `ANTHROPIC_BASE_URL`; a bad string or a missing key fails with `ProviderConfigError` when the layer is built.
 */
export const fromString = (
  spec: string,
  options?: FromStringOptions
): Layer.Layer<LanguageModel, ProviderConfigError> => {
  const parsed = parse(spec)
  if (Either.isLeft(parsed)) return Layer.fail(parsed.left)
  const model = parsed.right
  const retry = options?.retry
  return Layer.provide(layerFor(model, retry), FetchHttpClient.layer)
}
