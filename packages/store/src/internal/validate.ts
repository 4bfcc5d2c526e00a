/**
 * Validation of query arguments: each failure is an `InvalidQuery` naming the field and the problem.
 */
import { Effect } from "effect"
import { InvalidQuery } from "../Errors.js"
import { RunStatus, type UsageGroupBy } from "../Records.js"

const bad = (field: string, message: string) =>
  Effect.fail(new InvalidQuery({ field, message: `${field}: ${message}` }))

/** An integer in `min..max`, or `fallback` when absent. */
export const intInRange = (field: string, value: unknown, min: number, max: number, fallback?: number) => {
  if (value === undefined && fallback !== undefined) return Effect.succeed(fallback)
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? Effect.succeed(value)
    : bad(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
}

/** An optional non-negative integer (a sequence index or an iteration). */
export const optionalIndex = (field: string, value: unknown) =>
  value === undefined
    ? Effect.succeed(undefined)
    : intInRange(field, value, 0, Number.MAX_SAFE_INTEGER) as Effect.Effect<number | undefined, InvalidQuery>

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/

/** An optional instant (a `Date` or an ISO-8601 string with an offset), normalised to an ISO UTC string. */
export const optionalInstant = (field: string, value: unknown): Effect.Effect<string | undefined, InvalidQuery> => {
  if (value === undefined) return Effect.succeed(undefined)
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? bad(field, "is an invalid Date") : Effect.succeed(value.toISOString())
  }
  if (typeof value !== "string" || !RFC3339.test(value)) {
    return bad(
      field,
      `must be an ISO-8601 datetime with an offset (e.g. 2026-01-31T12:00:00Z), got ${JSON.stringify(value)}`
    )
  }
  const date = new Date(value)
  return Number.isNaN(date.getTime())
    ? bad(field, `is not a valid datetime: ${value}`)
    : Effect.succeed(date.toISOString())
}

const statuses = new Set<string>(RunStatus.literals)

/** One status or several; an empty list matches nothing. */
export const optionalStatuses = (value: unknown): Effect.Effect<ReadonlyArray<string> | undefined, InvalidQuery> => {
  if (value === undefined) return Effect.succeed(undefined)
  const list = typeof value === "string" ? [value] : value
  if (!Array.isArray(list)) return bad("status", "must be a status or a list of statuses")
  const unknown = list.find((s) => typeof s !== "string" || !statuses.has(s))
  return unknown === undefined
    ? Effect.succeed(list as ReadonlyArray<string>)
    : bad("status", `unknown status ${JSON.stringify(unknown)}; expected one of ${RunStatus.literals.join(", ")}`)
}

/** An optional non-empty string. */
export const optionalText = (field: string, value: unknown): Effect.Effect<string | undefined, InvalidQuery> =>
  value === undefined
    ? Effect.succeed(undefined)
    : typeof value === "string" && value.length > 0 && value.length <= 1000
    ? Effect.succeed(value)
    : bad(field, "must be a non-empty string of at most 1000 characters")

const METADATA_KEY = /^[A-Za-z0-9_.-]{1,128}$/

/** A metadata exact-match filter: top-level keys matching `[A-Za-z0-9_.-]{1,128}`, scalar JSON values. */
export const optionalMetadata = (
  value: unknown
): Effect.Effect<ReadonlyArray<readonly [string, string | number | boolean | null]> | undefined, InvalidQuery> => {
  if (value === undefined) return Effect.succeed(undefined)
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return bad("metadata", "must be an object of top-level keys to exact values")
  }
  const entries = Object.entries(value as Record<string, unknown>)
  for (const [key, v] of entries) {
    if (!METADATA_KEY.test(key)) return bad("metadata", `key ${JSON.stringify(key)} must match [A-Za-z0-9_.-]{1,128}`)
    const scalar = v === null || typeof v === "string" || typeof v === "boolean" ||
      (typeof v === "number" && Number.isFinite(v))
    if (!scalar) {
      return bad("metadata", `value of ${JSON.stringify(key)} must be a string, a finite number, a boolean or null`)
    }
  }
  return Effect.succeed(entries as ReadonlyArray<readonly [string, string | number | boolean | null]>)
}

/** Where a page of runs ends: the last item's `(createdAt, id)`. */
export interface Cursor {
  readonly createdAt: string
  readonly id: string
}

/** Encodes a cursor as an opaque base64url token. */
export const encodeCursor = (cursor: Cursor): string =>
  Buffer.from(JSON.stringify(["r1", cursor.createdAt, cursor.id])).toString("base64url")

/** Decodes a cursor token produced by `encodeCursor`. */
export const optionalCursor = (value: unknown): Effect.Effect<Cursor | undefined, InvalidQuery> => {
  if (value === undefined) return Effect.succeed(undefined)
  if (typeof value === "string" && /^[A-Za-z0-9_-]{1,400}$/.test(value)) {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(value, "base64url").toString("utf8"))
      if (
        Array.isArray(parsed) && parsed.length === 3 && parsed[0] === "r1" && typeof parsed[1] === "string" &&
        !Number.isNaN(new Date(parsed[1]).getTime()) && typeof parsed[2] === "string"
      ) {
        return Effect.succeed({ createdAt: new Date(parsed[1]).toISOString(), id: parsed[2] })
      }
    } catch {
      // falls through to the error below
    }
  }
  return bad("cursor", "is not a cursor returned by listRuns")
}

const groupKeys = new Set<string>(["tenant", "agent", "model", "day"])

/** A list of distinct usage dimensions. */
export const groupBy = (value: unknown): Effect.Effect<ReadonlyArray<UsageGroupBy>, InvalidQuery> => {
  if (value === undefined) return Effect.succeed([])
  if (!Array.isArray(value)) return bad("groupBy", "must be a list of tenant, agent, model, day")
  const unknown = value.find((g) => !groupKeys.has(g))
  if (unknown !== undefined) {
    return bad("groupBy", `unknown dimension ${JSON.stringify(unknown)}; expected tenant, agent, model or day`)
  }
  if (new Set(value).size !== value.length) return bad("groupBy", "lists a dimension twice")
  return Effect.succeed(value as ReadonlyArray<UsageGroupBy>)
}
