import { Duration, Effect, Random } from "effect"
import * as RetryPolicy from "../RetryPolicy.js"

/** A retry policy with every default applied, in milliseconds. */
export interface ResolvedRetry {
  readonly maxRetries: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly maxRetryAfterMs: number
  readonly attemptTimeoutMs: number
}

/** Applies the defaults to a user's retry policy. */
export const resolveRetry = (policy: RetryPolicy.RetryPolicy | undefined): ResolvedRetry => ({
  maxRetries: Math.max(0, Math.floor(policy?.maxRetries ?? RetryPolicy.defaults.maxRetries)),
  baseDelayMs: Duration.toMillis(policy?.baseDelay ?? RetryPolicy.defaults.baseDelay),
  maxDelayMs: Duration.toMillis(policy?.maxDelay ?? RetryPolicy.defaults.maxDelay),
  maxRetryAfterMs: Duration.toMillis(policy?.maxRetryAfter ?? RetryPolicy.defaults.maxRetryAfter),
  attemptTimeoutMs: Duration.toMillis(policy?.attemptTimeout ?? RetryPolicy.defaults.attemptTimeout)
})

/** Statuses worth another attempt: timeout, rate limit and server errors (529 "overloaded" included). */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500

/**
 * The wait a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` in seconds or as an HTTP date.
 * Absent when neither header is there or readable.
 */
export const retryAfterMs = (
  headers: Readonly<Record<string, string | undefined>>,
  now: number
): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms))
  const value = headers["retry-after"]?.trim()
  if (value === undefined || value === "") return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** Exponential backoff for retry `attempt` (1-based) with ±20 % jitter, capped at `maxDelayMs`. */
export const backoffMs = (policy: ResolvedRetry, attempt: number): Effect.Effect<number> =>
  Effect.map(
    Random.nextRange(0.8, 1.2),
    (jitter) => Math.min(policy.maxDelayMs, Math.round(policy.baseDelayMs * 2 ** (attempt - 1) * jitter))
  )
