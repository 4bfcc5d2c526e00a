import { Data } from "effect"

/** A value in an event could not be written as JSON (a BigInt, a function, a cycle, a non-finite number). */
export class NotJson extends Data.TaggedError("NotJson")<{ readonly message: string }> {}

const check = (_key: string, value: unknown): unknown => {
  switch (typeof value) {
    case "bigint":
    case "function":
    case "symbol":
      throw new NotJson({ message: `a ${typeof value} cannot be written as JSON` })
    case "number":
      if (!Number.isFinite(value)) throw new NotJson({ message: `${value} cannot be written as JSON` })
  }
  return value
}

/**
 * Whether `JSON.stringify` writes this value exactly as it is: strings, finite numbers, booleans, null and
 * plain arrays and objects of them (no `toJSON`, nothing nested deeper than 64, which a cycle would be).
 * Anything else takes the checked path, which throws the precise `NotJson` (or writes what `toJSON` returns).
 */
const plain = (value: unknown, depth: number): boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (depth > 64) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!plain(value[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return false
      const record = value as Record<string, unknown>
      if (typeof record.toJSON === "function") return false
      for (const key in record) if (!plain(record[key], depth + 1)) return false
      return true
    }
    default:
      return false
  }
}

/**
 * `JSON.stringify` that refuses what JSON would silently mangle; throws `NotJson`. Plain data (checked by one
 * walk) is written without a replacer, V8's fast path; the rest through the replacer that names the problem.
 */
export const stringify = (value: unknown): string => {
  try {
    const text = plain(value, 0) ? JSON.stringify(value) : JSON.stringify(value, check)
    if (text === undefined) throw new NotJson({ message: "the value has no JSON form" })
    return text
  } catch (e) {
    if (e instanceof NotJson) throw e
    throw new NotJson({ message: e instanceof Error ? e.message : String(e) })
  }
}
