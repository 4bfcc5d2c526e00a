/**
 * Explanations of signals: deterministic templates (no LLM) giving a title, what happened, why it matters,
 * the evidence in words and one to three fixes. `explain` never throws: an unknown type or malformed
 * evidence gets the generic explanation. Costs come from the recorded usage, never an estimate.
 */
import { templates } from "./internal/templates.js"
import type { Finding } from "./Signal.js"

/** A concrete fix: what to do, optionally a code snippet. */
export type { Explanation, Fix } from "./internal/templates.js"
import type { Explanation } from "./internal/templates.js"

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
export const explain = (signal: Finding): Explanation => {
  try {
    const template = (templates as Record<string, ((f: Finding) => Explanation) | undefined>)[signal.type]
    return template === undefined ? generic(signal) : template(signal)
  } catch {
    return generic(signal ?? {})
  }
}
