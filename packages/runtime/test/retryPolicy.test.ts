import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, TestClock } from "effect"
import * as RetryPolicy from "../src/RetryPolicy.js"

const defaults: Required<RetryPolicy.RetryPolicy> = {
  maxAttempts: 5,
  baseDelay: "100 millis",
  maxDelay: "1 second",
  jitter: 0,
  budget: "10 seconds",
  attemptTimeout: "1 second",
  maxRetryAfter: "5 seconds"
}

interface Failure {
  readonly kind: "transient" | "permanent" | "timeout"
  readonly retryAfterMs?: number
}
const timeout: Failure = { kind: "timeout" }
const classify = {
  isRetryable: (e: Failure) => e.kind === "transient",
  retryAfter: (e: Failure) => (e.retryAfterMs === undefined ? undefined : Duration.millis(e.retryAfterMs)),
  onTimeout: () => timeout
}

/** An effect that fails `failures` times (recording when each attempt started), then succeeds. */
const flaky = (failures: ReadonlyArray<Failure>) => {
  const startedAt: Array<number> = []
  let n = 0
  const effect = Effect.flatMap(TestClock.currentTimeMillis, (now) => {
    startedAt.push(now)
    const failure = failures[n++]
    return failure === undefined ? Effect.succeed("ok") : Effect.fail(failure)
  })
  return { effect, startedAt }
}

const runWithClock = <A, E>(effect: Effect.Effect<A, E>, advance: Duration.DurationInput) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.either(effect))
    yield* TestClock.adjust(advance)
    return yield* Fiber.join(fiber)
  })

describe("RetryPolicy", () => {
  it.effect("waits exponentially from baseDelay, capped at maxDelay, and reports the attempts", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.resolve({ maxDelay: "300 millis" }, defaults)
      const { effect, startedAt } = flaky([{ kind: "transient" }, { kind: "transient" }, { kind: "transient" }])
      const out = yield* runWithClock(RetryPolicy.retry(effect, policy, classify), "10 seconds")
      expect(out).toEqual(Either.right({ value: "ok", attempts: 4 }))
      expect(startedAt).toEqual([0, 100, 300, 600])
    }))

  it.effect("stops after maxAttempts and on a failure that is not retryable", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.resolve({ maxAttempts: 2 }, defaults)
      const many = flaky([{ kind: "transient" }, { kind: "transient" }, { kind: "transient" }])
      const out = yield* runWithClock(RetryPolicy.retry(many.effect, policy, classify), "10 seconds")
      expect(out).toEqual(Either.left({ error: { kind: "transient" }, attempts: 2, retryable: true }))
      const permanent = flaky([{ kind: "permanent" }])
      const out2 = yield* runWithClock(RetryPolicy.retry(permanent.effect, policy, classify), "10 seconds")
      expect(out2).toEqual(Either.left({ error: { kind: "permanent" }, attempts: 1, retryable: false }))
    }))

  it.effect("honours Retry-After up to maxRetryAfter and gives up beyond it", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.resolve({}, defaults)
      const asked = flaky([{ kind: "transient", retryAfterMs: 2_000 }])
      const out = yield* runWithClock(RetryPolicy.retry(asked.effect, policy, classify), "10 seconds")
      expect(Either.isRight(out)).toBe(true)
      expect(asked.startedAt).toEqual([0, 2_000])
      const tooLong = flaky([{ kind: "transient", retryAfterMs: 6_000 }])
      const out2 = yield* runWithClock(RetryPolicy.retry(tooLong.effect, policy, classify), "10 seconds")
      expect(tooLong.startedAt).toHaveLength(1)
      expect(out2).toEqual(
        Either.left({ error: { kind: "transient", retryAfterMs: 6_000 }, attempts: 1, retryable: true })
      )
    }))

  it.effect("cuts an attempt at attemptTimeout and never waits past the budget", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.resolve({ budget: "2500 millis", attemptTimeout: "1 second" }, defaults)
      let attempts = 0
      const hangs = Effect.zipRight(Effect.sync(() => attempts++), Effect.never)
      const out = yield* runWithClock(RetryPolicy.retry(hangs, policy, classify), "10 seconds")
      expect(Either.isLeft(out) && out.left.error).toBe(timeout)
      // 0–1000 cut, wait 100, 1100–2100 cut, wait 200, 2300–2500 cut by the budget; no wait fits after that.
      expect(attempts).toBe(3)
    }))

  it.effect("calls onRetry before each wait, and a failing onRetry ends the retries with its failure", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.resolve({}, defaults)
      const seen: Array<[number, number]> = []
      const recorded = flaky([{ kind: "transient" }, { kind: "transient" }])
      const onRetry = (info: { attempt: number; delay: Duration.Duration }) =>
        Effect.sync(() => seen.push([info.attempt, Duration.toMillis(info.delay)]))
      const out = yield* runWithClock(RetryPolicy.retry(recorded.effect, policy, { ...classify, onRetry }), "1 minute")
      expect(out).toEqual(Either.right({ value: "ok", attempts: 3 }))
      expect(seen).toEqual([[1, 100], [2, 200]])

      const unrecorded = flaky([{ kind: "transient" }, { kind: "transient" }])
      const refuse = () => Effect.fail("not recorded" as const)
      const out2 = yield* runWithClock(
        RetryPolicy.retry(unrecorded.effect, policy, { ...classify, onRetry: refuse }),
        "1 minute"
      )
      expect(out2).toEqual(Either.left("not recorded"))
      // No second attempt was made after the hook failed.
      expect(unrecorded.startedAt).toHaveLength(1)
    }))

  it("validates settings, naming the field", () => {
    const bad = RetryPolicy.validate({ maxAttempts: 0 }, defaults)
    expect(Either.isLeft(bad) && bad.left.field).toBe("maxAttempts")
    const badDelay = RetryPolicy.validate({ baseDelay: "soon" as never }, defaults)
    expect(Either.isLeft(badDelay) && badDelay.left.message).toContain("retry.baseDelay")
  })

  it("parses retry-after-ms, Retry-After seconds and HTTP dates", () => {
    const h = (headers: Record<string, string>) => (name: string) => headers[name]
    expect(RetryPolicy.parseRetryAfter(h({ "retry-after-ms": "250" }), 0)).toEqual(Duration.millis(250))
    expect(RetryPolicy.parseRetryAfter(h({ "retry-after": "2" }), 0)).toEqual(Duration.millis(2000))
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(RetryPolicy.parseRetryAfter(h({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }), now)).toEqual(
      Duration.millis(3000)
    )
    expect(RetryPolicy.parseRetryAfter(h({ "retry-after": "soon" }), 0)).toBeUndefined()
  })
})
