import { Redacted } from "effect"

/** Replaces secrets in text that will be recorded. */
export type Scrub = (text: string) => string

/** The marker a secret is replaced with. */
export const REDACTED = "[redacted]"

/**
 * A scrubber for the given secrets (API keys, credential headers): if a vendor or proxy echoes one in a body
 * or an error message, the recorded copy carries `[redacted]` instead. Secrets shorter than 8 characters are
 * ignored (they would redact ordinary words).
 */
export const scrubber = (secrets: ReadonlyArray<Redacted.Redacted | string | undefined>): Scrub => {
  const values = [
    ...new Set(
      secrets.flatMap((s) => (s === undefined ? [] : [typeof s === "string" ? s : Redacted.value(s)]))
        .flatMap((v) => [v, v.replace(/^(bearer|basic|token)\s+/i, "")])
        .filter((v) => v.length >= 8)
    )
  ].sort((a, b) => b.length - a.length) // longest first, so a header value and its bare token both go
  if (values.length === 0) return (text) => text
  return (text) => {
    let out = text
    for (const value of values) if (out.includes(value)) out = out.replaceAll(value, REDACTED)
    return out
  }
}

/** Header names whose values are credentials (and so are scrubbed like the API key). */
const credentialHeader = /authorization|api[-_]?key|token|secret|cookie|password|session/i

/** The values of the headers in `headers` that carry credentials. */
export const credentialValues = (headers: Readonly<Record<string, string>>): ReadonlyArray<string> =>
  Object.entries(headers).filter(([name]) => credentialHeader.test(name)).map(([, value]) => value)
