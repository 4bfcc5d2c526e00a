/**
 * How a provider client retries: 429 (honouring `Retry-After`), 408, 5xx, connection errors and attempts
 * that got no response are retried with a bounded exponential backoff; every retry is first recorded as a
 * `provider.retry` event. The settings are the runtime's one retry vocabulary (`RetryPolicy` of
 * `@sextant/runtime`); this module holds the providers' defaults.
 */
import type { RetryPolicy as Shared } from "@sextant/runtime"
import { Duration } from "effect"

/**
 * Retry settings of a provider client (`maxAttempts`, `baseDelay`, `maxDelay`, `jitter`, `budget`,
 * `attemptTimeout`, `maxRetryAfter`); every field has a default (`defaults`).
 */
export type RetryPolicy = Shared.RetryPolicy

/**
 * The defaults: 4 attempts in all, 500 ms doubling up to 8 s with ±20 % jitter, `Retry-After` honoured up to
 * 60 s (a longer one ends the call), 10 minutes per attempt (its status and headers; a stream's body may then
 * take longer), and no overall budget beyond what the attempts and their waits add up to.
 */
export const defaults: Required<Shared.RetryPolicy> = {
  maxAttempts: 4,
  baseDelay: "500 millis",
  maxDelay: "8 seconds",
  jitter: 0.2,
  budget: Duration.infinity,
  attemptTimeout: "10 minutes",
  maxRetryAfter: "60 seconds"
}
