import { Redacted } from "effect"

/** Replaces secrets in text that will be recorded. */
export type Scrub = (text: string) => string

/** The marker a secret is replaced with. */
export const REDACTED = "[redacted]"

/**
 * A scrubber for the given secrets (API keys): if a vendor or proxy echoes a key in a body or an error
 * message, the recorded copy carries `[redacted]` instead. Secrets shorter than 8 characters are ignored
 * (they would redact ordinary words).
 */
export const scrubber = (secrets: ReadonlyArray<Redacted.Redacted | undefined>): Scrub => {
  const values = secrets.flatMap((s) => (s === undefined ? [] : [Redacted.value(s)])).filter((v) => v.length >= 8)
  if (values.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const value of values) if (out.includes(value)) out = out.replaceAll(value, REDACTED)
    return out
  }
}
