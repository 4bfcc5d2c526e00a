import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { vendorMessage } from "../src/internal/errors.js"
import { backoffMs, isRetryableStatus, resolveRetry, retryAfterMs } from "../src/internal/retry.js"

describe("retry rules", () => {
  it("retries 408, 429 and 5xx only", () => {
    expect([408, 429, 500, 502, 503, 529].every(isRetryableStatus)).toBe(true)
    expect([400, 401, 403, 404, 409, 422].some(isRetryableStatus)).toBe(false)
  })

  it("reads retry-after-ms, Retry-After seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(retryAfterMs({ "retry-after-ms": "250", "retry-after": "9" }, now)).toBe(250)
    expect(retryAfterMs({ "retry-after": "2" }, now)).toBe(2000)
    expect(retryAfterMs({ "retry-after": "0.5" }, now)).toBe(500)
    expect(retryAfterMs({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }, now)).toBe(3000)
    expect(retryAfterMs({ "retry-after": "soon" }, now)).toBeUndefined()
    expect(retryAfterMs({}, now)).toBeUndefined()
  })

  it.effect("backs off exponentially with jitter, capped", () =>
    Effect.gen(function*() {
      const policy = resolveRetry({ baseDelay: "100 millis", maxDelay: "1 second" })
      expect(policy.maxRetries).toBe(3)
      const first = yield* backoffMs(policy, 1)
      const third = yield* backoffMs(policy, 3)
      const tenth = yield* backoffMs(policy, 10)
      expect(first).toBeGreaterThanOrEqual(80)
      expect(first).toBeLessThanOrEqual(120)
      expect(third).toBeGreaterThanOrEqual(320)
      expect(third).toBeLessThanOrEqual(480)
      expect(tenth).toBe(1000)
    }))

  it("takes the vendor's message from the known error body shapes", () => {
    expect(vendorMessage(JSON.stringify({ error: { message: "bad key", type: "x" } }))).toBe("bad key")
    expect(vendorMessage(JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })))
      .toBe("Overloaded")
    expect(vendorMessage(JSON.stringify({ error: "model 'x' not found" }))).toBe("model 'x' not found")
    expect(vendorMessage(JSON.stringify({ message: "plain" }))).toBe("plain")
    expect(vendorMessage("<html>Bad Gateway</html>")).toBe("<html>Bad Gateway</html>")
    expect(vendorMessage("x".repeat(2000))).toHaveLength(1001)
  })
})
