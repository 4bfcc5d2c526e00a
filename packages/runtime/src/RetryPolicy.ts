/**
 * One retry vocabulary for everything that retries: the recorder's writes and ledger statements, provider
 * calls, webhook and Slack deliveries. Exponential backoff with jitter, a cap per wait, a bound on attempts
 * and on total time, a timeout per attempt, and a server's `Retry-After` honoured up to a limit. The waits
 * are a `Schedule`, so `TestClock` drives them in tests.
 */
import { Clock, Duration, Effect, Either, Schedule, ScheduleDecision, ScheduleIntervals, Schema } from "effect"

/** Retry settings; every field has a default chosen by the component that retries. */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). */
  readonly maxAttempts?: number | undefined
  /** The first wait; each further wait doubles. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The longest single wait. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** Random spread of each wait, as a fraction (0.2 = ±20%). */
  readonly jitter?: number | undefined
  /** Total time from the first attempt (attempts and waits); no retry starts past it, and it cuts an attempt. */
  readonly budget?: Duration.DurationInput | undefined
  /** The longest single attempt; a timed-out attempt counts as a transient failure. */
  readonly attemptTimeout?: Duration.DurationInput | undefined
  /** The longest `Retry-After` a server may ask for; a longer one ends the retries. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
}

/** A policy with every default applied. */
export interface Resolved {
  readonly maxAttempts: number
  readonly baseDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  readonly jitter: number
  readonly budget: Duration.Duration
  readonly attemptTimeout: Duration.Duration
  readonly maxRetryAfter: Duration.Duration
}

/** A bad retry setting: `field` names it (`maxAttempts`, `baseDelay`…), the message says what is allowed. */
export class InvalidRetryPolicy extends Schema.TaggedError<InvalidRetryPolicy>()("InvalidRetryPolicy", {
  field: Schema.String,
  message: Schema.String
}) {}

const invalid = (field: string, message: string) =>
  Either.left(new InvalidRetryPolicy({ field, message: `retry.${field}: ${message}` }))

const decodeDuration = (
  field: string,
  value: Duration.DurationInput
): Either.Either<Duration.Duration, InvalidRetryPolicy> => {
  const decoded = Duration.decodeUnknown(value)
  return decoded._tag === "None"
    ? invalid(field, `must be a duration such as "500 millis" or 1000 (ms), got ${String(value)}`)
    : Either.right(decoded.value)
}

/** Applies `defaults` to a user's policy and checks it: a bad setting is an `InvalidRetryPolicy` naming the field. */
export const validate = (
  policy: RetryPolicy | undefined,
  defaults: Required<RetryPolicy>
): Either.Either<Resolved, InvalidRetryPolicy> => {
  const pick = <K extends keyof RetryPolicy>(key: K): NonNullable<RetryPolicy[K]> =>
    (policy?.[key] ?? defaults[key]) as NonNullable<RetryPolicy[K]>
  const maxAttempts = pick("maxAttempts")
  if (typeof maxAttempts !== "number" || !Number.isInteger(maxAttempts) || maxAttempts < 1) {
    return invalid("maxAttempts", `must be an integer of at least 1, got ${String(maxAttempts)}`)
  }
  const jitter = pick("jitter")
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter < 1)) {
    return invalid("jitter", `must be a fraction in [0, 1), got ${String(jitter)}`)
  }
  return Either.all({
    maxAttempts: Either.right(maxAttempts),
    jitter: Either.right(jitter),
    baseDelay: decodeDuration("baseDelay", pick("baseDelay")),
    maxDelay: decodeDuration("maxDelay", pick("maxDelay")),
    budget: decodeDuration("budget", pick("budget")),
    attemptTimeout: decodeDuration("attemptTimeout", pick("attemptTimeout")),
    maxRetryAfter: decodeDuration("maxRetryAfter", pick("maxRetryAfter"))
  })
}

/** `validate` for settings known at definition time: throws the `InvalidRetryPolicy` naming the bad field. */
export const resolve = (policy: RetryPolicy | undefined, defaults: Required<RetryPolicy>): Resolved => {
  const resolved = validate(policy, defaults)
  if (Either.isLeft(resolved)) throw resolved.left
  return resolved.right
}

/** How a component reads its failures: which are worth another attempt, and how long a server asked to wait. */
export interface Classifier<E> {
  readonly isRetryable: (error: E) => boolean
  /** The wait the failure asks for (`Retry-After`), if any. */
  readonly retryAfter?: ((error: E) => Duration.Duration | undefined) | undefined
}

/**
 * The waits between attempts as a `Schedule` fed with each failure: exponential from `baseDelay`, jittered,
 * capped at `maxDelay`, replaced by the failure's `Retry-After` when it has one, stopping after
 * `maxAttempts`, on a failure that is not retryable, or on a `Retry-After` beyond `maxRetryAfter`.
 * (The time budget needs the start time; `retry` adds it.)
 */
