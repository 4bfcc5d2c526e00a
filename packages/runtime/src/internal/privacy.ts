/**
 * The run's redaction pass, owned by the bus: every event and delta goes through it before the recorder, a
 * notifier, the caller's stream or OTel sees it, so a new event kind or sink is covered without a call of its
 * own. It (1) replaces every value already in the run's mapping by its placeholder wherever it reappears (a tool
 * echoing a secret it was given, a reviewer quoting an email) and (2) runs the redact and block guardrails over
 * every content string as redactors (prompt-injection findings are not content to hide). Streamed text is held
 * back a little so an entity split across deltas is never sent half raw; the rest is released on the call's
 * `llm.completed`/`llm.failed`. The raw mapping itself only lives in the run's memory and its pause state.
 */
import * as Guardrails from "../Guardrails.js"
import type { HookEvent } from "../HookEvent.js"
import type { StreamDelta, TextDelta, ToolArgumentsDelta } from "../StreamEvent.js"
import type { Sink } from "./bus.js"
import type { RunState } from "./runState.js"

/** What the bus applies to events and deltas before any consumer. */
export interface Policy {
  /** The sanitised event (a `run.paused` keeps its execution state, which only the recorder stores). */
  readonly event: (event: HookEvent) => HookEvent
  /** The deltas that may be sent now (text that could still become an entity is held back). */
  readonly delta: (delta: StreamDelta) => ReadonlyArray<StreamDelta>
  /** The held-back text of a model call, released when the call ends. */
  readonly flush: (correlationId: string) => ReadonlyArray<StreamDelta>
}

/** Where the policy reads and extends the run's placeholder mapping. */
export interface MappingSource {
  readonly guardrails: ReadonlyArray<Guardrails.Guardrail>
  readonly get: () => Guardrails.Redactions
  readonly set: (redactions: Guardrails.Redactions) => void
}

/** Fields holding ids, names and enumerations: never content, never rewritten. */
export const structural: ReadonlySet<string> = new Set([
  "_tag",
  "runId",
  "sequenceIndex",
  "iteration",
  "timestamp",
  "correlationId",
  "toolName",
  "toolCallId",
  "providerCallId",
  "callId",
  "id",
  "name",
  "tag",
  "provider",
  "model",
  "responseModel",
  "responseId",
  "status",
  "resumedFrom",
  "finishReason",
  "failureReason",
  "target",
  "direction",
  "action",
  "guardrail",
  "agentName",
  "tenantId",
  "parentRunId",
  "retryOfRunId",
  "idempotencyKey",
  "idempotencyFingerprint",
  "kind",
  "type",
  "redacted"
])

/** Fields holding a whole JSON value of content: below them, no key is structural. */
export const contentFields: ReadonlySet<string> = new Set([
  "arguments",
  "result",
  "data",
  "value",
  "submission",
  "output",
  "metadata",
  "providerRequest",
  "providerResponse",
  "samples"
])

/** How many characters of streamed text stay unsent until more arrives or the call ends. */
export const holdBack = 96

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

const matchers = new WeakMap<Guardrails.Redactions, { readonly regex: RegExp; readonly byValue: Map<string, string> }>()

/** A regular expression of every mapped value (longest first) and the placeholder of each, per mapping. */
const matcherOf = (redactions: Guardrails.Redactions) => {
  let m = matchers.get(redactions)
  if (m === undefined) {
    const byValue = new Map<string, string>()
    for (const [placeholder, value] of Object.entries(redactions.byPlaceholder)) {
      if (value !== "") byValue.set(value, placeholder)
    }
    const values = [...byValue.keys()].sort((a, b) => b.length - a.length)
    m = { regex: new RegExp(values.length === 0 ? "(?!)" : values.map(escape).join("|"), "g"), byValue }
    matchers.set(redactions, m)
  }
  return m
}

/** Replaces every value of the mapping that reappears in `text` by its placeholder. */
export const reapply = (text: string, redactions: Guardrails.Redactions): string => {
  const { byValue, regex } = matcherOf(redactions)
  if (byValue.size === 0) return text
  regex.lastIndex = 0
  return regex.test(text) ? text.replace(regex, (value) => byValue.get(value) ?? value) : text
}

