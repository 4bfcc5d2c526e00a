/**
 * The last step of every provider: each error that leaves it has its message (and `cause`) scrubbed of the
 * provider's secrets and cut to a bounded length, whatever built it. The error goes into `llm.failed`,
 * `run.failed`, `agent_runs.error_message`, `llm_interactions.error_message` and `RunResult.error`, so a
 * message that quoted a request (headers included) must never get out whole.
 */
import { type LanguageModelService, ModelError, type RecorderError } from "@sextant/runtime"
import { Effect, Stream } from "effect"
import type { Scrub } from "./scrub.js"

/** The longest error message (and cause text) a provider lets out. */
export const MAX_ERROR_MESSAGE = 2000

const cap = (text: string): string =>
  text.length > MAX_ERROR_MESSAGE
    ? `${text.slice(0, MAX_ERROR_MESSAGE)}… (${text.length - MAX_ERROR_MESSAGE} more characters cut)`
    : text

const causeText = (cause: unknown): string =>
  cause instanceof Error ? `${cause.name}: ${cause.message}` : typeof cause === "string" ? cause : String(cause)

/**
 * A `ModelError` with its message and cause scrubbed and capped. The cause is kept as text: an object
 * cause (an HTTP error with its request) would carry the headers along. A `RecorderError` (a
 * `provider.retry` that could not be recorded) is the runtime's own and passes unchanged.
 */
export const sealError = (scrub: Scrub) => (error: ModelError | RecorderError): ModelError | RecorderError =>
  error._tag !== "ModelError" ? error : new ModelError({
    provider: error.provider,
    reason: error.reason,
    message: cap(scrub(error.message)),
    ...(error.statusCode === undefined ? {} : { statusCode: error.statusCode }),
    ...(error.cause === undefined ? {} : { cause: cap(scrub(causeText(error.cause))) })
  })

/** The model with every error of `generate` and `stream` sealed. */
export const seal = (model: LanguageModelService, scrub: Scrub): LanguageModelService => {
  const sealed = sealError(scrub)
  return {
    provider: model.provider,
    model: model.model,
    ...(model.structuredOutput === undefined ? {} : { structuredOutput: model.structuredOutput }),
    generate: (request) => Effect.mapError(model.generate(request), sealed),
    stream: (request) => Stream.mapError(model.stream(request), sealed)
  }
}
