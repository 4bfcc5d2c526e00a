/**
 * Views: records shaped for a UI over the same tables, each one query a dashboard (Sextant's own, or yours)
 * would otherwise assemble from several routes — runs as a table shows them (with pause and child counts),
 * the runs waiting for someone (with how long), and a run's timeline of typed nodes in sequence order.
 *
 * A timeline is built from the recorded events only, so it shows exactly what the event log holds (already
 * sanitised by the bus: nothing a guardrail redacted). Arguments, results and submissions come as capped
 * previews (`Preview`): the full values are one call away (`getToolCalls`, `getLlmCalls`, `getPauses`).
 */
import { HookEvent } from "@sextant/runtime"
import { Schema } from "effect"
import * as Options from "./Options.js"
import { DateTime, RecordedError, RunStatus, RunSummary } from "./Records.js"

const Nullable = <S extends Schema.Schema.Any>(s: S) => Schema.NullOr(s)

/** A run as a table row: its summary, how often it paused, how many direct children it has, its wall time. */
export const RunRow = Schema.Struct({
  ...RunSummary.fields,
  /** `run.paused` events recorded for the run. */
  pauseCount: Schema.Number,
  /** Runs whose parent is this run (visible in the same scope). */
  childCount: Schema.Number,
  /** `finishedAt - createdAt` in ms; null while the run has not ended. */
  durationMs: Nullable(Schema.Number)
}).annotations({ identifier: "RunRow" })
/** A run as a table row. */
export type RunRow = typeof RunRow.Type

/** A page of run rows: `nextCursor` fetches the next (older) page, null on the last; `total` counts every match. */
export const RunRowPage = Schema.Struct({
  items: Schema.Array(RunRow),
  nextCursor: Nullable(Schema.String),
  /** Every match, counted exactly (absent when `includeTotal` is `false` or `"estimate"`). */
  total: Schema.optionalWith(Schema.Number, { exact: true }),
  /** An estimate of the matches (only with `includeTotal: "estimate"`; exact up to 1,000). */
  estimatedTotal: Schema.optionalWith(Schema.Number, { exact: true })
}).annotations({ identifier: "RunRowPage" })
/** A page of run rows. */
export type RunRowPage = typeof RunRowPage.Type

/** A call a paused run waits on (its arguments are in the run's pauses). */
export const WaitingCall = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  target: Schema.String
}).annotations({ identifier: "WaitingCall" })

/** A run waiting for a client tool result, an approval or human input, and since when. */
export const WaitingRun = Schema.Struct({
  run: RunSummary,
  status: HookEvent.PausedStatus,
  /** When the run paused (its last `run.paused` event). */
  pausedAt: DateTime,
  /** How long it has waited at `asOf`, in ms. */
  waitMs: Schema.Number,
  pendingCalls: Schema.Array(WaitingCall),
  /** The question of a human-input pause. */
  prompt: Nullable(Schema.String)
}).annotations({ identifier: "WaitingRun" })
/** A run waiting for someone. */
export type WaitingRun = typeof WaitingRun.Type

/** The waiting runs, longest waiting first; `asOf` is the server's clock the waits are measured at. */
export const WaitingList = Schema.Struct({
  items: Schema.Array(WaitingRun),
  total: Schema.Number,
  asOf: DateTime
}).annotations({ identifier: "WaitingList" })
/** The waiting runs. */
export type WaitingList = typeof WaitingList.Type

/** A value as compact JSON text, cut at `maxPreviewLength` characters (`truncated` says so; `length` is the full one). */
export const Preview = Schema.Struct({
  text: Schema.String,
  length: Schema.Number,
  truncated: Schema.Boolean
}).annotations({ identifier: "Preview" })
/** A capped preview of a value. */
export type Preview = typeof Preview.Type

/** Most characters of a preview. */
export const maxPreviewLength = 2000

const at = {
  /** The sequence index of the event that opened the node. */
  sequenceIndex: Schema.Number,
  iteration: Schema.Number,
  /** When that event was recorded. */
  at: DateTime
}

/** A segment begins: the run starts or resumes. */
export const SegmentNode = Schema.TaggedStruct("segment", {
  ...at,
  kind: Schema.Literal("started", "resumed")
}).annotations({ identifier: "SegmentNode" })