/** The guardrails the bus redacts with: redact and block ones, all as redactors, prompt injection left out. */
const redactors = (guardrails: ReadonlyArray<Guardrails.Guardrail>): ReadonlyArray<Guardrails.Guardrail> =>
  guardrails.filter((g) => g.action !== "warn").map((g) => ({
    name: g.name,
    action: "redact" as const,
    detect: (text: string) => g.detect(text).filter((f) => f.type !== "PROMPT_INJECTION")
  }))

/** Makes the policy of a run whose mapping `source` holds. */
export const makePolicy = (source: MappingSource): Policy => {
  const guards = redactors(source.guardrails)
  // Strings already seen clean under the current mapping (cleared when it grows): the history repeats.
  let clean = new Set<string>()
  let cleanFor = source.get()
  // What this event's pass replaced, per source (`mapped`: a value already in the mapping; else the guardrail).
  let counts: Map<string, number> | undefined
  const bump = (name: string, n: number) => {
    if (counts !== undefined && n > 0) counts.set(name, (counts.get(name) ?? 0) + n)
  }
  const text = (
    value: string,
    redactions: Guardrails.Redactions
  ): { text: string; redactions: Guardrails.Redactions } => {
    let replaced = value
    if (counts === undefined) replaced = reapply(value, redactions)
    else {
      const { byValue, regex } = matcherOf(redactions)
      if (byValue.size > 0) {
        regex.lastIndex = 0
        if (regex.test(value)) {
          replaced = value.replace(regex, (v) => {
            bump("mapped", 1)
            return byValue.get(v) ?? v
          })
        }
      }
    }
    if (guards.length === 0) return { text: replaced, redactions }
    const result = Guardrails.scan(guards, replaced, redactions)
    if (counts !== undefined) {
      for (const d of result.detections) bump(d.guardrail, d.entities.reduce((n, e) => n + e.count, 0))
    }
    return { text: result.text, redactions: result.redactions }
  }
  const keyed = (key: string | undefined, value: string): string => {
    let mapping = source.get()
    if (mapping !== cleanFor) {
      clean = new Set()
      cleanFor = mapping
    }
    if (clean.has(value)) return value
    let out: string
    if (key === undefined) {
      const r = text(value, mapping)
      out = r.text
      mapping = r.redactions
    } else {
      // Under its key, as the entry scan does, so that key-dependent detectors see the key.
      const r = text(JSON.stringify({ [key]: value }), mapping)
      mapping = r.redactions
      try {
        const parsed = (JSON.parse(r.text) as Record<string, unknown>)[key]
        out = typeof parsed === "string" ? parsed : r.text
      } catch {
        out = r.text
      }
    }
    if (mapping !== source.get()) source.set(mapping)
    if (out === value && mapping === cleanFor && clean.size < 10_000) clean.add(value)
    return out
  }
  // Inside content (a tool's arguments or result, custom data…) every string is content, whatever its key.
  const visit = (value: unknown, key: string | undefined, inContent = false): unknown => {
    if (typeof value === "string") {
      return !inContent && key !== undefined && structural.has(key) ? value : keyed(key, value)
    }
    if (Array.isArray(value)) {
      let changed = false
      const out = value.map((item) => {
        const v = visit(item, undefined, inContent)
        if (v !== item) changed = true
        return v
      })
      return changed ? out : value
    }
    if (value !== null && typeof value === "object") {
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return value
      let changed = false
      const out: Record<string, unknown> = {}
      for (const [k, item] of Object.entries(value)) {
        const v = visit(item, k, inContent || contentFields.has(k))
        if (v !== item) changed = true
        out[k] = v
      }
      return changed ? out : value
    }
    return value
  }
  // Streamed text per model call (and per tool-argument index): what arrived raw, how much was sent.
  const streams = new Map<string, { raw: string; sent: number; last: TextDelta | ToolArgumentsDelta }>()
  const keyOf = (d: TextDelta | ToolArgumentsDelta) =>
    d._tag === "TextDelta" ? `${d.correlationId}\u0000text` : `${d.correlationId}\u0000${d.index}`
  const sanitizedStream = (raw: string) => text(raw, source.get()).text
  const piece = (template: TextDelta | ToolArgumentsDelta, delta: string): StreamDelta => ({ ...template, delta })
  return {
    event: (event) => {
      counts = new Map()
      try {
        const withCounts = (e: object): object =>
          counts!.size === 0 ? e : { ...e, redacted: Object.fromEntries(counts!) }
        if (event._tag === "RunPaused" && event.state !== undefined) {
          const { state, ...rest } = event
          return { ...withCounts(visit(rest, undefined) as object), state } as HookEvent
        }
        return withCounts(visit(event, undefined) as object) as HookEvent
      } finally {
        counts = undefined
      }
    },
    delta: (d) => {
      // A tool stream's chunk is scanned as a value (binary frames pass as they are); its start has no content.
      if (d._tag === "StreamStarted") return [d]
      if (d._tag === "StreamChunk") {
        return [d.data instanceof Uint8Array ? d : { ...d, data: visit(d.data, undefined, true) as typeof d.data }]
      }
      const key = keyOf(d)
      const entry = streams.get(key) ?? { raw: "", sent: 0, last: d }
      entry.raw += d.delta
      entry.last = d
      streams.set(key, entry)
      const out = sanitizedStream(entry.raw)
      let end = Math.max(entry.sent, out.length - holdBack)
      // Never cut inside a placeholder, nor release an unterminated PEM block.
      const open = out.lastIndexOf("<<", end)
      const close = open < 0 ? -1 : out.indexOf(">>", open)
      if (open >= entry.sent && open < end && (close < 0 || close + 2 > end)) end = open
      const pem = out.indexOf("-----BEGIN", entry.sent)
      if (pem >= 0 && pem < end && out.indexOf("-----END", pem) < 0) end = pem
      if (end <= entry.sent) return []
      const released = out.slice(entry.sent, end)
      entry.sent = end
      return [piece(d, released)]
    },
    flush: (correlationId) => {
      const out: Array<StreamDelta> = []
      for (const [key, entry] of streams) {
        if (!key.startsWith(`${correlationId}\u0000`)) continue
        streams.delete(key)
        const rest = sanitizedStream(entry.raw).slice(entry.sent)
        if (rest !== "") out.push(piece(entry.last, rest))
      }
      return out
    }
  }
}

