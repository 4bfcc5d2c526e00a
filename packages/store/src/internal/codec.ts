/**
 * Column codecs that make both dialects yield identical values: timestamps (ISO TEXT on SQLite, `Date` from
 * TIMESTAMPTZ on Postgres) become RFC 3339 UTC strings; counts (numbers, or int8/numeric strings on
 * Postgres) become numbers; booleans (0/1 or true/false) become booleans; JSON columns are selected as text
 * on both dialects and parsed here.
 */
import { Schema } from "effect"

/** A timestamp column, decoded to an RFC 3339 UTC string. */
export const Time = Schema.transform(Schema.Union(Schema.ValidDateFromSelf, Schema.Date), Schema.String, {
  strict: true,
  decode: (d) => d.toISOString(),
  encode: (s) => new Date(s)
})

/** A numeric column or aggregate. */
export const Num = Schema.Union(Schema.Number, Schema.NumberFromString)

/** A boolean column. */
export const Bool = Schema.Union(
  Schema.Boolean,
  Schema.transform(Schema.Literal(0, 1), Schema.Boolean, { strict: true, decode: (n) => n === 1, encode: (b) => (b ? 1 : 0) })
)

/** A JSON column selected as text. */
export const JsonText = Schema.parseJson()

/** Nullable variants. */
export const NullTime = Schema.NullOr(Time)
export const NullNum = Schema.NullOr(Num)
export const NullBool = Schema.NullOr(Bool)
export const NullJson = Schema.NullOr(JsonText)
export const NullStr = Schema.NullOr(Schema.String)
