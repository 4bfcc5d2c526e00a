/**
 * Turning host values (tool results, errors, custom data) into the JSON the record holds, never throwing:
 * `undefined` becomes null, bigints strings, and what cannot be serialised (cycles, functions) a description.
 */
import type { HookEvent } from "@sextant/runtime"

/** A host value as JSON (a plain JSON value passes through unchanged). */
export const toJson = (value: unknown): HookEvent.Json => {
  if (value === undefined) return null
  try {
    const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v))
    return text === undefined ? null : (JSON.parse(text) as HookEvent.Json)
  } catch (error) {
    return `[unserialisable: ${error instanceof Error ? error.message : String(error)}]`
  }
}

/** An error as the record keeps it: its tag (or class name) and message. */
export const errorInfo = (error: unknown): { readonly tag: string; readonly message: string } => {
  if (typeof error === "object" && error !== null) {
    const e = error as { readonly _tag?: unknown; readonly name?: unknown; readonly message?: unknown }
    const tag = typeof e._tag === "string" ? e._tag : typeof e.name === "string" ? e.name : "Error"
    const message = typeof e.message === "string" ? e.message : String(error)
    return { tag, message }
  }
  return { tag: "Error", message: String(error) }
}
