import { Either } from "effect"
import type { Json } from "../HookEvent.js"

/** Where a value stops being JSON, and what was found there (`a bigint`, `NaN`, `a Map`…). */
export interface NotJson {
  readonly path: ReadonlyArray<string | number>
  readonly found: string
}

/** A marker standing in for a value JSON cannot hold (`[bigint 12]`), so a lossy copy stays readable. */
type Replace = (problem: NotJson, marker: string) => Json

class Stop extends Error {
  constructor(readonly problem: NotJson) {
    super(problem.found)
  }
}

const strict: Replace = (problem) => {
  throw new Stop(problem)
}
const lossy: Replace = (_, marker) => marker

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * Walks a value into JSON data. `toJSON` is honoured (Dates become ISO strings); `undefined` object fields are
 * dropped and `undefined` array items become null, as `JSON.stringify` does. Everything else JSON would
 * silently mangle (functions, symbols, bigints, non-finite numbers, cycles, class instances such as Map, a
 * getter or `toJSON` that throws) goes to `replace`. One walker per walk, its steps methods (no closures made
 * per walk: it runs on every tool result and model payload).
 */
class Walker {
  readonly seen = new Set<object>()
  /**
   * The path of the value being visited, as a stack (keys pushed and popped): copied only when a problem is
   * reported, so a walk allocates nothing per value for it. No `finally` is needed for the pops: what escapes
   * a visit (a strict walk's stop) ends the whole walk.
   */
  readonly path: Array<string | number> = []
  constructor(readonly replace: Replace) {}

  unreadable(error: unknown): Json {
    return this.replace(
      { path: [...this.path], found: `unreadable (${describe(error)})` },
      `[unreadable: ${describe(error)}]`
    )
  }

  problem(found: string, marker: string): Json {
    return this.replace({ path: [...this.path], found }, marker)
  }

  visit(v: unknown, viaToJson = false): Json {
    if (v === null || typeof v === "string" || typeof v === "boolean") return v
    if (v === undefined) return null
    if (typeof v === "number") return Number.isFinite(v) ? v : this.problem(String(v), `[number ${v}]`)
    if (typeof v === "bigint") return this.problem("a bigint", `[bigint ${v}]`)
    if (typeof v === "function") return this.problem("a function", `[function ${v.name}]`)
    if (typeof v !== "object") return this.problem(`a ${typeof v}`, `[${typeof v}]`)
    const toJSON = (v as { toJSON?: unknown }).toJSON
    // As JSON.stringify does, `toJSON` is called once: its result is not asked again.
    if (!viaToJson && typeof toJSON === "function") {
      let converted: unknown
      try {
        converted = toJSON.call(v)
      } catch (error) {
        return this.unreadable(error)
      }
      return this.visit(converted, true)
    }
    if (this.seen.has(v)) return this.problem("a circular reference", "[circular]")
    this.seen.add(v)
    try {
      return Array.isArray(v) ? this.visitArray(v) : this.visitRecord(v)
    } finally {
      this.seen.delete(v)
    }
  }

  visitArray(v: ReadonlyArray<unknown>): Json {
    const out: Array<Json> = []
    const path = this.path
    for (let i = 0; i < v.length; i++) {
      path.push(i)
      let item: unknown
      try {
        item = v[i]
      } catch (error) {
        out.push(this.unreadable(error))
        path.pop()
        continue
      }
      out.push(this.visit(item))
      path.pop()
    }
    return out
  }

  visitRecord(v: object): Json {
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto as { constructor?: { name?: string } })?.constructor?.name || "non-plain object"
      return this.problem(`a ${name}`, `[${name}]`)
    }
    const out: Record<string, Json> = {}
    const path = this.path
    for (const key of Object.keys(v)) {
      path.push(key)
      let item: unknown
      try {
        item = (v as Record<string, unknown>)[key]
      } catch (error) {
        out[key] = this.unreadable(error)
        path.pop()
        continue
      }
      if (item !== undefined) out[key] = this.visit(item)
      path.pop()
    }
    return out
  }
}

const walk = (value: unknown, replace: Replace): Json => {
  const walker = new Walker(replace)
  try {
    return walker.visit(value)
  } catch (error) {
    if (error instanceof Stop) throw error
    // A Proxy whose traps throw while its prototype or keys are read.
    walker.path.length = 0
    return walker.unreadable(error)
  }
}

/** Converts a value to JSON data, or says where it stops being JSON and what was found there. */
export const toJsonAt = (value: unknown): Either.Either<Json, NotJson> => {
  try {
    return Either.right(walk(value, strict))
  } catch (error) {
    if (error instanceof Stop) return Either.left(error.problem)
    return Either.left({ path: [], found: `unreadable (${describe(error)})` })
  }
}

/** A JSON path as `$.a[0].b`. */
export const jsonPath = (path: ReadonlyArray<string | number>): string =>
  path.reduce<string>((out, key) => (typeof key === "number" ? `${out}[${key}]` : `${out}.${key}`), "$")

/** Converts a value to JSON data, or explains why it cannot be (`not JSON-serialisable: $.n is a bigint`). */
export const toJson = (value: unknown): Either.Either<Json, string> =>
  Either.mapLeft(toJsonAt(value), (p) => `not JSON-serialisable: ${jsonPath(p.path)} is ${p.found}`)

/**
 * A JSON copy of any value, with what JSON cannot hold replaced by a marked string (`[bigint 12]`,
 * `[circular]`, `[Map]`, `[number NaN]`): for payloads the run records but never interprets.
 */
export const toJsonLossy = (value: unknown): Json => walk(value, lossy)

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
