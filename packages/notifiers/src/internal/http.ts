/**
 * The delivery of one POST for the webhook and Slack notifiers: `@effect/platform`'s HttpClient, retried under
 * the runtime's shared `RetryPolicy` (network errors, timeouts, 408, 429 and 5xx; `Retry-After` honoured up
 * to `maxRetryAfter`), with the notifier's counters. Errors name the endpoint by its origin only and are
 * scrubbed of everything the URL, the signing secret and credential headers hold.
 */
import { FetchHttpClient, HttpClient, type HttpClientError, HttpClientRequest } from "@effect/platform"
import { RetryPolicy } from "@sextant/runtime"
import { Clock, Duration, Effect, Either } from "effect"
import { DeliveryError } from "../DeliveryError.js"
import { invalid, orThrow } from "./config.js"
import type { Scrub } from "./redact.js"

/**
 * The defaults of the webhook and Slack notifiers: 5 attempts in all, 500 ms doubling up to 30 s with ±20 %
 * jitter, `Retry-After` honoured up to 60 s (a longer one gives up), 10 s per attempt (response body
 * included), no overall budget beyond what the attempts and waits add up to.
 */
export const retryDefaults: Required<RetryPolicy.RetryPolicy> = {
  maxAttempts: 5,
  baseDelay: "500 millis",
  maxDelay: "30 seconds",
  jitter: 0.2,
  budget: Duration.infinity,
  attemptTimeout: "10 seconds",
  maxRetryAfter: "60 seconds"
}

/** A user's retry settings with the defaults applied; a bad one throws `NotifierConfigError` (`retry.<field>`). */
export const resolveRetry = (component: string, policy: RetryPolicy.RetryPolicy | undefined): RetryPolicy.Resolved =>
  orThrow(
    RetryPolicy.validate(policy, retryDefaults),
    (e) => invalid(component, `retry.${e.field}`, e.message.replace(`retry.${e.field}: `, ""))
  )

let fetchClient: HttpClient.HttpClient | undefined

/** The client of a notifier: the one it was given, else one over the global `fetch`. */
export const clientOf = (given: HttpClient.HttpClient | undefined): HttpClient.HttpClient =>
  deliveryClient(
    given ?? (fetchClient ??= Effect.runSync(Effect.provide(HttpClient.HttpClient, FetchHttpClient.layer)))
  )

/** Counters of an HTTP notifier. */
export interface HttpCounters {
  /** Payloads the endpoint accepted (2xx). */
  sent: number
  /** Attempts repeated after a network error, 408, 429 or 5xx. */
  retries: number
  /** Payloads refused with a 4xx other than 408/429 (not retried). */
  rejected: number
  /** Payloads abandoned after the last attempt failed. */
  gaveUp: number
}

/** Fresh zeroed counters. */
export const makeCounters = (): HttpCounters => ({ sent: 0, retries: 0, rejected: 0, gaveUp: 0 })

/**
 * The worst-case time one delivery can take, to size a notifier's per-event timeout: every attempt timing
 * out and every wait as long as it may be (bounded by the budget when there is one).
 */
export const worstCase = (r: RetryPolicy.Resolved): Duration.Duration => {
  const attempt = Duration.toMillis(r.attemptTimeout)
  const maxDelay = Duration.toMillis(r.maxDelay)
  const base = Duration.toMillis(r.baseDelay)
  let total = attempt * r.maxAttempts
  for (let i = 1; i < r.maxAttempts; i++) {
    total += Math.max(Duration.toMillis(r.maxRetryAfter), Math.min(maxDelay, base * 2 ** (i - 1)) * (1 + r.jitter))
  }
  return Duration.millis(Math.min(total, Duration.toMillis(r.budget)))
}

/** A client for notifier deliveries: not traced (a span would carry the URL) and sending no trace headers. */
export const deliveryClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  client.pipe(HttpClient.withTracerDisabledWhen(() => true), HttpClient.withTracerPropagation(false))

/** Why one attempt failed: the endpoint answered with an error status, or there was no answer. */
type Failure =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly body: string
    readonly retryAfter: Duration.Duration | undefined
  }
  | { readonly _tag: "Network"; readonly description: string; readonly retryable: boolean }

