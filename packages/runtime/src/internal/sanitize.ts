import { Effect } from "effect"
import type { RecorderError } from "../Errors.js"
import * as Guardrails from "../Guardrails.js"
import type { Json } from "../HookEvent.js"
import type { RunState } from "./runState.js"

type Detection = Guardrails.ScanResult["detections"][number]
type Blocked = NonNullable<Guardrails.ScanResult["blocked"]>

/** A scan of some content: the sanitized form, what was found, and whether a guardrail blocked it. */
export interface Scanned<A> {
  readonly value: A
  readonly detections: ReadonlyArray<Detection>
  readonly redacted: boolean
  readonly blocked: Blocked | undefined
}

const mergeDetections = (all: ReadonlyArray<Detection>): ReadonlyArray<Detection> => {
  const byGuardrail = new Map<string, { action: Detection["action"]; counts: Map<string, number> }>()
  for (const d of all) {
    const entry = byGuardrail.get(d.guardrail) ?? { action: d.action, counts: new Map<string, number>() }
    for (const e of d.entities) entry.counts.set(e.type, (entry.counts.get(e.type) ?? 0) + e.count)
    byGuardrail.set(d.guardrail, entry)
  }
  return [...byGuardrail].map(([guardrail, { action, counts }]) => ({
    guardrail,
    action,
    entities: [...counts].map(([type, count]) => ({ type, count }))
  }))
}

/**
 * Scans text or every string inside a JSON value with the agent's guardrails, replacing redact-action
 * findings by placeholders (the mapping is kept in the run state). Pure: events are written by `report`.
 */
export const scanValue = <A extends Json>(state: RunState, value: A): Scanned<A> => {
  const guardrails = state.agent.guardrails
  if (guardrails.length === 0) return { value, detections: [], redacted: false, blocked: undefined }
  const detections: Array<Detection> = []
  let blocked: Blocked | undefined
  let redacted = false
  const scanText = (text: string): string => {
    const result = Guardrails.scan(guardrails, text, state.redactions)
    state.redactions = result.redactions
    detections.push(...result.detections)
    if (result.blocked !== undefined) {
      blocked ??= result.blocked
      // A blocked value is never recorded: the run stops, and the record says what stopped it.
      const types = result.blocked.entities.map((e) => e.type).join(", ")
      return `[blocked by ${result.blocked.guardrail}: ${types}]`
    }
    if (result.text !== text) redacted = true
    return result.text
  }
  // A string under a key is scanned as `{"key": "value"}`, so that key-dependent detectors
  // (`aws_secret_access_key`, `api_key`…) see the key; placeholders keep that JSON valid.
  const scanKeyed = (key: string, text: string): string => {
    const scanned = scanText(JSON.stringify({ [key]: text }))
    try {
      const value = (JSON.parse(scanned) as Record<string, unknown>)[key]
      return typeof value === "string" ? value : scanned
    } catch {
      return scanned
    }
  }
  const visit = (v: Json, key?: string): Json => {
    if (typeof v === "string") return key === undefined ? scanText(v) : scanKeyed(key, v)
    if (Array.isArray(v)) return v.map((item) => visit(item))
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, visit(item, k)]))
    }
    return v
  }
  const out = visit(value) as A
  return { value: out, detections: mergeDetections(detections), redacted, blocked }
}

/** Records what a scan found (`guardrail.detected`, `.redacted`, `.blocked`); never the matched values. */
export const report = (
  state: RunState,
  scanned: Scanned<Json>,
  direction: "input" | "output",
  iteration: number
): Effect.Effect<void, RecorderError> =>
  scanned.detections.length === 0 && scanned.blocked === undefined ? Effect.void : Effect.gen(function*() {
    for (const d of scanned.detections) {
      yield* state.bus.stage({
        _tag: "GuardrailDetected",
        guardrail: d.guardrail,
        direction,
        action: d.action,
        entities: d.entities
      }, iteration)
      if (d.action === "redact" && scanned.redacted) {
        yield* state.bus.stage(
          { _tag: "GuardrailRedacted", guardrail: d.guardrail, direction, entities: d.entities },
          iteration
        )
      }
    }
    const b = scanned.blocked
    if (b !== undefined) {
      yield* state.bus.stage(
        { _tag: "GuardrailBlocked", guardrail: b.guardrail, direction, entities: b.entities, reason: b.reason },
        iteration
      )
    }
  })

/** Puts real values back in place of this run's placeholders (for tools and the caller). */
export const restore = <A>(state: RunState, value: A): A =>
  state.agent.guardrails.length === 0 ? value : Guardrails.restore(value, state.redactions)