/** A run's state, set once the bus that needs it exists (the state holds the bus). */
export interface StateCell {
  state: RunState | undefined
}

/** The policy of a run with guardrails (none without: the bus then passes events on untouched). */
export const policyFor = (
  guardrails: ReadonlyArray<Guardrails.Guardrail>,
  cell: StateCell,
  initial: Guardrails.Redactions
): Policy | undefined =>
  guardrails.length === 0 ? undefined : makePolicy({
    guardrails,
    get: () => cell.state?.redactions ?? initial,
    set: (redactions) => {
      if (cell.state !== undefined) cell.state.redactions = redactions
    }
  })

/**
 * The caller's stream gets what every sink gets, except that the terminal answer and structured output, and a
 * pause's pending calls, are de-anonymised, as the non-streaming result is (the caller sent those values; the
 * record and the notifiers keep placeholders).
 */
export const forCaller = (stream: Sink | undefined, cell: StateCell): Sink | undefined =>
  stream === undefined ? undefined : (event, traceContext) => {
    const state = cell.state
    if (state === undefined || (event._tag !== "RunCompleted" && event._tag !== "RunPaused")) {
      return stream(event, traceContext)
    }
    if (event._tag === "RunCompleted") {
      return stream({
        ...event,
        ...(event.answer === undefined ? {} : { answer: Guardrails.restore(event.answer, state.redactions) }),
        ...(event.output === undefined ? {} : { output: Guardrails.restore(event.output, state.redactions) })
      }, traceContext)
    }
    const { state: _pauseState, ...shown } = event
    stream({
      ...Guardrails.restore(shown, state.redactions),
      ...(_pauseState === undefined ? {} : { state: _pauseState })
    }, traceContext)
  }
