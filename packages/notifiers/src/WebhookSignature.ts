/**
 * Webhook signing. The sender signs `timestamp + "." + body` with HMAC-SHA256 and sends the signature and the
 * timestamp in headers; a receiver recomputes it with the shared secret and rejects stale timestamps, so a
 * captured request cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from "node:crypto"

/** The header carrying `v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = "x-sextant-signature"
/** The header carrying the signing time in Unix seconds. */
export const TIMESTAMP_HEADER = "x-sextant-timestamp"
/** The header carrying `runId:sequenceIndex` (the same on every retry of one payload). */
export const IDEMPOTENCY_HEADER = "idempotency-key"
/** The header naming the payload's event type (`tool.completed`, `alert`, `batch`). */
export const EVENT_HEADER = "x-sextant-event"

/** The signature header value for a body signed at `timestamp` (Unix seconds). */
export const sign = (secret: string, timestamp: number | string, body: string): string =>
  `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`

/** Options of `verifySignature`. */
export interface VerifyOptions {
  readonly secret: string
  /** The raw request body, exactly as received. */
  readonly body: string
  /** The `x-sextant-signature` header. */
  readonly signature: string | null | undefined
  /** The `x-sextant-timestamp` header. */
  readonly timestamp: string | null | undefined
  /** How old (or how far in the future) a timestamp may be (default 300 seconds). */
  readonly toleranceSeconds?: number | undefined
  /** The receiver's clock in epoch ms (default `Date.now()`). */
  readonly now?: number | undefined
}

/** Whether a received webhook was signed with `secret` within the tolerance window (constant-time compare). */
export const verifySignature = (options: VerifyOptions): boolean => {
  const { body, secret, signature, timestamp } = options
  if (typeof signature !== "string" || typeof timestamp !== "string" || !/^\d+$/.test(timestamp)) return false
  const now = options.now ?? Date.now()
  const tolerance = options.toleranceSeconds ?? 300
  if (Math.abs(now / 1000 - Number(timestamp)) > tolerance) return false
  const expected = Buffer.from(sign(secret, timestamp, body))
  const given = Buffer.from(signature)
  return expected.length === given.length && timingSafeEqual(expected, given)
}
