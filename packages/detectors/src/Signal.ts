/**
 * Failure signals: what a detector found in one run's recorded events — its type, severity, a fixed
 * confidence, the run, the sequence-index range it points at and structured evidence (counts, names, hashes
 * and ratios; never the run's content).
 */
import { Tables } from "@sextant/recorder"
import { HookEvent } from "@sextant/runtime"
import { Schema } from "effect"

/** Every signal type of the catalogue, in catalogue order (the recorder's `Tables.signalTypes`, the one list). */
export const signalTypes = Tables.signalTypes

/** A signal type (the allow-list every reader validates against). */
export const SignalType = Schema.Literal(...signalTypes)
/** A signal type. */
export type SignalType = typeof SignalType.Type

/** How bad a signal is. */
export const Severity = Schema.Literal(...Tables.signalSeverities)
/** How bad a signal is. */
export type Severity = typeof Severity.Type

/** The sequence indexes (inclusive) of the events a signal points at. */
export const StepRange = Schema.Struct({ start: Schema.Int, end: Schema.Int })
/** The sequence indexes (inclusive) of the events a signal points at. */
export type StepRange = typeof StepRange.Type

/** What a detector returns: one finding about one run. */
export const Finding = Schema.Struct({
  type: SignalType,
  severity: Severity,
  confidence: Schema.Number,
  runId: Schema.String,
  step: StepRange,
  evidence: Schema.Record({ key: Schema.String, value: HookEvent.Json })
}).annotations({ identifier: "Finding" })
/** What a detector returns: one finding about one run. */
export type Finding = typeof Finding.Type

/** A human's verdict on a signal. */
export const Label = Schema.Literal("true_positive", "false_positive")
/** A human's verdict on a signal. */
export type Label = typeof Label.Type

/** A stored signal: a finding with its id, agent, shadow flag, label and detection time. */
export const Signal = Schema.Struct({
  ...Finding.fields,
  id: Schema.String,
  tenantId: Schema.NullOr(Schema.String),
  agentName: Schema.String,
  /** Recorded but not alerted: the type is not switched live yet. */
  shadow: Schema.Boolean,
  label: Schema.NullOr(Label),
  detectedAt: Schema.String
}).annotations({ identifier: "Signal" })
/** A stored signal. */
export type Signal = typeof Signal.Type
