/**
 * Alerts: what `AlertNotifier` rules produce and hand to their `deliver` notifier. An `Alert` travels through
 * the same `handle(event, context)` door as hook events, so any notifier can deliver it; the notifiers of this
 * package render it (Slack message, webhook payload, console line, JSONL line). Your own notifiers tell it apart
 * with `Alert.isAlert(event)`.
 */
import { Schema } from "effect"

const opt = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** How urgent an alert is. */
export const Severity = Schema.Literal("info", "warning", "critical")
/** How urgent an alert is. */
export type Severity = typeof Severity.Type

/** An alert raised by a rule about one run. */
export const Alert = Schema.TaggedStruct("Alert", {
  runId: Schema.String,
  iteration: Schema.Int,
  /** When the condition was found to hold (epoch ms): the triggering event's time, or the timer's. */
  timestamp: Schema.Number,
  /** The `sequenceIndex` of the event that triggered the alert; absent when a timer did. */
  sequenceIndex: opt(Schema.Int),
  /** The rule's name (`run_failed`, `cost_above`, …). */
  rule: Schema.String,
  severity: Severity,
  /** A one-line summary. */
  title: Schema.String,
  /** What happened, for a human. */
  message: Schema.String,
  agentName: opt(Schema.String),
  /** Key figures (`costUsd`, `limitUsd`, `failures`, …). */
  figures: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.Number, Schema.String) })
}).annotations({ identifier: "Alert" })
/** An alert raised by a rule about one run. */
export type Alert = typeof Alert.Type

/** Whether something handed to a notifier is an `Alert` rather than a hook event. */
export const isAlert = (u: unknown): u is Alert =>
  typeof u === "object" && u !== null && (u as { readonly _tag?: unknown })._tag === "Alert"
