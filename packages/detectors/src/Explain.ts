/**
 * Explanations of signals: deterministic templates (no LLM) giving a title, what happened, why it matters,
 * the evidence in words and one to three fixes. The templates live in `@sextant/store` (the read side shows
 * every stored signal with its explanation); this module is the same `explain`, for findings and signals.
 * `explain` never throws: an unknown type or malformed evidence gets the generic explanation.
 */
import { Explain } from "@sextant/store"

/** Title, what happened, why it matters, the evidence in words and fixes. */
export type Explanation = Explain.Explanation
/** A concrete fix: what to do, optionally a code snippet. */
export type Fix = Explain.Fix

/** The types that have a template (every catalogue type). */
export const templated: ReadonlyArray<string> = Explain.templated

/** Explains a signal (or finding); never throws. */
export const explain: typeof Explain.explain = Explain.explain