/** What went wrong on the wire, from the error's causes; the platform's own message names the URL. */
const describe = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined
  const parts = [
    typeof cause?.message === "string" ? cause.message : error.description ?? `${error.reason} error`,
    typeof cause?.cause?.message === "string" ? cause.cause.message : undefined,
    typeof cause?.cause?.code === "string" ? cause.cause.code : undefined
  ]
  return parts.filter((s) => s !== undefined && s !== "").join(": ")
}

const detailOf = (failure: Failure, scrub: Scrub): string =>
  failure._tag === "Network"
    ? scrub(failure.description)
    : `HTTP ${failure.status}${failure.body === "" ? "" : `: ${scrub(failure.body).slice(0, 200)}`}`

/** One POST to deliver. */
export interface Delivery {
  readonly client: HttpClient.HttpClient
  readonly url: string
  /** How errors name the endpoint (`endpointOf`). */
  readonly endpoint: string
  readonly body: string
  /** Evaluated per attempt (a signature's timestamp must be fresh on each). */
  readonly headers: Effect.Effect<Record<string, string>>
  readonly retry: RetryPolicy.Resolved
  readonly counters: HttpCounters
  readonly scrub: Scrub
}

/**
 * POSTs the body, retrying as the policy says; a 2xx counts as sent, a 4xx other than 408/429 fails at once
 * as `rejected`, anything else that outlasts the retries fails as `gave_up`. Sleeps are Effect sleeps, so
 * `TestClock` drives them.
 */
export const postWithRetry = (delivery: Delivery): Effect.Effect<void, DeliveryError> => {
  const { body, client, counters, endpoint, retry, scrub, url } = delivery
  const attempt: Effect.Effect<void, Failure> = Effect.gen(function*() {
    const headers = yield* delivery.headers
    const request = HttpClientRequest.post(url).pipe(
      HttpClientRequest.bodyText(body, "application/json"),
      HttpClientRequest.setHeaders(headers)
    )
    const response = yield* Effect.mapError(client.execute(request), (error): Failure => ({
      _tag: "Network",
      description: describe(error),
      retryable: error._tag === "ResponseError" || error.reason === "Transport"
    }))
    const text = yield* Effect.orElseSucceed(response.text, () => "")
    if (response.status >= 200 && response.status < 300) return
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.fail<Failure>({
      _tag: "Status",
      status: response.status,
      body: text,
      retryAfter: RetryPolicy.parseRetryAfter((name) => response.headers[name], now)
    })
  })
  const timedOut: Failure = {
    _tag: "Network",
    description: `no response within ${Duration.toMillis(retry.attemptTimeout)} ms`,
    retryable: true
  }
  return Effect.flatMap(
    Effect.either(RetryPolicy.retry(attempt, retry, {
      isRetryable: (f) => (f._tag === "Status" ? RetryPolicy.isRetryableStatus(f.status) : f.retryable),
      retryAfter: (f) => (f._tag === "Status" ? f.retryAfter : undefined),
      onTimeout: () => timedOut,
      onRetry: () => Effect.sync(() => void counters.retries++)
    })),
    Either.match({
      onRight: () => Effect.sync(() => void counters.sent++),
      onLeft: ({ attempts, error, retryable }) => {
        const status = error._tag === "Status" ? { status: error.status } : {}
        const detail = detailOf(error, scrub)
        if (error._tag === "Status" && !retryable) {
          counters.rejected++
          return new DeliveryError({ url: endpoint, reason: "rejected", attempts, ...status, message: detail })
        }
        counters.gaveUp++
        const asked = error._tag === "Status" ? error.retryAfter : undefined
        const note = asked !== undefined && Duration.greaterThan(asked, retry.maxRetryAfter)
          ? ` (Retry-After ${Duration.toMillis(asked)} ms exceeds the ${
            Duration.toMillis(retry.maxRetryAfter)
          } ms the notifier waits)`
          : ""
        return new DeliveryError({
          url: endpoint,
          reason: "gave_up",
          attempts,
          ...status,
          message: `gave up after ${attempts} attempt(s) to ${endpoint}: ${detail}${note}`
        })
      }
    })
  )
}
