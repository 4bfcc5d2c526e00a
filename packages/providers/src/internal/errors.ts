import type { AiError } from "@effect/ai"
import { ModelError } from "@sextant/runtime"
import { Option, Schema } from "effect"

/** The error bodies vendors send: `{error: {message}}` (OpenAI, Anthropic, OpenRouter), `{error: "…"}`, `{message}`. */
const ErrorBody = Schema.Union(
  Schema.Struct({ error: Schema.Struct({ message: Schema.String }) }),
  Schema.Struct({ error: Schema.String }),
  Schema.Struct({ message: Schema.String })
)
const decodeErrorBody = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

const MAX_MESSAGE = 1000

/** The vendor's own message from an error body, or the body itself (shortened) when it has no known shape. */
export const vendorMessage = (body: string): string => {
  const decoded = decodeErrorBody(body)
  if (Option.isSome(decoded)) {
    const value = decoded.value
    if ("error" in value) return typeof value.error === "string" ? value.error : value.error.message
    return value.message
  }
  const trimmed = body.trim()
  return trimmed.length > MAX_MESSAGE ? `${trimmed.slice(0, MAX_MESSAGE)}…` : trimmed
}

const reasonOf = (status: number): ModelError["reason"] =>
  status === 401 || status === 403
    ? "auth"
    : status === 429
    ? "rate_limit"
    : status === 408
    ? "transport"
    : status >= 500
    ? "server"
    : "request"

/** The `ModelError` for a final non-2xx response, carrying the vendor's message and the status code. */
export const statusError = (
  provider: string,
  status: number,
  body: string,
  detail: { readonly attempts: number; readonly retryAfterMs?: number | undefined; readonly maxRetryAfterMs?: number }
): ModelError => {
  const message = vendorMessage(body) || "(empty error body)"
  const notes: Array<string> = []
  if (detail.attempts > 1) notes.push(`after ${detail.attempts} attempts`)
  if (
    detail.retryAfterMs !== undefined && detail.maxRetryAfterMs !== undefined &&
    detail.retryAfterMs > detail.maxRetryAfterMs
  ) {
    notes.push(`Retry-After ${detail.retryAfterMs} ms exceeds the ${detail.maxRetryAfterMs} ms the client waits`)
  }
  return new ModelError({
    provider,
    reason: reasonOf(status),
    statusCode: status,
    message: `${provider} HTTP ${status}: ${message}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`
  })
}

/** The `ModelError` for a connection that failed on every attempt. */
export const transportError = (provider: string, description: string, attempts: number): ModelError =>
  new ModelError({
    provider,
    reason: "transport",
    message: `${provider}: connection failed${attempts > 1 ? ` after ${attempts} attempts` : ""}: ${description}`
  })

/** A malformed vendor response (a body that is not what the wire format promises). */
export const malformedError = (provider: string, description: string): ModelError =>
  new ModelError({ provider, reason: "malformed", message: `${provider}: malformed response: ${description}` })

/** Maps an `@effect/ai` error that the HTTP layer did not already classify. */
export const fromAiError = (provider: string, error: AiError.AiError): ModelError => {
  switch (error._tag) {
    case "HttpRequestError":
      return new ModelError({ provider, reason: "transport", message: `${provider}: ${error.message}` })
    case "HttpResponseError":
      return error.reason === "StatusCode"
        ? statusError(provider, error.response.status, error.body ?? "", { attempts: 1 })
        : malformedError(provider, error.description ?? error.message)
    case "MalformedOutput":
      return malformedError(provider, error.description ?? error.message)
    case "MalformedInput":
      return new ModelError({ provider, reason: "request", message: `${provider}: ${error.message}` })
    case "UnknownError":
      return new ModelError({ provider, reason: "response", message: `${provider}: ${error.message}` })
  }
}
