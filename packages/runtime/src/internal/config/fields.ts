/**
 * Building blocks of the boundary Schemas (agent configuration, run options): every check carries the
 * message a caller reads, and a decode error becomes the field's path plus a message that names it.
 */
import { Duration, Either, ParseResult, Schema } from "effect"

/** A short, safe rendering of a rejected value for an error message. */
export const show = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u.length > 80 ? `${u.slice(0, 80)}…` : u)
  if (typeof u === "bigint") return `${u}n`
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  if (typeof u === "object") return "an object"
  if (typeof u === "function") return "a function"
  return String(u)
}

/** Gives a schema one message for every way it can fail (its base type included). */
export const explained = <S extends Schema.Schema.Any>(schema: S, say: (actual: unknown) => string): S =>
  schema.annotations({ message: (issue) => ({ message: say(issue.actual), override: true }) }) as S

/** A required field with the same message when it is missing as when it is wrong. */
export const required = <S extends Schema.Schema.All>(schema: S, say: (actual: unknown) => string) =>
  Schema.propertySignature(schema).annotations({ missingMessage: () => say(undefined) })

/** An optional field (`undefined` is the same as absent). */
export const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optional(schema)

/** Whether a string holds a NUL character, which no database text column stores. */
export const hasNul = (s: string): boolean => s.includes("\u0000")

/** A NUL character, as error messages spell it. */
export const NUL = "a NUL character (\\u0000)"

/** A positive duration (anything `Duration.decode` reads: `"10 seconds"`, millis, a Duration). */
export const PositiveDuration = explained(
  Schema.declare((u): u is Duration.DurationInput => {
    const d = Duration.decodeUnknown(u)
    return d._tag === "Some" && Duration.greaterThan(d.value, Duration.zero)
  }),
  (u) => `must be a positive duration (e.g. "10 seconds"), got ${show(u)}`
)

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`),
    ""
  )

/** The first problem of a decode error: the field's path and a message that starts with it. */
export const firstIssue = (error: ParseResult.ParseError, root: string): { field: string; message: string } => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const field = issue === undefined || issue.path.length === 0 ? root : formatPath(issue.path)
  return { field, message: `${field}: ${issue?.message ?? "is invalid"}` }
}

/**
 * Decodes a caller's value, turning the first problem into `fail(field, message)`. A getter or Proxy that
 * throws while the value is read is a problem of the value, not a crash.
 */
export const decodeWith = <A, I, E>(
  schema: Schema.Schema<A, I>,
  root: string,
  fail: (field: string, message: string) => E
): (value: unknown) => Either.Either<A, E> => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })
  return (value) => {
    try {
      return Either.mapLeft(decode(value), (error) => {
        const { field, message } = firstIssue(error, root)
        return fail(field, message)
      })
    } catch (error) {
      return Either.left(fail(root, `${root}: could not be read (${error instanceof Error ? error.message : error})`))
    }
  }
}
