import { SqlError } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Either, Fiber, TestClock } from "effect"
import { isTransient } from "../src/internal/classify.js"
import { defaultRetryPolicy, resolvePolicy, withRetry } from "../src/internal/write.js"

const failing = (code: string) =>
  new SqlError.SqlError({ message: "Failed to execute statement", cause: { code, message: code } })

/** A write failing with `codes` in turn, then succeeding; counts its attempts. */
const scripted = (codes: ReadonlyArray<string>) => {
  const state = { calls: 0 }
  const write = Effect.suspend(() => {
    const code = codes[state.calls++]
    return code === undefined ? Effect.succeed("written") : Effect.fail(failing(code))
  })
  return { state, write }
}

const run = <A>(effect: Effect.Effect<A>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

describe("retry policy", () => {
  it.effect("transient failures are retried until the write succeeds", () =>
    Effect.gen(function*() {
      const { state, write } = scripted(["SQLITE_BUSY", "57P01", "40001"])
      const result = yield* run(withRetry(defaultRetryPolicy, write))
      expect(result).toEqual(Either.right({ value: "written", attempts: 4 }))
      expect(state.calls).toBe(4)
    }))

  it.effect("by default a write gets 5 attempts within about 2 seconds, then fails as transient", () =>
    Effect.gen(function*() {
      const attemptsAt: Array<number> = []
      const busy = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        attemptsAt.push(now)
        return Effect.fail(failing("SQLITE_BUSY"))
      })
      const result = yield* run(withRetry(defaultRetryPolicy, busy))
      expect(Either.isLeft(result) && result.left).toMatchObject({ attempts: 5, transient: true })
      expect(attemptsAt).toHaveLength(5)
      // Waits double from 100 ms (±20% jitter), and the last attempt starts within the 2 second budget.
      const waits = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!)
      waits.forEach((wait, i) => {
        expect(wait).toBeGreaterThanOrEqual(0.8 * 100 * 2 ** i)
        expect(wait).toBeLessThanOrEqual(1.2 * 100 * 2 ** i)
      })
      expect(attemptsAt[4]! - attemptsAt[0]!).toBeLessThan(Duration.toMillis(defaultRetryPolicy.budget))
    }))

  it.effect("the time budget stops retries before the attempts run out", () =>
    Effect.gen(function*() {
      const { state, write } = scripted(Array.from({ length: 10 }, () => "40P01"))
      const policy = resolvePolicy({ maxAttempts: 10, budget: "500 millis", baseDelay: "100 millis" })
      const result = yield* run(withRetry(policy, write))
      // Waits of ~100, ~200 fit; the next (~400) would pass 500 ms.
      expect(Either.isLeft(result) && result.left).toMatchObject({ attempts: 3, transient: true })
      expect(state.calls).toBe(3)
    }))

  it.effect("integrity and programming errors are not retried", () =>
    Effect.gen(function*() {
      for (const code of ["23505", "42501", "42P01", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_ERROR"]) {
        const { state, write } = scripted([code])
        const result = yield* run(withRetry(defaultRetryPolicy, write))
        expect(Either.isLeft(result) && result.left).toMatchObject({ attempts: 1, transient: false })
        expect(state.calls).toBe(1)
      }
    }))

  it.effect("a hanging attempt is cut off by the budget", () =>
    Effect.gen(function*() {
      const policy = resolvePolicy({ maxAttempts: 5, budget: "1 second", attemptTimeout: "1 second" })
      const result = yield* run(withRetry(policy, Effect.never))
      expect(Either.isLeft(result) && result.left).toMatchObject({ attempts: 1, transient: true, timedOut: true })
    }))

  it.effect("by default an attempt gets half the budget, so a hung attempt is retried once within it", () =>
    Effect.gen(function*() {
      const state = { calls: 0 }
      const hangsOnce = Effect.suspend(() => (state.calls++ === 0 ? Effect.never : Effect.succeed("written")))
      const result = yield* run(withRetry(defaultRetryPolicy, hangsOnce))
      expect(result).toEqual(Either.right({ value: "written", attempts: 2 }))
      expect(Duration.toMillis(defaultRetryPolicy.attemptTimeout)).toBe(1000)
    }))

  it.effect("a continued retry counts its attempts and budget from where it began", () =>
    Effect.gen(function*() {
      const { state, write } = scripted(Array.from({ length: 10 }, () => "SQLITE_BUSY"))
      const last = { error: failing("SQLITE_BUSY"), attempts: 3, transient: true, timedOut: false }
      const startedAt = yield* Clock.currentTimeMillis
      const result = yield* run(withRetry(defaultRetryPolicy, write, { from: { startedAt, attempts: 3, last } }))
      expect(Either.isLeft(result) && result.left).toMatchObject({ attempts: 5, transient: true })
      expect(state.calls).toBe(2)
      // Nothing left: the earlier failure is the answer, with no further attempt.
      const spent = yield* withRetry(defaultRetryPolicy, write, { from: { startedAt, attempts: 5, last } })
      expect(spent).toEqual(Either.left(last))
      expect(state.calls).toBe(2)
    }))

  it("classifies driver errors", () => {
    const transient = ["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_IOERR_WRITE", "08006", "40001"]
    for (const code of [...transient, "40P01", "53300", "55P03", "57P01", "57P03", "ECONNRESET"]) {
      expect([code, isTransient(failing(code))]).toEqual([code, true])
    }
    for (const code of ["23505", "23503", "42501", "42601", "22P02", "SQLITE_CONSTRAINT_FOREIGNKEY", "SQLITE_MISUSE"]) {
      expect([code, isTransient(failing(code))]).toEqual([code, false])
    }
    const terminated = new SqlError.SqlError({ message: "x", cause: new Error("Connection terminated unexpectedly") })
    expect(isTransient(terminated)).toBe(true)
  })
})
