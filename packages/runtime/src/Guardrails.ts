/**
 * Guardrails: detectors run over text at the model boundary, and the reversible redaction they drive.
 *
 * A guardrail is a name, an action and a pure `detect` function returning typed spans. `scan` runs guardrails
 * in order over progressively redacted text: `redact` findings become `<<TYPE_N>>` placeholders recorded in a
 * JSON-serialisable {@link Redactions} mapping (stored with a paused run so numbering continues after a
 * resume), `block` stops the scan, `warn` only reports. Detections and block reasons carry entity types and
 * counts, never matched values. `restore` puts real values back into tool arguments and the caller's answer.
 *
 * Detectors are regular expressions anchored at word/number boundaries (linear on long inputs) and validated
 * where a checksum or range exists (Luhn, IBAN mod 97, SSN ranges, JWT header). There is deliberately no
 * "any long alphanumeric run" rule: it would destroy ids and hashes.
 */
import { Schema } from "effect"
import { AgentConfigError } from "./Errors.js"
import { defaultInjectionPatterns } from "./internal/guardrails/injectionPatterns.js"
import { findAll, type PatternRule } from "./internal/guardrails/patternRules.js"
import { piiRules } from "./internal/guardrails/piiRules.js"
import {
  countByType,
  redact,
  resolveOverlaps,
  restoreDeep,
  unknownPlaceholderTokens
} from "./internal/guardrails/redaction.js"
import { secretRules } from "./internal/guardrails/secretRules.js"

/** What a guardrail does with its findings: replace them by placeholders, stop the run, or only report. */
export type GuardrailAction = "redact" | "block" | "warn"

/** A detected span of text (`end` exclusive) and its entity type, e.g. `EMAIL`, `JWT`, `PROMPT_INJECTION`. */
export interface Finding {
  readonly type: string
  readonly start: number
  readonly end: number
}

/** A named detector with the action taken on what it finds. */
export interface Guardrail {
  readonly name: string
  readonly action: GuardrailAction
  readonly detect: (text: string) => ReadonlyArray<Finding>
}

/** The PII entity types `PII` detects, in the order it runs them. */
export const piiEntities: ReadonlyArray<string> = Object.keys(piiRules)

/** A detector from pattern rules: their findings without duplicates or overlaps (the longer wins). */
const detectWith = (rules: ReadonlyArray<PatternRule>) => (text: string): ReadonlyArray<Finding> =>
  resolveOverlaps(findAll(rules, text), text.length)

/**
 * Personal data: `EMAIL`, `PHONE` (international `+…` and separated North American forms), `IBAN` (mod 97),
 * `CREDIT_CARD` (issuer prefix and Luhn), `US_SSN` (issuable ranges) and `IP_ADDRESS` (IPv4, IPv6).
 * Defaults to `redact`; `entities` narrows the types (an unknown type name throws `AgentConfigError` at
 * definition time).
 */
export const PII = (
  options?: { readonly action?: GuardrailAction; readonly entities?: ReadonlyArray<string> }
): Guardrail => {
  const entities = options?.entities ?? piiEntities
  const unknown = entities.filter((e) => !piiEntities.includes(e))
  if (unknown.length > 0) {
    throw new AgentConfigError({
      field: "PII.entities",
      message: `PII.entities: unknown entity type ${unknown.join(", ")} (known: ${piiEntities.join(", ")})`
    })
  }
  const rules = piiEntities.filter((e) => entities.includes(e)).flatMap((e) => piiRules[e] ?? [])
  return { name: "PII", action: options?.action ?? "redact", detect: detectWith(rules) }
}

/**
 * Credentials: `AWS_ACCESS_KEY`, `AWS_SECRET_KEY` (after an `aws_secret_access_key`-style key), `API_KEY`
 * (vendor prefixes such as `sk-`, `sk-ant-`, `ghp_`, `xoxb-`, `AIza`, and values after `api_key=`-style keys),
 * `BEARER_TOKEN`, `PRIVATE_KEY` (PEM blocks) and `JWT`. Defaults to `block`.
 */
export const SecretDetection = (options?: { readonly action?: GuardrailAction }): Guardrail => ({
  name: "SecretDetection",
  action: options?.action ?? "block",
  detect: detectWith(secretRules)
})

/** A prompt-injection pattern: a string is compiled case-insensitively, a RegExp keeps its own flags. */
export interface InjectionPattern {
  readonly name: string
  readonly pattern: RegExp | string
}

/** The default prompt-injection patterns (data; pass your own list, or extend this one, to `PromptInjection`). */
export const defaultPromptInjectionPatterns: ReadonlyArray<InjectionPattern> = defaultInjectionPatterns

