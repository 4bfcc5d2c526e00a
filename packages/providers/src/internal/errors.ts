/**
 * The `ModelError`s a provider raises, built from what the provider itself read (status, vendor message,
 * the captured body), never from `@effect/ai`'s or `@effect/platform`'s own error text: those embed the
 * serialised request, headers (the API key) included, when a body cannot be decoded.
 */
import type { AiError } from "@effect/ai"
import { ModelError } from "@sextant/runtime"
import { Option, ParseResult, Schema } from "effect"
import type { CallCapture } from "./http.js"

/** The error bodies vendors send: `{error: {message}}` (OpenAI, Anthropic, OpenRouter), `{error: "…"}`, `{message}`. */
const ErrorBody = Schema.Union(
  Schema.Struct({ error: Schema.Struct({ message: Schema.String }) }),
  Schema.Struct({ error: Schema.String }),
  Schema.Struct({ message: Schema.String })
)
const decodeErrorBody = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

const MAX_MESSAGE = 1000
/** How much of an undecodable body an error message quotes. */
const MAX_EXCERPT = 200

const shorten = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}…` : text)

/** The vendor's own message from an error body, or the body itself (shortened) when it has no known shape. */
export const vendorMessage = (body: string): string => {
  const decoded = decodeErrorBody(body)
  if (Option.isSome(decoded)) {
    const value = decoded.value
    if ("error" in value) return typeof value.error === "string" ? value.error : value.error.message
    return value.message
  }
  return shorten(body.trim(), MAX_MESSAGE)
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

/** The `ModelError` for a connection that failed on every attempt (or broke while a body was read). */
export const transportError = (provider: string, description: string, attempts: number): ModelError =>
  new ModelError({
    provider,
    reason: "transport",
    message: `${provider}: connection failed${attempts > 1 ? ` after ${attempts} attempts` : ""}: ${description}`
  })

/** A malformed vendor response (a body that is not what the wire format promises). */
export const malformedError = (provider: string, description: string): ModelError =>
  new ModelError({ provider, reason: "malformed", message: `${provider}: malformed response: ${description}` })

/** A 2xx body that is not JSON at all, quoting its start. */
export const notJsonError = (provider: string, status: number, body: string): ModelError =>
  malformedError(
    provider,
    body.trim() === ""
      ? `the HTTP ${status} response has an empty body`
      : `the body of the HTTP ${status} response is not JSON: ${JSON.stringify(shorten(body, MAX_EXCERPT))}`
  )

/** The first issue of a Schema parse failure, with its path: short, unlike the whole tree. */
export const parseSummary = (error: ParseResult.ParseError): string => {
  const [first, ...rest] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (first === undefined) return "the value does not match the wire format"
  const at = first.path.length === 0 ? "" : ` (at ${first.path.map(String).join(".")})`
  const more = rest.length === 0 ? "" : ` (and ${rest.length} more issue${rest.length === 1 ? "" : "s"})`
  return `${shorten(first.message, MAX_EXCERPT)}${at}${more}`
}

const causeSummary = (cause: unknown): string =>
  ParseResult.isParseError(cause)
    ? parseSummary(cause)
    : cause instanceof Error
    ? shorten(cause.message, MAX_EXCERPT)
    : "the response does not match the wire format"

/**
 * Maps an `@effect/ai` error that the HTTP layer did not already classify, from its structured fields and
 * the call's capture only.
 */
export const fromAiError = (provider: string, error: AiError.AiError, call: CallCapture): ModelError => {
  switch (error._tag) {
    case "HttpRequestError":
      return new ModelError({
        provider,
        reason: error.reason === "Transport" ? "transport" : "request",
        message: `${provider}: the request could not be sent (${error.reason})${
          error.description === undefined ? "" : `: ${error.description}`
        }`
      })
    case "HttpResponseError": {
      const status = error.response.status
      if (error.reason === "StatusCode") return statusError(provider, status, error.body ?? "", { attempts: 1 })
      if (error.reason === "EmptyBody") return malformedError(provider, `the HTTP ${status} response has no body`)
      if (typeof call.response === "string") return notJsonError(provider, status, call.response)
      return malformedError(
        provider,
        call.events === undefined
          ? `the body of the HTTP ${status} response could not be decoded`
          : `the event stream of the HTTP ${status} response could not be decoded`
      )
    }
    case "MalformedOutput":
      return malformedError(
        provider,
        `the response does not match the wire format: ${error.description ?? causeSummary(error.cause)}`
      )
    case "MalformedInput":
      return new ModelError({
        provider,
        reason: "request",
        message: `${provider}: the request could not be built: ${error.description ?? causeSummary(error.cause)}`
      })
    case "UnknownError":
      return new ModelError({
        provider,
        reason: "response",
        message: `${provider}: ${error.description ?? causeSummary(error.cause)}`
      })
  }
}
