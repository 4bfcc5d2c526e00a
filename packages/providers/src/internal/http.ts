/**
 * The instrumented HttpClient every provider sends through. `@effect/ai` hides the request body it builds,
 * the body it receives and the status of failed attempts, so each provider's client is wrapped here (for
 * OpenAI and Anthropic through their `transformClient` option): it keeps the exact JSON bodies of the call
 * in the `CurrentCall` service of the calling fiber, retries under the shared `RetryPolicy` (recording each
 * retry first with `reportRetry`), and turns a final error response, a broken connection or a body that is
 * not JSON into a `ModelError` built from what it read. Headers (and so the API key) are never read into the
 * capture, and a key a vendor echoes in a body is replaced by `[redacted]` in what is recorded.
 */
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { type HookEvent, type ModelError, type ModelRequest, RecorderError, RetryPolicy } from "@sextant/runtime"
import { Clock, Context, Duration, Effect, Either, Option, Stream } from "effect"
import { notJsonError, statusError, transportError, vendorMessage } from "./errors.js"
import { jsonOrText } from "./json.js"
import type { Scrub } from "./scrub.js"
import { SseParser } from "./sse.js"

type Json = HookEvent.Json

/** What one model call sent and received, filled in by the instrumented client. */
export interface CallCapture {
  readonly provider: string
  readonly reportRetry: ModelRequest["reportRetry"]
  /** The request body of the last attempt. */
  request: Json | undefined
  /** A whole (non-streamed) response body. */
  response: Json | undefined
  /** The data of each server-sent event of a streamed response, in order. */
  events: Array<Json> | undefined
  /** Set when the HTTP layer decided how the call failed; it wins over what the caller saw. */
  failure: ModelError | RecorderError | undefined
  /**
   * Rewrites the JSON request body before it is sent (and captured): how a field `@effect/ai` cannot set
   * (OpenAI's `text.format` for structured output) gets onto the wire.
   */
  patch?: ((body: { readonly [key: string]: Json }) => Json) | undefined
}

/** The capture of the model call running in this fiber. */
export class CurrentCall extends Context.Tag("@sextant/providers/CurrentCall")<CurrentCall, CallCapture>() {}

/** A fresh capture for one model call. */
export const makeCapture = (provider: string, request: ModelRequest): CallCapture => ({
  provider,
  reportRetry: request.reportRetry,
  request: undefined,
  response: undefined,
  events: undefined,
  failure: undefined
})

/** What the client is configured with: the resolved retry policy and the scrubber of the provider's secrets. */
export interface Wiring {
  readonly retry: RetryPolicy.Resolved
  readonly scrub: Scrub
}

const decoder = new TextDecoder()

/** The longest `reason` a `provider.retry` event carries. */
const MAX_REASON = 1000

const requestBody = (request: HttpClientRequest.HttpClientRequest, scrub: Scrub): Json | undefined =>
  request.body._tag === "Uint8Array" ? jsonOrText(scrub(decoder.decode(request.body.body))) : undefined

const pathOf = (url: string): string => {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

/**
 * What went wrong with a connection, from the error's causes (`fetch failed: other side closed:
 * UND_ERR_SOCKET`); the platform error's own message names the URL and is not used when a cause says more.
 */
const describe = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined
  const code = cause?.cause?.code
  const inner = typeof cause?.cause?.message === "string" ? cause.cause.message : undefined
  const outer = typeof cause?.message === "string" ? cause.message : error.description ?? error.reason
  return [outer, inner, typeof code === "string" ? code : undefined].filter((s) => s !== undefined && s !== "").join(
    ": "
  )
}

/** Re-wraps a response whose body was read, so the caller can read it again. */
const rebuilt = (response: HttpClientResponse.HttpClientResponse, body: string | ReadableStream<Uint8Array>) =>
  HttpClientResponse.fromWeb(
    response.request,
    new Response(body, { status: response.status, headers: response.headers as Record<string, string> })
  )

/**
 * Keeps the body of a successful response: whole JSON, or the event data of a stream as it passes. A body
 * that stalls for longer than the attempt timeout (a whole body, or the gap between two stream chunks), or
 * whose connection breaks, fails the call as a transport error; a whole body that is not JSON fails it as
 * malformed.
 */
