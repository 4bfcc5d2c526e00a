/**
 * Detector signals: what `@sextant/detectors` found in a run after it ended, handed to notifiers with its
 * explanation. A signal is not one of the run's recorded events (detection runs after the run's terminal
 * event is durable, so it cannot join the run's gapless event log): like an `Alert`, it travels through the
 * same `handle(event, context)` door as hook events, only for live (non-shadow) signals. The notifiers of this
 * package render it (webhook `detector.signal`, Slack message, console line, JSONL line) and `AlertNotifier`
 * rules can act on it (`AlertRules.detectorSignal`). Your own notifiers tell it apart with
 * `DetectorSignal.isDetectorSignal(event)`.
 */
import { HookEvent } from "@sextant/runtime"
import { Schema } from "effect"

const opt = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** How bad a signal is, as the detectors grade it. */
export const Severity = Schema.Literal("LOW", "MEDIUM", "HIGH", "CRITICAL")
/** How bad a signal is. */
export type Severity = typeof Severity.Type

/** A concrete fix of an explanation. */
export const Fix = Schema.Struct({ description: Schema.String, snippet: opt(Schema.String) })
/** A concrete fix of an explanation. */
export type Fix = typeof Fix.Type

/** A signal's explanation: deterministic words from its evidence (no LLM). */
export const Explanation = Schema.Struct({
  title: Schema.String,
  what: Schema.String,
  whyItMatters: Schema.String,
  evidence: Schema.String,
  fixes: Schema.Array(Fix)
}).annotations({ identifier: "Explanation" })
/** A signal's explanation. */
export type Explanation = typeof Explanation.Type

/** A live failure signal about one ended (or stalled) run, with its explanation. */
export const DetectorSignal = Schema.TaggedStruct("DetectorSignal", {
  /** The stored signal's id (a row of `failure_signals`). */
  signalId: Schema.String,
  runId: Schema.String,
  tenantId: Schema.NullOr(Schema.String),
  agentName: Schema.String,
  /** The catalogue type (`TOOL_LOOP`, `RETRY_STORM`, …). */
  signalType: Schema.String,
  severity: Severity,
  confidence: Schema.Number,
  /** The sequence indexes (inclusive) of the run's events the signal points at. */
  step: Schema.Struct({ start: Schema.Int, end: Schema.Int }),
  /** Structured evidence: counts, names, hashes and ratios, never the run's content. */
  evidence: Schema.Record({ key: Schema.String, value: HookEvent.Json }),
  /** When it was detected (epoch ms). */
  timestamp: Schema.Number,
  explanation: Explanation
}).annotations({ identifier: "DetectorSignal" })
/** A live failure signal about one run, with its explanation. */
export type DetectorSignal = typeof DetectorSignal.Type

/** Whether something handed to a notifier is a `DetectorSignal` rather than a hook event or an alert. */
export const isDetectorSignal = (u: unknown): u is DetectorSignal =>
  typeof u === "object" && u !== null && (u as { readonly _tag?: unknown })._tag === "DetectorSignal"
