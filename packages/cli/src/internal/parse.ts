import { Effect } from "effect"
import { CliError } from "../Errors.js"

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
}

const bad = (message: string) => new CliError({ message, exitCode: 2 })

/** `30d`, `12h`, `90m`, `45s`, `2w`, `500ms` (or a sum: `1d12h`) in milliseconds. */
export const duration = (flag: string, text: string): Effect.Effect<number, CliError> => {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)]
  const whole = parts.map((p) => p[0]).join("")
  if (parts.length === 0 || whole !== text.trim()) {
    return Effect.fail(
      bad(`--${flag} must be a duration like 30d, 12h or 90m (units ms, s, m, h, d, w), got ${JSON.stringify(text)}`)
    )
  }
  return Effect.succeed(parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]!]!, 0))
}

const DATE = /^\d{4}-\d{2}-\d{2}$/
const INSTANT = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/

/** An instant: a duration ago (`7d`), a date (`2026-01-31`, UTC midnight) or an ISO-8601 datetime with offset. */
export const instant = (flag: string, text: string, now: number): Effect.Effect<string, CliError> => {
  if (DATE.test(text) || INSTANT.test(text)) {
    const ms = Date.parse(DATE.test(text) ? `${text}T00:00:00Z` : text)
    if (!Number.isNaN(ms)) return Effect.succeed(new Date(ms).toISOString())
  }
  return duration(flag, text).pipe(
    Effect.map((ms) => new Date(now - ms).toISOString()),
    Effect.mapError(() =>
      bad(
        `--${flag} must be a duration ago (7d, 12h), a date (2026-01-31) or an ISO-8601 datetime ` +
          `(2026-01-31T12:00:00Z), got ${JSON.stringify(text)}`
      )
    )
  )
}

const BYTES: Record<string, number> = { "": 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }

/** `2GB`, `500MB`, `1.5gb`, `4096` in bytes (binary units: 1 KB = 1024 bytes). */
export const bytes = (flag: string, text: string): Effect.Effect<number, CliError> => {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?b?)$/i.exec(text.trim())
  const unit = m?.[2]?.toLowerCase()
  const normalized = unit === undefined ? undefined : unit.endsWith("b") || unit === "" ? unit : `${unit}b`
  if (m === null || normalized === undefined || BYTES[normalized] === undefined) {
    return Effect.fail(bad(`--${flag} must be a size like 2GB, 500MB or 4096 (bytes), got ${JSON.stringify(text)}`))
  }
  return Effect.succeed(Math.floor(Number(m[1]) * BYTES[normalized]!))
}
