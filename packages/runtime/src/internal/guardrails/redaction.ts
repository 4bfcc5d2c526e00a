import type { Finding, Redactions } from "../../Guardrails.js"

/**
 * Drops findings whose span is not inside the text, then resolves overlaps: the longer finding wins, ties go
 * to the earlier start, then to the one reported first. The result is sorted by position.
 */
export const resolveOverlaps = (findings: ReadonlyArray<Finding>, textLength: number): Array<Finding> => {
  const valid = findings
    .map((finding, order) => ({ finding, order }))
    .filter(({ finding: { end, start } }) =>
      Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= textLength && start < end
    )
    .sort((a, b) =>
      (b.finding.end - b.finding.start) - (a.finding.end - a.finding.start) ||
      a.finding.start - b.finding.start ||
      a.order - b.order
    )
  const kept: Array<Finding> = []
  for (const { finding } of valid) {
    if (kept.every((k) => finding.end <= k.start || finding.start >= k.end)) kept.push(finding)
  }
  return kept.sort((a, b) => a.start - b.start)
}

/** Entity types with their counts, sorted by type: what detections report instead of values. */
export const countByType = (
  findings: ReadonlyArray<Finding>
): Array<{ readonly type: string; readonly count: number }> => {
  const counts = new Map<string, number>()
  for (const { type } of findings) counts.set(type, (counts.get(type) ?? 0) + 1)
  return [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([type, count]) => ({ type, count }))
}

/** The placeholder spelling of an entity type: upper case, runs of other characters as `_`. */
const placeholderType = (type: string): string =>
  type.toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_+|_+$/g, "") || "REDACTED"

/**
 * Replaces each finding (sorted, non-overlapping) by its placeholder. A value already in the mapping keeps its
 * placeholder; a new one takes the next number of its type, skipping numbers that are taken or that appear
 * literally in the text (so restoring never rewrites text the user typed).
 */
export const redact = (
  text: string,
  findings: ReadonlyArray<Finding>,
  redactions: Redactions
): { readonly text: string; readonly redactions: Redactions } => {
  const byPlaceholder: Record<string, string> = { ...redactions.byPlaceholder }
  const counters: Record<string, number> = { ...redactions.counters }
  const byValue = new Map<string, string>()
  for (const [placeholder, value] of Object.entries(byPlaceholder)) byValue.set(value, placeholder)
  let out = ""
  let cursor = 0
  for (const { end, start, type } of findings) {
    const value = text.slice(start, end)
    let placeholder = byValue.get(value)
    if (placeholder === undefined) {
      const prefix = placeholderType(type)
      let n = counters[prefix] ?? 0
      do {
        n++
        placeholder = `<<${prefix}_${n}>>`
      } while (Object.hasOwn(byPlaceholder, placeholder) || text.includes(placeholder))
      counters[prefix] = n
      byPlaceholder[placeholder] = value
      byValue.set(value, placeholder)
    }
    out += text.slice(cursor, start) + placeholder
    cursor = end
  }
  return { text: out + text.slice(cursor), redactions: { byPlaceholder, counters } }
}

/** Placeholder-shaped tokens: `<<` upper-case letters, digits and `_`, then `_N>>`. */
const placeholderToken = /<<[A-Z0-9_]+_\d+>>/g

/** Replaces the known placeholders in one string (in a single pass, so restored values are not rescanned). */
export const restoreString = (text: string, byPlaceholder: Readonly<Record<string, string>>): string =>
  text.includes("<<")
    ? text.replace(placeholderToken, (token) => Object.hasOwn(byPlaceholder, token) ? byPlaceholder[token]! : token)
    : text

/** Restores strings inside arrays and plain objects (keys included); other values are returned as they are. */
export const restoreDeep = (value: unknown, byPlaceholder: Readonly<Record<string, string>>): unknown => {
  if (typeof value === "string") return restoreString(value, byPlaceholder)
  if (Array.isArray(value)) return value.map((item) => restoreDeep(item, byPlaceholder))
  if (typeof value === "object" && value !== null) {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) return value
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [restoreString(k, byPlaceholder), restoreDeep(v, byPlaceholder)])
    )
  }
  return value
}

/** The placeholder-shaped tokens in a string that the mapping does not know, each once, in order. */
export const unknownPlaceholderTokens = (
  text: string,
  byPlaceholder: Readonly<Record<string, string>>
): Array<string> => [...new Set(text.match(placeholderToken) ?? [])].filter((t) => !Object.hasOwn(byPlaceholder, t))
