/**
 * The reversible escape of what a column cannot hold. Postgres refuses U+0000 in TEXT (22021) and in JSONB
 * (22P05) and a lone surrogate in JSONB (22P02); both drivers silently turn a lone surrogate in TEXT into
 * U+FFFD. So every string written to a column (TEXT, and every key and string inside JSON) is escaped the same
 * way on both dialects, with U+0010 (DLE, "data link escape") as the escape character:
 *
 *   U+0010            → U+0010 U+0010
 *   U+0000            → U+0010 "0"
 *   a lone surrogate  → U+0010 "x" and its four lowercase hex digits (U+D800 → U+0010 "xd800")
 *
 * and unescaped on read. Strings without these characters (nearly all) are stored unchanged.
 */

/** The escape character. */
export const ESC = "\u0010"

// With the `u` flag a paired surrogate is one code point, so the class matches only lone surrogates. The control
// characters are the point of these expressions.
/* eslint-disable no-control-regex */
const NEEDS = /[\u0000\u0010\uD800-\uDFFF]/u
const EACH = /[\u0000\u0010]|[\uD800-\uDFFF]/gu

const escapeOne = (c: string): string =>
  c === "\u0000" ? `${ESC}0` : c === ESC ? `${ESC}${ESC}` : `${ESC}x${c.charCodeAt(0).toString(16)}`

/** A string as a column stores it: NUL, lone surrogates and the escape character escaped. */
export const escapeText = (s: string): string => (NEEDS.test(s) ? s.replace(EACH, escapeOne) : s)

const ESCAPED = /\u0010(?:\u0010|0|x(d[89a-f][0-9a-f]{2}))/g
/* eslint-enable no-control-regex */

/** The string a column's text stands for (the inverse of `escapeText`); other text passes through unchanged. */
export const unescapeText = (s: string): string =>
  s.indexOf(ESC) === -1
    ? s
    : s.replace(ESCAPED, (match, hex: string | undefined) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : match === `${ESC}0` ? "\u0000" : ESC)

// In `JSON.stringify` output, a backslash always starts an escape; `\\` is consumed first so that a literal
// backslash before "u0000" is never read as an escape. Stringify writes these three escapes in lowercase.
const JSON_ESCAPES = /\\(?:\\|u0000|u0010|u(d[89a-f][0-9a-f]{2}))/g

/**
 * JSON text from `JSON.stringify` with every string (keys included) escaped as `escapeText` would, done on the
 * text: the same as stringifying the value with each string escaped, without walking it.
 */
export const escapeJsonText = (json: string): string =>
  json.indexOf("\\u00") === -1 && json.indexOf("\\ud") === -1
    ? json
    : json.replace(JSON_ESCAPES, (match, hex: string | undefined) =>
      hex !== undefined
        ? `\\u0010x${hex}`
        : match === "\\u0000"
        ? "\\u00100"
        : match === "\\u0010"
        ? "\\u0010\\u0010"
        : match)

/** A parsed JSON value with every string and key unescaped; returns the same value when nothing was escaped. */
export const unescapeJson = (value: unknown): unknown => {
  if (typeof value === "string") return unescapeText(value)
  if (value === null || typeof value !== "object") return value
  if (Array.isArray(value)) {
    let out: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      const item = unescapeJson(value[i])
      if (item !== value[i]) (out ??= value.slice())[i] = item
    }
    return out ?? value
  }
  let changed = false
  const entries: Array<[string, unknown]> = []
  for (const [key, item] of Object.entries(value)) {
    const k = unescapeText(key)
    const v = unescapeJson(item)
    if (k !== key || v !== item) changed = true
    entries.push([k, v])
  }
  return changed ? Object.fromEntries(entries) : value
}

/** Whether JSON text (as stored, or as Postgres prints JSONB) holds an escaped string. */
export const jsonTextHasEscape = (json: string): boolean => json.indexOf("\\u0010") !== -1
