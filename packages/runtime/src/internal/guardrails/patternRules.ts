import type { Finding } from "../../Guardrails.js"

/** A span of text, `end` exclusive. */
export interface Span {
  readonly start: number
  readonly end: number
}

/**
 * One regex-driven detector. The regex must carry the `g` flag; when it has a named group `v` (and the `d`
 * flag), the finding is that group's span rather than the whole match (the key of a `key=value` pair stays).
 * `accept` validates the matched value (checksums, ranges) and may narrow the span; `false` rejects it.
 */
export interface PatternRule {
  readonly type: string
  readonly regex: RegExp
  readonly accept?: (value: string, start: number) => boolean | Span | undefined
}

/** Every accepted match of every rule, in rule order (overlaps are resolved later, by the scanner). */
export const findAll = (rules: ReadonlyArray<PatternRule>, text: string): Array<Finding> => {
  const findings: Array<Finding> = []
  for (const rule of rules) {
    const regex = rule.regex
    regex.lastIndex = 0
    let match: RegExpExecArray | null
    while ((match = regex.exec(text)) !== null) {
      const group = match.indices?.groups?.["v"]
      const start = group ? group[0] : match.index
      const end = group ? group[1] : match.index + match[0].length
      const verdict = rule.accept ? rule.accept(text.slice(start, end), start) : true
      if (verdict === false || verdict === undefined) {
        regex.lastIndex = match.index + 1
        continue
      }
      const span = verdict === true ? { start, end } : verdict
      findings.push({ type: rule.type, start: span.start, end: span.end })
      regex.lastIndex = Math.max(span.end, match.index + 1)
    }
  }
  return findings
}
