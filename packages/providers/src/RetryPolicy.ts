/**
 * How a provider client retries: 429 (honouring `Retry-After`), 408, 5xx and connection errors are retried
 * with a bounded exponential backoff; every retry is first recorded as a `provider.retry` event.
 */
import type { Duration } from "effect"

/** Retry settings of a provider client; every field has a default. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 3, so at most 4 requests per model call). */
  readonly maxRetries?: number | undefined
  /** First backoff delay when the vendor gave no `Retry-After`; doubles per retry, ±20 % jitter (default 500 ms). */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** Longest backoff delay (default 8 s). */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** Longest `Retry-After` the client waits; a longer one ends the call with a `rate_limit` error (default 60 s). */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /**
   * Longest wait for the response to one attempt (its status and headers; a stream's body may then take
   * longer). A timed-out attempt counts as a connection error and is retried (default 10 minutes).
   */
  readonly attemptTimeout?: Duration.DurationInput | undefined
}

/** The defaults: 3 retries, 500 ms doubling up to 8 s, `Retry-After` honoured up to 60 s, 10 minutes per attempt. */
export const defaults = {
  maxRetries: 3,
  baseDelay: "500 millis",
  maxDelay: "8 seconds",
  maxRetryAfter: "60 seconds",
  attemptTimeout: "10 minutes"
} as const satisfies RetryPolicy
