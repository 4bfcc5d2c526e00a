/**
 * Column codecs that make both dialects yield identical values: timestamps (ISO TEXT on SQLite, `Date` from
 * TIMESTAMPTZ on Postgres) become RFC 3339 UTC strings; counts (numbers, or int8/numeric strings on
 * Postgres) become numbers; booleans (0/1 or true/false) become booleans; JSON columns are selected as text
 * on both dialects and parsed here.
 */
import { ParseResult, Schema } from "effect"

const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/**
 * A timestamp column, decoded to an RFC 3339 UTC string (`toISOString` form). The recorder's own SQLite text
 * is already in that form and passes through without a Date round trip (the hot path of every list).
 */
export const Time = Schema.transformOrFail(Schema.Union(Schema.String, Schema.DateFromSelf), Schema.String, {
  strict: true,
  decode: (value, _, ast) => {
    if (typeof value === "string" && CANONICAL.test(value)) return ParseResult.succeed(value)
    const date = typeof value === "string" ? new Date(value) : value
    return Number.isNaN(date.getTime())
      ? ParseResult.fail(new ParseResult.Type(ast, value, "not a valid timestamp"))
      : ParseResult.succeed(date.toISOString())
  },
  encode: ParseResult.succeed
})

/** A numeric column or aggregate. */
export const Num = Schema.Union(Schema.Number, Schema.NumberFromString)

/** A boolean column. */
export const Bool = Schema.Union(
  Schema.Boolean,
  Schema.transform(Schema.Literal(0, 1), Schema.Boolean, {
    strict: true,
    decode: (n) => n === 1,
    encode: (b) => (b ? 1 : 0)
  })
)

/** A JSON column selected as text. */
export const JsonText = Schema.parseJson()

/** Nullable variants. */
export const NullTime = Schema.NullOr(Time)
export const NullNum = Schema.NullOr(Num)
export const NullBool = Schema.NullOr(Bool)
export const NullJson = Schema.NullOr(JsonText)
export const NullStr = Schema.NullOr(Schema.String)
