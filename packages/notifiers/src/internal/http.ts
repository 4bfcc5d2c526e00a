import { Clock, Duration, Effect, Either, Random } from "effect"
import { DeliveryError } from "../DeliveryError.js"

/** Retry settings of an HTTP notifier. */
export interface RetryOptions {
  /** Attempts in all, including the first (default 5). */
  readonly maxAttempts?: number | undefined
  /** Delay before the second attempt; doubles each time, with ±20% jitter (default 500 ms). */
  readonly initialDelay?: Duration.DurationInput | undefined
  /** Longest backoff delay (default 30 s). */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** Longest `Retry-After` honoured; a longer one is waited for this long (default 60 s). */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** Time allowed for one request, response body included (default 10 s). */
  readonly requestTimeout?: Duration.DurationInput | undefined
}

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

interface Resolved {
  readonly maxAttempts: number
  readonly initialMs: number
  readonly maxDelayMs: number
  readonly maxRetryAfterMs: number
  readonly requestTimeout: Duration.Duration
}

/** Applies the defaults. */
export const resolveRetry = (retry: RetryOptions | undefined): Resolved => ({
  maxAttempts: Math.max(1, Math.floor(retry?.maxAttempts ?? 5)),
  initialMs: Duration.toMillis(retry?.initialDelay ?? "500 millis"),
  maxDelayMs: Duration.toMillis(retry?.maxDelay ?? "30 seconds"),
  maxRetryAfterMs: Duration.toMillis(retry?.maxRetryAfter ?? "60 seconds"),
  requestTimeout: Duration.decode(retry?.requestTimeout ?? "10 seconds")
})

/** The worst-case time one delivery can take, to size a notifier's per-event timeout. */
export const worstCase = (r: Resolved): Duration.Duration => {
  let total = Duration.toMillis(r.requestTimeout) * r.maxAttempts
  for (let i = 1; i < r.maxAttempts; i++) {
    total += Math.max(r.maxRetryAfterMs, Math.min(r.maxDelayMs, r.initialMs * 2 ** i))
  }
  return Duration.millis(total)
}

interface Outcome {
  readonly status: number
  readonly retryAfter: string | null
  readonly body: string
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`. */
export const parseRetryAfter = (value: string | null, now: number): number | undefined => {
  if (value === null || value.trim() === "") return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const isRetryableStatus = (status: number) => status === 408 || status === 429 || status >= 500

/**
 * POSTs `body` to `url`, retrying network errors, timeouts, 408, 429 and 5xx with exponential backoff and
 * jitter (or the server's `Retry-After`), up to `maxAttempts`. Sleeps are Effect sleeps, so `TestClock` drives
 * them. `headers` is called per attempt (a signature timestamp must be fresh on each).
 */
export const postWithRetry = (options: {
  readonly url: string
  readonly body: string
  readonly headers: Effect.Effect<Record<string, string>>
  readonly retry: Resolved
  readonly counters: HttpCounters
}): Effect.Effect<void, DeliveryError> =>
  Effect.gen(function*() {
    const { body, counters, retry, url } = options
    for (let attempt = 1;; attempt++) {
      const headers = yield* options.headers
      const result = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(url, { method: "POST", body, headers, signal }).then(async (res): Promise<Outcome> => ({
            status: res.status,
            retryAfter: res.headers.get("retry-after"),
            body: await res.text()
          })),
        catch: (e) => e
      }).pipe(
        Effect.timeoutFail({ duration: retry.requestTimeout, onTimeout: () => new Error("request timed out") }),
        Effect.either
      )
      if (Either.isRight(result) && result.right.status >= 200 && result.right.status < 300) {
        counters.sent++
        return
      }
      const status = Either.isRight(result) ? result.right.status : undefined
      const detail = Either.isRight(result)
        ? `HTTP ${result.right.status}${result.right.body === "" ? "" : `: ${result.right.body.slice(0, 200)}`}`
        : String((result.left as { message?: unknown })?.message ?? result.left)
      const withStatus = status === undefined ? {} : { status }
      if (status !== undefined && !isRetryableStatus(status)) {
        counters.rejected++
        return yield* new DeliveryError({ url, reason: "rejected", attempts: attempt, ...withStatus, message: detail })
      }
      if (attempt >= retry.maxAttempts) {
        counters.gaveUp++
        return yield* new DeliveryError({
          url,
          reason: "gave_up",
          attempts: attempt,
          ...withStatus,
          message: `gave up after ${attempt} attempt(s): ${detail}`
        })
      }
      const now = yield* Clock.currentTimeMillis
      const retryAfter = Either.isRight(result) ? parseRetryAfter(result.right.retryAfter, now) : undefined
      const backoff = Math.min(retry.maxDelayMs, retry.initialMs * 2 ** (attempt - 1))
      const jitter = 0.8 + 0.4 * (yield* Random.next)
      const delay = retryAfter !== undefined ? Math.min(retryAfter, retry.maxRetryAfterMs) : backoff * jitter
      counters.retries++
      yield* Effect.sleep(Duration.millis(delay))
    }
  })