/**
 * Prompt-injection attempts, reported as `PROMPT_INJECTION` findings. The patterns default to
 * {@link defaultPromptInjectionPatterns}; `patterns` replaces them. Defaults to `block`.
 */
export const PromptInjection = (
  options?: { readonly action?: GuardrailAction; readonly patterns?: ReadonlyArray<InjectionPattern> }
): Guardrail => {
  const rules: ReadonlyArray<PatternRule> = (options?.patterns ?? defaultInjectionPatterns).map(({ pattern }) => ({
    type: "PROMPT_INJECTION",
    regex: typeof pattern === "string"
      ? new RegExp(pattern, "gi")
      : new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g")
  }))
  return { name: "PromptInjection", action: options?.action ?? "block", detect: detectWith(rules) }
}

/** A guardrail from your own detector. Finding types become placeholder prefixes (upper-cased, `_` for others). */
export const custom = (
  name: string,
  action: GuardrailAction,
  detect: (text: string) => ReadonlyArray<Finding>
): Guardrail => ({ name, action, detect })

/** Reversible placeholder mapping, JSON-serialisable (it is stored with a paused run). */
export const Redactions = Schema.Struct({
  byPlaceholder: Schema.Record({ key: Schema.String, value: Schema.String }),
  counters: Schema.Record({ key: Schema.String, value: Schema.NonNegativeInt })
}).annotations({ identifier: "Redactions" })
/** Reversible placeholder mapping: placeholder → real value, and the last number used per entity type. */
export interface Redactions extends Schema.Schema.Type<typeof Redactions> {}

/** The mapping of a run that has redacted nothing yet. */
export const emptyRedactions: Redactions = { byPlaceholder: {}, counters: {} }

/** Entity types and how many of each were found: what is reported instead of the values. */
export type EntityCounts = ReadonlyArray<{ readonly type: string; readonly count: number }>

/** What `scan` found and did. */
export interface ScanResult {
  /** The text with redact-action findings replaced by placeholders. */
  readonly text: string
  /** The mapping, extended with this scan's new placeholders. */
  readonly redactions: Redactions
  /** Per guardrail that found something, in order: its action and the entity types with counts. */
  readonly detections: ReadonlyArray<
    { readonly guardrail: string; readonly action: GuardrailAction; readonly entities: EntityCounts }
  >
  /** Present when a block-action guardrail found something; the reason names the guardrail and the types. */
  readonly blocked?: { readonly guardrail: string; readonly entities: EntityCounts; readonly reason: string }
}

/**
 * Scans text with guardrails in order. Redact-action findings are replaced by `<<TYPE_N>>` placeholders (same
 * value → same placeholder within a run; counters per type from 1; overlapping findings: the longer wins), so
 * later guardrails see the redacted text; a block-action finding stops the scan and reports it; warn only
 * reports. Findings outside the text are ignored. A detector that throws propagates its exception.
 */
export const scan = (guardrails: ReadonlyArray<Guardrail>, text: string, redactions: Redactions): ScanResult => {
  let current = text
  let mapping = redactions
  const detections: Array<ScanResult["detections"][number]> = []
  for (const guardrail of guardrails) {
    const findings = resolveOverlaps(guardrail.detect(current), current.length)
    if (findings.length === 0) continue
    const entities = countByType(findings)
    detections.push({ guardrail: guardrail.name, action: guardrail.action, entities })
    if (guardrail.action === "block") {
      const types = entities.map((e) => `${e.type} (${e.count})`).join(", ")
      const reason = `Guardrail '${guardrail.name}' blocked: ${types} detected`
      const blocked = { guardrail: guardrail.name, entities, reason }
      return { text: current, redactions: mapping, detections, blocked }
    }
    if (guardrail.action === "redact") {
      const redacted = redact(current, findings, mapping)
      current = redacted.text
      mapping = redacted.redactions
    }
  }
  return { text: current, redactions: mapping, detections }
}

/**
 * Replaces known placeholders by their real values in a string, or deeply in a JSON value (array items,
 * object values and keys), for tool arguments and the caller's answer. Unknown placeholder-shaped tokens are
 * left as they are; non-plain objects are returned untouched.
 */
export const restore = <A>(value: A, redactions: Redactions): A =>
  Object.keys(redactions.byPlaceholder).length === 0 ? value : restoreDeep(value, redactions.byPlaceholder) as A

/** Placeholder-shaped tokens in a text that the mapping cannot restore (e.g. invented by the model), each once. */
export const unknownPlaceholders = (text: string, redactions: Redactions): ReadonlyArray<string> =>
  unknownPlaceholderTokens(text, redactions.byPlaceholder)