/** A model call, from its `llm.started` to its `llm.completed` / `llm.failed` (`running` while neither). */
export const LlmCallNode = Schema.TaggedStruct("llmCall", {
  ...at,
  correlationId: Schema.String,
  status: Schema.Literal("running", "completed", "failed"),
  provider: Schema.String,
  model: Schema.String,
  endSequenceIndex: Nullable(Schema.Number),
  completedAt: Nullable(DateTime),
  durationMs: Nullable(Schema.Number),
  inputTokens: Nullable(Schema.Number),
  outputTokens: Nullable(Schema.Number),
  cacheReadTokens: Nullable(Schema.Number),
  reasoningTokens: Nullable(Schema.Number),
  costUsd: Nullable(Schema.Number),
  finishReason: Nullable(Schema.String),
  /** Tool calls the model asked for. */
  toolCallCount: Schema.Number,
  /** The model's text, capped. */
  text: Nullable(Preview),
  error: Nullable(RecordedError)
}).annotations({ identifier: "LlmCallNode" })

/** A tool call, server or client, from its `tool.started` (absent for a client result) to its `tool.completed`. */
export const ToolCallNode = Schema.TaggedStruct("toolCall", {
  ...at,
  correlationId: Schema.String,
  toolName: Schema.String,
  target: Schema.String,
  status: Schema.Literal("running", "succeeded", "failed"),
  endSequenceIndex: Nullable(Schema.Number),
  completedAt: Nullable(DateTime),
  durationMs: Nullable(Schema.Number),
  arguments: Nullable(Preview),
  result: Nullable(Preview),
  error: Nullable(Schema.String)
}).annotations({ identifier: "ToolCallNode" })

/** A pause segment: from `run.paused` to the `run.resumed` that ended it (open while the run waits). */
export const PauseNode = Schema.TaggedStruct("pause", {
  ...at,
  status: HookEvent.PausedStatus,
  pendingCalls: Schema.Array(Schema.Struct({ ...WaitingCall.fields, arguments: Preview })),
  prompt: Nullable(Schema.String),
  resumeSequenceIndex: Nullable(Schema.Number),
  resumedAt: Nullable(DateTime),
  /** `resumedAt - at` in ms; null while waiting. */
  waitMs: Nullable(Schema.Number),
  /** What the resume submitted (tool results, a decision, the human's input), capped. */
  submission: Nullable(Preview)
}).annotations({ identifier: "PauseNode" })

/** How much a governance event matters. */
export const Severity = Schema.Literal("info", "warning", "error")
/** How much a governance event matters. */
export type Severity = typeof Severity.Type

/** A governance event: a denied tool, an approval asked or decided, a budget threshold, a guardrail. */
export const GovernanceNode = Schema.TaggedStruct("governance", {
  ...at,
  eventType: Schema.String,
  severity: Severity,
  title: Schema.String,
  correlationId: Nullable(Schema.String),
  /** The event's recorded data, capped. */
  detail: Preview
}).annotations({ identifier: "GovernanceNode" })

/** A retryable provider response (429, 5xx) before the call was tried again. */
export const RetryNode = Schema.TaggedStruct("retry", {
  ...at,
  correlationId: Nullable(Schema.String),
  provider: Schema.String,
  attempt: Schema.Number,
  statusCode: Nullable(Schema.Number),
  retryAfterMs: Nullable(Schema.Number),
  reason: Schema.String
}).annotations({ identifier: "RetryNode" })

/** The end of the run (or of its record: interrupted, abandoned by the sweep). */
export const EndNode = Schema.TaggedStruct("end", {
  ...at,
  eventType: Schema.String,
  status: RunStatus,
  answer: Nullable(Preview),
  error: Nullable(RecordedError),
  failureReason: Nullable(Schema.String),
  reason: Nullable(Schema.String)
}).annotations({ identifier: "EndNode" })

/** One node of a timeline. */
export const TimelineNode = Schema.Union(
  SegmentNode,
  LlmCallNode,
  ToolCallNode,
  PauseNode,
  GovernanceNode,
  RetryNode,
  EndNode
).annotations({ identifier: "TimelineNode" })
/** One node of a timeline. */
export type TimelineNode = typeof TimelineNode.Type

/** A run's timeline: its nodes in the order their opening events were recorded. */
export const Timeline = Schema.Struct({
  runId: Schema.String,
  status: RunStatus,
  /** The last recorded sequence index (resume an SSE tail after it). */
  lastSequenceIndex: Schema.Number,
  nodes: Schema.Array(TimelineNode)
}).annotations({ identifier: "Timeline" })
/** A run's timeline. */
export type Timeline = typeof Timeline.Type

/** Filters and page of `listRunRows`: those of `listRuns`. */
export const RunRowsOptions = Options.ListRunsOptions

/** Options of `listWaiting`: `limit` 1..1000 (default 50), an exact `agentName` and/or `tenantId`. */
export const WaitingOptions = Schema.Struct({
  ...Options.CallOptions.fields,
  agentName: Schema.optional(Options.Text),
  tenantId: Schema.optional(Options.Text),
  limit: Schema.optionalWith(Options.PageLimit, { default: () => Options.defaultLimits.runs })
})
