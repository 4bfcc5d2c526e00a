import { describe, expect, it } from "@effect/vitest"
import { RetryPolicy as Shared } from "@sextant/runtime"
import { Chunk, Duration, Effect, Fiber, Layer, Schedule, TestClock } from "effect"
import { ProviderConfigError, RetryPolicy } from "../src/index.js"
import { vendorMessage } from "../src/internal/errors.js"
import { resolveRetry } from "../src/internal/retry.js"
import { wires } from "./wires.js"

const never = { isRetryable: () => true }

describe("retry rules", () => {
  it("retries 408, 429 and 5xx only", () => {
    expect([408, 429, 500, 502, 503, 529].every(Shared.isRetryableStatus)).toBe(true)
    expect([400, 401, 403, 404, 409, 422].some(Shared.isRetryableStatus)).toBe(false)
  })

  it("reads retry-after-ms, Retry-After seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    const ms = (headers: Record<string, string>) => {
      const wait = Shared.parseRetryAfter((name) => headers[name], now)
      return wait === undefined ? undefined : Duration.toMillis(wait)
    }
    expect(ms({ "retry-after-ms": "250", "retry-after": "9" })).toBe(250)
    expect(ms({ "retry-after": "2" })).toBe(2000)
    expect(ms({ "retry-after": "0.5" })).toBe(500)
    expect(ms({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" })).toBe(3000)
    expect(ms({ "retry-after": "soon" })).toBeUndefined()
    expect(ms({})).toBeUndefined()
  })

  it.effect("defaults to 4 attempts backing off exponentially from 500 ms with ±20% jitter, capped at 8 s", () =>
    Effect.gen(function*() {
      const policy = yield* resolveRetry(undefined)
      expect(policy.maxAttempts).toBe(4)
      expect(Duration.toMillis(policy.attemptTimeout)).toBe(600_000)
      expect(Duration.toMillis(policy.maxRetryAfter)).toBe(60_000)
      // The schedule's delays are what `retry` sleeps between attempts.
      const delays = (p: Shared.Resolved, n: number) =>
        Effect.map(
          Schedule.run(Schedule.delays(Shared.schedule(p, never)), 0, Array.from({ length: n }, () => "e")),
          (out) => Chunk.toReadonlyArray(out).map(Duration.toMillis)
        )
      let attempts = 0
      const failing = Effect.zipRight(Effect.sync(() => attempts++), Effect.fail("e"))
      const fiber = yield* Effect.fork(Effect.either(Shared.retry(failing, policy, { ...never, onTimeout: () => "t" })))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toMatchObject({ left: { attempts: 4 } })
      expect(attempts).toBe(4)
      const [first, second, third] = yield* delays(policy, 3)
      expect(first).toBeGreaterThanOrEqual(400)
      expect(first).toBeLessThanOrEqual(600)
      expect(second).toBeGreaterThanOrEqual(800)
      expect(second).toBeLessThanOrEqual(1200)
      expect(third).toBeGreaterThanOrEqual(1600)
      expect(third).toBeLessThanOrEqual(2400)
      const many = yield* resolveRetry({ maxAttempts: 12 })
      // Capped, then spread by the jitter (so capped waits of many clients still do not line up), never above 8 s.
      const longest = (yield* delays(many, 11)).at(-1)!
      expect(longest).toBeGreaterThanOrEqual(6400)
      expect(longest).toBeLessThanOrEqual(8000)
    }))

  it.effect("a bad retry setting fails when the layer is built, as ProviderConfigError naming retry.<field>", () =>
    Effect.gen(function*() {
      const direct = yield* Effect.flip(resolveRetry({ maxAttempts: 0 }))
      expect(direct).toBeInstanceOf(ProviderConfigError)
      expect(direct.setting).toBe("retry.maxAttempts")
      for (const wire of wires) {
        const jitter = yield* Layer.build(wire.layer("http://127.0.0.1:9", { jitter: 2 })).pipe(
          Effect.scoped,
          Effect.flip
        )
        expect(jitter).toMatchObject({ _tag: "ProviderConfigError", setting: "retry.jitter" })
        expect(jitter.message).toContain("retry.jitter: must be a fraction in [0, 1), got 2")
        const delay = yield* Layer.build(wire.layer("http://127.0.0.1:9", { baseDelay: "soon" as never })).pipe(
          Effect.scoped,
          Effect.flip
        )
        expect(delay.setting).toBe("retry.baseDelay")
      }
    }))

  it("documents the provider defaults in the shared vocabulary", () => {
    expect(RetryPolicy.defaults).toMatchObject({
      maxAttempts: 4,
      baseDelay: "500 millis",
      maxDelay: "8 seconds",
      jitter: 0.2,
      attemptTimeout: "10 minutes",
      maxRetryAfter: "60 seconds"
    })
  })

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