export const schedule = <E>(policy: Resolved, classify: Classifier<E>): Schedule.Schedule<E, E> => {
  const maxDelay = Duration.toMillis(policy.maxDelay)
  const maxRetryAfter = Duration.toMillis(policy.maxRetryAfter)
  const base = Schedule.exponential(policy.baseDelay, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.millis(Math.min(maxDelay, Duration.toMillis(delay))))
  )
  const spread = policy.jitter === 0
    ? base
    : Schedule.jitteredWith(base, { min: 1 - policy.jitter, max: 1 + policy.jitter })
  const counted = Schedule.intersect(spread, Schedule.recurs(policy.maxAttempts - 1))
  const fed: Schedule.Schedule<E, E> = Schedule.passthrough(counted as Schedule.Schedule<unknown, E>)
  return fed.pipe(
    Schedule.whileInput((error: E) => {
      if (!classify.isRetryable(error)) return false
      const asked = classify.retryAfter?.(error)
      return asked === undefined || Duration.toMillis(asked) <= maxRetryAfter
    }),
    Schedule.modifyDelay((error: E, delay) => {
      const asked = classify.retryAfter?.(error)
      return asked === undefined ? Duration.millis(Math.min(maxDelay, Duration.toMillis(delay))) : asked
    })
  )
}

/** A call that succeeded, with the attempts it took. */
export interface Succeeded<A> {
  readonly value: A
  readonly attempts: number
}

/** A call that failed for good: its last failure, the attempts made, and whether that failure was retryable. */
export interface Exhausted<E> {
  readonly error: E
  readonly attempts: number
  readonly retryable: boolean
}

/** Options of `retry`. */
export interface RetryOptions<E, E2 = never> extends Classifier<E> {
  /** The failure of an attempt cut by `attemptTimeout` or the budget (it counts as retryable). */
  readonly onTimeout: () => E
  /**
   * Called before each wait (for logging or recording a retry). A failure of it ends the retries with that
   * failure, so a retry that must be recorded first (a provider's `provider.retry` event) is never made
   * unrecorded.
   */
  readonly onRetry?:
    | ((
      info: { readonly attempt: number; readonly delay: Duration.Duration; readonly error: E }
    ) => Effect.Effect<void, E2>)
    | undefined
}

/**
 * Runs `effect` under the policy: each attempt is cut at `attemptTimeout` or the budget's end (whichever
 * comes first); a failure the classifier deems retryable waits as `schedule` says and tries again, unless
 * the wait would end past the budget. Succeeds or fails with the attempts made, so callers can report them;
 * fails with `onRetry`'s own failure, before waiting, when that hook fails.
 */
export const retry = <A, E, R, E2 = never>(
  effect: Effect.Effect<A, E, R>,
  policy: Resolved,
  options: RetryOptions<E, E2>
): Effect.Effect<Succeeded<A>, Exhausted<E> | E2, R> =>
  Effect.gen(function*() {
    const budget = Duration.toMillis(policy.budget)
    const perAttempt = Duration.toMillis(policy.attemptTimeout)
    const timedOut = options.onTimeout()
    const classify: Classifier<E> = {
      isRetryable: (e) => (e as unknown) === timedOut || options.isRetryable(e),
      retryAfter: options.retryAfter
    }
    const waits = schedule(policy, classify)
    let state: unknown = waits.initial
    const start = yield* Clock.currentTimeMillis
    for (let attempts = 1;; attempts++) {
      const now = yield* Clock.currentTimeMillis
      const left = Math.min(perAttempt, Math.max(1, budget - (now - start)))
      const outcome = yield* Effect.either(
        Number.isFinite(left)
          ? Effect.timeoutFail(effect, { duration: Duration.millis(left), onTimeout: () => timedOut })
          : effect
      )
      if (Either.isRight(outcome)) return { value: outcome.right, attempts }
      const error = outcome.left
      const exhausted = { error, attempts, retryable: classify.isRetryable(error) }
      const failedAt = yield* Clock.currentTimeMillis
      const [next, , decision] = yield* waits.step(failedAt, error, state)
      if (ScheduleDecision.isDone(decision)) return yield* Effect.fail(exhausted)
      const delay = Math.max(0, ScheduleIntervals.start(decision.intervals) - failedAt)
      if (failedAt - start + delay >= budget) return yield* Effect.fail(exhausted)
      state = next
      if (options.onRetry !== undefined) {
        yield* options.onRetry({ attempt: attempts, delay: Duration.millis(delay), error })
      }
      yield* Effect.sleep(Duration.millis(delay))
    }
  })

/**
 * The wait a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` in seconds or as an HTTP date,
 * relative to `now` (epoch ms). Undefined when neither header is there or readable.
 */
export const parseRetryAfter = (
  header: (name: string) => string | null | undefined,
  now: number
): Duration.Duration | undefined => {
  const ms = header("retry-after-ms")?.trim()
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Duration.millis(Math.ceil(Number(ms)))
  const value = header("retry-after")?.trim()
  if (value === undefined || value === "") return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Duration.millis(Math.ceil(Number(value) * 1000))
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Duration.millis(Math.max(0, date - now))
}

/** HTTP statuses worth another attempt: request timeout, rate limit and server errors (529 included). */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500