const keep = (
  response: HttpClientResponse.HttpClientResponse,
  call: CallCapture,
  { retry, scrub }: Wiring
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.ResponseError> => {
  const timeoutMs = Duration.toMillis(retry.attemptTimeout)
  const stalled = () => {
    const description = `the response body stalled for ${timeoutMs} ms`
    call.failure = transportError(call.provider, description, 1)
    return new HttpClientError.ResponseError({ request: response.request, response, reason: "Decode", description })
  }
  const broke = (what: string) => (error: HttpClientError.ResponseError) =>
    Effect.sync(() => {
      if (call.failure === undefined) call.failure = transportError(call.provider, `${what}: ${describe(error)}`, 1)
    })
  if (!(response.headers["content-type"] ?? "").includes("text/event-stream")) {
    return response.text.pipe(
      Effect.timeoutFail({ duration: retry.attemptTimeout, onTimeout: stalled }),
      Effect.tapError(broke("the connection broke while the response body was read")),
      Effect.map((text) => {
        const body = jsonOrText(scrub(text))
        call.response = body
        // Every wire format answers a whole call with JSON; quote what came instead.
        if (typeof body === "string") call.failure = notJsonError(call.provider, response.status, body)
        return rebuilt(response, text)
      })
    )
  }
  const events: Array<Json> = []
  call.events = events
  const parser = new SseParser()
  const textDecoder = new TextDecoder()
  const push = (parsed: ReadonlyArray<{ readonly data: string }>) => {
    for (const event of parsed) events.push(jsonOrText(scrub(event.data)))
  }
  const tapped = response.stream.pipe(
    Stream.timeoutFail(stalled, timeoutMs),
    Stream.tapError(broke("the connection broke while the response streamed")),
    Stream.map((chunk) => {
      push(parser.feed(textDecoder.decode(chunk, { stream: true })))
      return chunk
    }),
    Stream.ensuring(Effect.sync(() => push(parser.end())))
  )
  return Effect.map(Stream.toReadableStreamEffect(tapped), (readable) => rebuilt(response, readable))
}

/** Why one attempt produced no usable response: an HTTP error status (its body read), or no response at all. */
type AttemptFailure =
  | {
    readonly _tag: "Status"
    readonly response: HttpClientResponse.HttpClientResponse
    readonly body: string
    readonly retryAfter: Duration.Duration | undefined
  }
  | { readonly _tag: "Http"; readonly error: HttpClientError.HttpClientError }

const isTransport = (error: HttpClientError.HttpClientError) =>
  error._tag === "RequestError" && error.reason === "Transport"

const isRetryable = (failure: AttemptFailure): boolean =>
  failure._tag === "Status" ? RetryPolicy.isRetryableStatus(failure.response.status) : isTransport(failure.error)

/** What a `provider.retry` event says about the failed attempt. */
const retryInfo = (failure: AttemptFailure, scrub: Scrub) => {
  if (failure._tag === "Http") {
    return { reason: scrub(`connection error: ${describe(failure.error)}`).slice(0, MAX_REASON) }
  }
  const reason = [`HTTP ${failure.response.status}`, vendorMessage(failure.body)].filter((s) => s !== "").join(": ")
  return {
    statusCode: failure.response.status,
    reason: reason.slice(0, MAX_REASON),
    ...(failure.retryAfter === undefined ? {} : { retryAfterMs: Duration.toMillis(failure.retryAfter) })
  }
}

/** One attempt: the response of a 2xx, else a failure carrying the error body and the `Retry-After` asked. */
const attempt = (
  execute: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>,
  scrub: Scrub
): Effect.Effect<HttpClientResponse.HttpClientResponse, AttemptFailure> =>
  Effect.flatMap(
    Effect.mapError(execute, (error): AttemptFailure => ({ _tag: "Http", error })),
    (response) =>
      response.status >= 200 && response.status < 300
        ? Effect.succeed(response)
        : Effect.gen(function*() {
          const body = scrub(yield* Effect.orElseSucceed(response.text, () => ""))
          const now = yield* Clock.currentTimeMillis
          const retryAfter = RetryPolicy.parseRetryAfter((name) => response.headers[name], now)
          return yield* Effect.fail<AttemptFailure>({ _tag: "Status", response, body, retryAfter })
        })
  )

const attempts = (
  execute: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>,
  request: HttpClientRequest.HttpClientRequest,
  call: CallCapture,
  wiring: Wiring
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.gen(function*() {
    const { retry, scrub } = wiring
    call.request = requestBody(request, scrub)
    const timedOut: AttemptFailure = {
      _tag: "Http",
      error: new HttpClientError.RequestError({
        request,
        reason: "Transport",
        description: `no response within ${Duration.toMillis(retry.attemptTimeout)} ms`
      })
    }
    const outcome = yield* Effect.either(RetryPolicy.retry(attempt(execute, scrub), retry, {
      isRetryable,
      retryAfter: (failure) => (failure._tag === "Status" ? failure.retryAfter : undefined),
      onTimeout: () => timedOut,
      onRetry: ({ attempt, error }) =>
        call.reportRetry({ attempt, endpoint: pathOf(request.url), ...retryInfo(error, scrub) })
    }))
    if (Either.isRight(outcome)) return yield* keep(outcome.right.value, call, wiring)
    const failed = outcome.left
    if (failed instanceof RecorderError) {
      call.failure = failed
      return yield* new HttpClientError.RequestError({
        request,
        reason: "Transport",
        description: "the provider.retry event could not be recorded"
      })
    }
    const last = failed.error
    if (last._tag === "Status") {
      call.failure = statusError(call.provider, last.response.status, last.body, {
        attempts: failed.attempts,
        retryAfterMs: last.retryAfter === undefined ? undefined : Duration.toMillis(last.retryAfter),
        maxRetryAfterMs: Duration.toMillis(retry.maxRetryAfter)
      })
      return rebuilt(last.response, last.body)
    }
    if (isTransport(last.error)) call.failure = transportError(call.provider, describe(last.error), failed.attempts)
    return yield* last.error
  })

/**
 * Wraps a client so calls made inside a `CurrentCall` are captured (with `scrub` applied to every recorded
 * body and message) and retried. Calls made outside one (nothing in this package does that) pass through.
 */
export const instrument = (wiring: Wiring) => (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.mapRequestInputEffect(
    HttpClient.transform(client, (execute, request) =>
      Effect.flatMap(
        Effect.serviceOption(CurrentCall),
        Option.match({ onNone: () => execute, onSome: (call) => attempts(execute, request, call, wiring) })
      )),
    (request) =>
      Effect.map(Effect.serviceOption(CurrentCall), (call) => {
        const patch = Option.getOrUndefined(call)?.patch
        if (patch === undefined || request.body._tag !== "Uint8Array") return request
        const body = jsonOrText(decoder.decode(request.body.body))
        if (body === null || typeof body !== "object" || Array.isArray(body)) return request
        return HttpClientRequest.bodyUnsafeJson(request, patch(body as { readonly [key: string]: Json }))
      })
  )
