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

/** `JSON.stringify` that refuses what JSON would silently mangle; throws `NotJson`. */
export const stringify = (value: unknown): string => {
  try {
    const text = JSON.stringify(value, check)
    if (text === undefined) throw new NotJson({ message: "the value has no JSON form" })
    return text
  } catch (e) {
    if (e instanceof NotJson) throw e
    throw new NotJson({ message: e instanceof Error ? e.message : String(e) })
  }
}
