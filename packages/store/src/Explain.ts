/**
 * Explanations of failure signals: deterministic templates (no LLM) giving a title, what happened, why it
 * matters, the evidence in words and one to three fixes. They live with the read side so that every reader
 * (the store's `getRunSignals`/`listSignals`, the router, the dashboard) shows a signal with its words, and
 * `@sextant/detectors` uses the same ones when it announces a signal. `explain` never throws: an unknown type
 * or malformed evidence gets the generic explanation. Costs come from the recorded usage, never an estimate.
 */
import { type Explainable, templates } from "./internal/templates.js"
import type { Explanation } from "./Records.js"

/** What `explain` reads of a signal: a stored `SignalRecord` or a detector's finding. */
export type { Explainable } from "./internal/templates.js"
/** An explanation and its fixes. */
export type { Explanation, Fix } from "./Records.js"

/** The types that have a template (every catalogue type). */
export const templated: ReadonlyArray<string> = Object.keys(templates)

const generic = (signal: { readonly type?: unknown; readonly severity?: unknown }): Explanation => ({
  title: `Signal ${typeof signal.type === "string" ? signal.type : "(unknown type)"}`,
  what: "A detector flagged this run.",
  whyItMatters: `Severity ${
    typeof signal.severity === "string" ? signal.severity : "unknown"
  }: look at the run's timeline.`,
  evidence: "See the signal's structured evidence.",
  fixes: [{ description: "Open the run's timeline at the flagged events." }]
})

/** Explains a signal (or finding); never throws. */
export const explain = (signal: Explainable): Explanation => {
  try {
    const template = (templates as Record<string, ((f: Explainable) => Explanation) | undefined>)[signal.type]
    return template === undefined ? generic(signal) : template(signal)
  } catch {
    return generic(signal ?? {})
  }
}
