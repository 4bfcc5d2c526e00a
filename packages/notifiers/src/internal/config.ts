import { Duration, Either } from "effect"
import { NotifierConfigError } from "../NotifierConfigError.js"

/** Throws a `NotifierConfigError` whose message names the component and the field. */
export const invalid = (component: string, field: string, problem: string): never => {
  throw new NotifierConfigError({ component, field, message: `${component}: ${field} ${problem}` })
}

/** An absolute http(s) URL, or a `NotifierConfigError` naming the field (the value itself is not quoted: it may hold a token). */
export const checkUrl = (component: string, field: string, value: unknown): URL => {
  if (typeof value !== "string" || value.trim() === "") {
    return invalid(component, field, "must be an absolute http(s) URL; it is empty")
  }
  let parsed: URL | undefined
  try {
    parsed = new URL(value)
  } catch {
    // reported below
  }
  if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
    return invalid(component, field, "must be an absolute http(s) URL (such as https://example.com/hooks/sextant)")
  }
  return parsed
}

/** A finite number at least `min` (or above it when `exclusive`). */
export const checkNumber = (
  component: string,
  field: string,
  value: unknown,
  min: number,
  options?: { readonly integer?: boolean; readonly exclusive?: boolean }
): number => {
  const ok = typeof value === "number" && Number.isFinite(value) &&
    (options?.exclusive === true ? value > min : value >= min) &&
    (options?.integer !== true || Number.isInteger(value))
  if (!ok) {
    const kind = options?.integer === true ? "an integer" : "a number"
    invalid(
      component,
      field,
      `must be ${kind} ${options?.exclusive === true ? "above" : "of at least"} ${min}, got ${String(value)}`
    )
  }
  return value as number
}

/** A duration, or a `NotifierConfigError` naming the field. */
export const checkDuration = (component: string, field: string, value: Duration.DurationInput): Duration.Duration => {
  const decoded = Duration.decodeUnknown(value)
  if (decoded._tag === "None") {
    invalid(component, field, `must be a duration such as "5 seconds" or 5000 (ms), got ${String(value)}`)
  }
  return (decoded as { readonly value: Duration.Duration }).value
}

/** A value of an `Either`, a `Left` turned into a `NotifierConfigError` by `onLeft`. */
export const orThrow = <A, E>(either: Either.Either<A, E>, onLeft: (e: E) => never): A =>
  Either.isRight(either) ? either.right : onLeft(either.left)

/** Checks the dispatcher options every notifier of this package takes. */
export const checkCommon = (
  component: string,
  options: {
    readonly name?: unknown
    readonly capacity?: unknown
    readonly strategy?: unknown
    readonly timeout?: Duration.DurationInput | undefined
  }
): void => {
  if (options.name !== undefined && (typeof options.name !== "string" || options.name.trim() === "")) {
    invalid(component, "name", "must be a non-empty string when given")
  }
  if (options.capacity !== undefined) checkNumber(component, "capacity", options.capacity, 1, { integer: true })
  if (options.strategy !== undefined && options.strategy !== "dropping" && options.strategy !== "sliding") {
    invalid(component, "strategy", `must be "dropping" or "sliding", got ${String(options.strategy)}`)
  }
  if (options.timeout !== undefined) checkDuration(component, "timeout", options.timeout)
}
