import { Either } from "effect"
import type { Json } from "../HookEvent.js"

/**
 * Converts a value to JSON data, or says where and why it cannot be: functions, symbols, bigints,
 * non-finite numbers, cycles and class instances (Map, Set, …) that JSON would silently mangle.
 * `toJSON` is honoured (so Dates become ISO strings); `undefined` object fields are dropped as JSON does.
 */
export const toJson = (value: unknown): Either.Either<Json, string> => {
  const seen = new Set<object>()
  const walk = (v: unknown, path: string): Json => {
    if (v === null || typeof v === "string" || typeof v === "boolean") return v
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new NotJson(`${path} is ${v}, which JSON cannot represent`)
      return v
    }
    if (v === undefined) return null
    if (typeof v !== "object") throw new NotJson(`${path} is a ${typeof v}`)
    const withToJson = v as { toJSON?: unknown }
    if (typeof withToJson.toJSON === "function") return walk((withToJson.toJSON as () => unknown)(), path)
    if (seen.has(v)) throw new NotJson(`${path} is a circular reference`)
    seen.add(v)
    try {
      if (Array.isArray(v)) return v.map((item, i) => walk(item, `${path}[${i}]`))
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) {
        throw new NotJson(`${path} is a ${proto?.constructor?.name ?? "non-plain object"}`)
      }
      const out: Record<string, Json> = {}
      for (const [k, item] of Object.entries(v)) {
        if (item !== undefined) out[k] = walk(item, `${path}.${k}`)
      }
      return out
    } finally {
      seen.delete(v)
    }
  }
  try {
    return Either.right(walk(value, "$"))
  } catch (e) {
    if (e instanceof NotJson) return Either.left(`not JSON-serialisable: ${e.message}`)
    throw e
  }
}

class NotJson extends Error {}

/** A readable message for anything thrown or failed with. */
export const describeError = (error: unknown): string => {
  if (error instanceof Error) return error.message || error.name
  if (typeof error === "string") return error
  if (typeof error === "object" && error !== null) {
    const { _tag, message } = error as { _tag?: unknown; message?: unknown }
    if (typeof message === "string" && message !== "") return message
    if (typeof _tag === "string") return _tag
  }
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}
