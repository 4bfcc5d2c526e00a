/**
 * The instrumented HttpClient every provider sends through. `@effect/ai` hides the request body it builds,
 * the body it receives and the status of failed attempts, so each provider's client is wrapped here (for
 * OpenAI and Anthropic through their `transformClient` option): it keeps the exact JSON bodies of the call
 * in the `CurrentCall` service of the calling fiber, retries 429/408/5xx/connection errors after recording
 * each retry with `reportRetry`, and turns a final error response into a `ModelError` with the vendor's
 * message. Headers (and so the API key) are never read into the capture, and a key a vendor echoes in a
 * body is replaced by `[redacted]` in what is recorded.
 */
import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import type { HookEvent, ModelError, ModelRequest, RecorderError } from "@sextant/runtime"
import { Clock, Context, Effect, Either, Option, Stream } from "effect"
import { statusError, transportError, vendorMessage } from "./errors.js"
import { jsonOrText } from "./json.js"
import { backoffMs, isRetryableStatus, type ResolvedRetry, retryAfterMs } from "./retry.js"
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

const decoder = new TextDecoder()

const requestBody = (request: HttpClientRequest.HttpClientRequest, scrub: Scrub): Json | undefined =>
  request.body._tag === "Uint8Array" ? jsonOrText(scrub(decoder.decode(request.body.body))) : undefined

const pathOf = (url: string): string => {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

const describe = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined
  const code = cause?.cause?.code
  const inner = typeof cause?.cause?.message === "string" ? cause.cause.message : undefined
  const outer = typeof cause?.message === "string" ? cause.message : error.message
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
 * that stalls for longer than the attempt timeout (a whole body, or the gap between two stream chunks) fails
 * the call as a transport error.
 */
const keep = (
  response: HttpClientResponse.HttpClientResponse,
  call: CallCapture,
  policy: ResolvedRetry,
  scrub: Scrub
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.ResponseError> => {
  const stalled = () => {
    const description = `the response body stalled for ${policy.attemptTimeoutMs} ms`
    call.failure = transportError(call.provider, description, 1)
    return new HttpClientError.ResponseError({ request: response.request, response, reason: "Decode", description })
  }
  if (!(response.headers["content-type"] ?? "").includes("text/event-stream")) {
    return response.text.pipe(
      Effect.timeoutFail({ duration: policy.attemptTimeoutMs, onTimeout: stalled }),
      Effect.map((text) => {
        call.response = jsonOrText(scrub(text))
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
    Stream.timeoutFail(stalled, policy.attemptTimeoutMs),
    Stream.map((chunk) => {
      push(parser.feed(textDecoder.decode(chunk, { stream: true })))
      return chunk
    }),
    Stream.ensuring(Effect.sync(() => push(parser.end())))
  )
  return Effect.map(Stream.toReadableStreamEffect(tapped), (readable) => rebuilt(response, readable))
}

interface RetryCause {
  readonly statusCode?: number
  readonly retryAfterMs?: number
  readonly reason: string
}

const attempts = (
  execute: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>,
  request: HttpClientRequest.HttpClientRequest,
  call: CallCapture,
  policy: ResolvedRetry,
  scrub: Scrub
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.gen(function*() {
    call.request = requestBody(request, scrub)
    const timed = Effect.timeoutFail(execute, {
      duration: policy.attemptTimeoutMs,
      onTimeout: () =>
        new HttpClientError.RequestError({
          request,
          reason: "Transport",
          description: `no response within ${policy.attemptTimeoutMs} ms`
        })
    })
    for (let attempt = 1;; attempt++) {
      const outcome = yield* Effect.either(timed)
      let retry: RetryCause
      if (Either.isLeft(outcome)) {
        const error = outcome.left
        const transport = error._tag === "RequestError" && error.reason === "Transport"
        if (!transport || attempt > policy.maxRetries) {
          if (transport) call.failure = transportError(call.provider, describe(error), attempt)
          return yield* error
        }
        retry = { reason: `connection error: ${describe(error)}` }
      } else {
        const response = outcome.right
        if (response.status >= 200 && response.status < 300) return yield* keep(response, call, policy, scrub)
        const body = scrub(yield* Effect.orElseSucceed(response.text, () => ""))
        const wait = retryAfterMs(response.headers, yield* Clock.currentTimeMillis)
        if (
          !isRetryableStatus(response.status) || attempt > policy.maxRetries ||
          (wait !== undefined && wait > policy.maxRetryAfterMs)
        ) {
          call.failure = statusError(call.provider, response.status, body, {
            attempts: attempt,
            retryAfterMs: wait,
            maxRetryAfterMs: policy.maxRetryAfterMs
          })
          return rebuilt(response, body)
        }
        retry = {
          statusCode: response.status,
          reason: [`HTTP ${response.status}`, vendorMessage(body)].filter((s) => s !== "").join(": "),
          ...(wait === undefined ? {} : { retryAfterMs: wait })
        }
      }
      const delay = retry.retryAfterMs ?? (yield* backoffMs(policy, attempt))
      const reported = yield* Effect.either(call.reportRetry({ attempt, endpoint: pathOf(request.url), ...retry }))
      if (Either.isLeft(reported)) {
        call.failure = reported.left
        return yield* new HttpClientError.RequestError({
          request,
          reason: "Transport",
          description: "the provider.retry event could not be recorded"
        })
      }
      yield* Effect.sleep(delay)
    }
  })

/**
 * Wraps a client so calls made inside a `CurrentCall` are captured (with `scrub` applied to every recorded
 * body and message) and retried. Calls made outside one (nothing in this package does that) pass through.
 */
export const instrument =
  (policy: ResolvedRetry, scrub: Scrub) => (client: HttpClient.HttpClient): HttpClient.HttpClient =>
    HttpClient.transform(client, (execute, request) =>
      Effect.flatMap(
        Effect.serviceOption(CurrentCall),
        Option.match({ onNone: () => execute, onSome: (call) => attempts(execute, request, call, policy, scrub) })
      ))
