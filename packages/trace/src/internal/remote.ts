/**
 * The remote recorder: a `Recorder` whose writes are batches POSTed to an ingest endpoint, each one awaited
 * until the endpoint says it is durable (so a traced run stays fail-closed across the process boundary).
 * Unavailable answers (503, 429, 5xx, connection errors) are retried under a `RetryPolicy`, honouring
 * `Retry-After`; the endpoint's idempotency makes a retry of a batch that did land harmless.
 */
import { type HookEvent, Recorder, RecorderError, RetryPolicy } from "@sextant/runtime"
import { Clock, Duration, Effect, Layer } from "effect"
import { IngestError } from "../Errors.js"
import type * as Remote from "../Remote.js"
import * as Wire from "./ingest/wire.js"

const defaults: Required<RetryPolicy.RetryPolicy> = {
  maxAttempts: 20,
  baseDelay: Duration.millis(100),
  maxDelay: Duration.seconds(2),
  jitter: 0.2,
  budget: Duration.seconds(30),
  attemptTimeout: Duration.seconds(10),
  maxRetryAfter: Duration.seconds(10)
}

const reasons: Record<number, IngestError["reason"]> = {
  400: "invalid",
  401: "unauthorized",
  403: "forbidden",
  409: "conflict",
  413: "too_large"
}

interface Failure {
  readonly error: IngestError
  readonly retryAfter: Duration.Duration | undefined
}

const endpoint = (url: string) => `${url.replace(/\/+$/, "")}${Wire.path}`

/** One POST of a batch; fails with the endpoint's refusal (or the transport error). */
const post = (
  options: Remote.RemoteOptions,
  events: ReadonlyArray<HookEvent.HookEvent>
): Effect.Effect<Wire.Accepted, Failure> =>
  Effect.gen(function*() {
    const doFetch = options.fetch ?? globalThis.fetch
    const body = JSON.stringify({ version: Wire.version, events: events.map((e) => Wire.encodeEvent(e)) })
    const response = yield* Effect.tryPromise({
      try: (signal) =>
        doFetch(endpoint(options.url), {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${options.apiKey}` },
          body,
          signal
        }),
      catch: (cause): Failure => ({
        error: new IngestError({
          status: 0,
          reason: "transport",
          message: `could not reach the ingest endpoint ${endpoint(options.url)}: ${String(cause)}`
        }),
        retryAfter: undefined
      })
    })
    const text = yield* Effect.promise(() => response.text().catch(() => ""))
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // A body that is not JSON is reported as text.
    }
    if (response.status === 200) return parsed as Wire.Accepted
    const now = yield* Clock.currentTimeMillis
    const message = (parsed as { readonly message?: unknown } | null)?.message
    return yield* Effect.fail<Failure>({
      error: new IngestError({
        status: response.status,
        reason: reasons[response.status] ?? "unavailable",
        message: `the ingest endpoint answered ${response.status}: ${typeof message === "string" ? message : text}`,
        body: parsed
      }),
      retryAfter: RetryPolicy.parseRetryAfter((name) => response.headers.get(name), now)
    })
  })

const timeout: Failure = {
  error: new IngestError({ status: 0, reason: "transport", message: "the ingest endpoint did not answer in time" }),
  retryAfter: undefined
}

/** Sends a batch, retrying while the endpoint is unavailable; succeeds once the endpoint says it is durable. */
export const send = (options: Remote.RemoteOptions) => {
  const policy = RetryPolicy.resolve(options.retry, defaults)
  return (events: ReadonlyArray<HookEvent.HookEvent>): Effect.Effect<Wire.Accepted, IngestError> =>
    RetryPolicy.retry(post(options, events), policy, {
      onTimeout: () => timeout,
      isRetryable: (f) => f.error.reason === "transport" || f.error.reason === "unavailable",
      retryAfter: (f) => f.retryAfter
    }).pipe(
      Effect.map((s) => s.value),
      Effect.mapError((exhausted) => exhausted.error.error)
    )
}

const toRecorderError = (events: ReadonlyArray<HookEvent.HookEvent>, error: IngestError) => {
  const first = events[0]
  return new RecorderError({
    operation: "record",
    runId: first?.runId ?? "",
    ...(first === undefined ? {} : { sequenceIndex: first.sequenceIndex }),
    attempts: 1,
    reason: error.reason === "transport" || error.reason === "unavailable"
      ? "transient"
      : error.reason === "conflict"
      ? "conflict"
      : "permanent",
    message: error.message,
    cause: error
  })
}

/** The remote recorder's layer. */
export const layer = (options: Remote.RemoteOptions): Layer.Layer<Recorder> =>
  Layer.sync(Recorder, () => {
    const sendBatch = send(options)
    const recordAll = (events: ReadonlyArray<HookEvent.HookEvent>) =>
      Effect.asVoid(Effect.mapError(sendBatch(events), (error) => toRecorderError(events, error)))
    return { record: (event) => recordAll([event]), recordAll }
  })
