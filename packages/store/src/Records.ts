/**
 * What the RunStore returns. Every record is plain JSON data: datetimes are RFC 3339 UTC strings
 * (`2026-01-02T03:04:05.678Z`), absent values are `null`, JSON columns come back parsed. Both SQL dialects
 * yield identical records. The schemas double as the read router's response schemas. Every list that can grow
 * is an object `{ items }` (a page adds its cursor), so it can gain fields (a cursor, a total) without breaking
 * callers, and the Promise client and HTTP return the same shape.
 */
import { Tables } from "@sextant/recorder"
import { HookEvent } from "@sextant/runtime"
import { Schema } from "effect"

const Nullable = <S extends Schema.Schema.Any>(s: S) => Schema.NullOr(s)
/** An RFC 3339 UTC datetime string. */
export const DateTime = Schema.String.annotations({ identifier: "DateTime", format: "date-time" })
/** Any JSON value (tool parameters and results, provider payloads, metadata, event data). */
export const JsonValue = Schema.Unknown.annotations({ identifier: "JsonValue" })

/** Statuses a run can be in (the runtime's own list). */
export const RunStatus = HookEvent.RunStatus
/** Statuses a run can be in. */
export type RunStatus = HookEvent.RunStatus

/**
 * Token and cost totals of a run. `costUsd` is the exact sum of the priced calls (summed in integer
 * nano-dollars, so it is the same on every dialect), null when no call had a known price; `unpricedCallCount`
 * counts the calls without one.
 */
export const RunTotals = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: Nullable(Schema.Number),
  cacheWriteTokens: Nullable(Schema.Number),
  reasoningTokens: Nullable(Schema.Number),
  costUsd: Nullable(Schema.Number),
  modelCallCount: Schema.Number,
  unpricedCallCount: Schema.Number
}).annotations({ identifier: "RunTotals" })
/** Token and cost totals of a run. */
export type RunTotals = typeof RunTotals.Type

const summaryFields = {
  id: Schema.String,
  agentName: Schema.String,
  status: RunStatus,
  tenantId: Nullable(Schema.String),
  model: Nullable(Schema.String),
  provider: Nullable(Schema.String),
  parentRunId: Nullable(Schema.String),
  retryOfRunId: Nullable(Schema.String),
  /** The conversation the run belongs to (`RunOptions.threadId`). */
  threadId: Nullable(Schema.String),
  delegationLevel: Schema.Number,
  iterationCount: Schema.Number,
  totals: RunTotals,
  metadata: Nullable(JsonValue),
  createdAt: DateTime,
  updatedAt: DateTime,
  finishedAt: Nullable(DateTime)
}

/** One run in a list. */
export const RunSummary = Schema.Struct(summaryFields).annotations({ identifier: "RunSummary" })
/** One run in a list. */
export type RunSummary = typeof RunSummary.Type

/** An error as recorded: its tag and message. */
export const RecordedError = Schema.Struct({ tag: Nullable(Schema.String), message: Schema.String }).annotations({
  identifier: "RecordedError"
})

/** One run in full (never its internal pause state). */
export const RunDetail = Schema.Struct({
  ...summaryFields,
  input: Schema.String,
  instructions: Schema.String,
  answer: Nullable(Schema.String),
  error: Nullable(RecordedError),
  failureReason: Nullable(Schema.String),
  idempotencyKey: Nullable(Schema.String),
  cancelRequested: Schema.Boolean,
  lastSequenceIndex: Schema.Number,
  lastProgressAt: DateTime
}).annotations({ identifier: "RunDetail" })
/** One run in full. */
export type RunDetail = typeof RunDetail.Type

/**
 * A page of runs: `nextCursor` fetches the next (older) page, null on the last. `total` counts every match
 * (unless `includeTotal` was `false` or `"estimate"`); `estimatedTotal` is there instead with `"estimate"`.
 */
export const RunPage = Schema.Struct({
  items: Schema.Array(RunSummary),
  nextCursor: Nullable(Schema.String),
  /** Every match, counted exactly (absent when `includeTotal` is `false` or `"estimate"`). */
  total: Schema.optionalWith(Schema.Number, { exact: true }),
  /** An estimate of the matches (only with `includeTotal: "estimate"`; exact up to 1,000). */
  estimatedTotal: Schema.optionalWith(Schema.Number, { exact: true })
}).annotations({ identifier: "RunPage" })
/** A page of runs. */
export type RunPage = typeof RunPage.Type

/** One recorded hook event. */
export const StoredEvent = Schema.Struct({
  runId: Schema.String,
  sequenceIndex: Schema.Number,
  eventType: Schema.String,
  iteration: Schema.Number,
  correlationId: Nullable(Schema.String),
  data: JsonValue,
  createdAt: DateTime
}).annotations({ identifier: "StoredEvent" })
/** One recorded hook event. */
export type StoredEvent = typeof StoredEvent.Type

/** A page of events; pass `nextAfter` as `after` to continue (it echoes `after` when the page is empty). */
export const EventPage = Schema.Struct({
  items: Schema.Array(StoredEvent),
  nextAfter: Nullable(Schema.Number)
}).annotations({ identifier: "EventPage" })
/** A page of events. */
export type EventPage = typeof EventPage.Type

/** One message of a run's conversation. */
export const TraceEntry = Schema.Struct({
  orderIndex: Schema.Number,
  iteration: Schema.Number,
  role: Schema.String,
  content: Schema.String,
  toolCalls: Nullable(JsonValue),
  toolCallId: Nullable(Schema.String),
  providerCallId: Nullable(Schema.String),
  toolName: Nullable(Schema.String),
  isError: Nullable(Schema.Boolean),
  createdAt: DateTime,
  /** A user message's images and files (`Message.parts`), null when it has none. */
  parts: Nullable(JsonValue)
}).annotations({ identifier: "TraceEntry" })
/** One message of a run's conversation. */
export type TraceEntry = typeof TraceEntry.Type

/** One tool call. */
export const ToolCall = Schema.Struct({
  id: Schema.String,
  providerCallId: Nullable(Schema.String),
  toolName: Schema.String,
  target: Schema.String,
  iteration: Schema.Number,
  params: Nullable(JsonValue),
  result: Nullable(JsonValue),
  success: Nullable(Schema.Boolean),
  error: Nullable(Schema.String),
  durationMs: Nullable(Schema.Number),
  startedAt: DateTime,
  completedAt: Nullable(DateTime)
}).annotations({ identifier: "ToolCall" })
/** One tool call. */
export type ToolCall = typeof ToolCall.Type

/** One model call, with the semantic request/response and the exact provider payloads. */
export const LlmCall = Schema.Struct({
  id: Schema.String,
  iteration: Schema.Number,
  status: Schema.String,
  provider: Schema.String,
  model: Schema.String,
  responseModel: Nullable(Schema.String),
  responseId: Nullable(Schema.String),
  finishReason: Nullable(Schema.String),
  semanticRequest: Nullable(JsonValue),
  semanticResponse: Nullable(JsonValue),
  providerRequest: Nullable(JsonValue),
  providerResponse: Nullable(JsonValue),
  inputTokens: Nullable(Schema.Number),
  outputTokens: Nullable(Schema.Number),
  cacheReadTokens: Nullable(Schema.Number),
  cacheWriteTokens: Nullable(Schema.Number),
  reasoningTokens: Nullable(Schema.Number),
  costUsd: Nullable(Schema.Number),
  costNote: Nullable(Schema.String),
  durationMs: Nullable(Schema.Number),
  error: Nullable(RecordedError),
  startedAt: DateTime,
  completedAt: Nullable(DateTime)
}).annotations({ identifier: "LlmCall" })
/** One model call. */
export type LlmCall = typeof LlmCall.Type

/** One `token_usage` row (one per completed model call). */
export const UsageRecord = Schema.Struct({
  id: Schema.String,
  llmInteractionId: Schema.String,
  iteration: Schema.Number,
  provider: Schema.String,
  model: Schema.String,
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: Nullable(Schema.Number),
  cacheWriteTokens: Nullable(Schema.Number),
  reasoningTokens: Nullable(Schema.Number),
  costUsd: Nullable(Schema.Number),
  createdAt: DateTime
}).annotations({ identifier: "UsageRecord" })
/** One `token_usage` row. */
export type UsageRecord = typeof UsageRecord.Type

/** A pause and the resume that ended it; `resumeSequenceIndex` is null while the pause is still active. */
export const PausePair = Schema.Struct({
  pauseSequenceIndex: Schema.Number,
  pausedAt: DateTime,
  status: Schema.String,
  pendingCalls: JsonValue,
  prompt: Nullable(Schema.String),
  resumeSequenceIndex: Nullable(Schema.Number),
  resumedAt: Nullable(DateTime),
  submission: Nullable(JsonValue),
  waitMs: Nullable(Schema.Number)
}).annotations({ identifier: "PausePair" })
/** A pause and the resume that ended it. */
export type PausePair = typeof PausePair.Type

/** Sums over a set of runs' model calls (from `token_usage`). */
export const UsageTotals = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: Schema.Number,
  cacheWriteTokens: Schema.Number,
  reasoningTokens: Schema.Number,
  /** Sum of known costs (summed exactly, in nano-dollars); see `unpricedCallCount` for calls without one. */
  costUsd: Schema.Number,
  runCount: Schema.Number,
  modelCallCount: Schema.Number,
  unpricedCallCount: Schema.Number
}).annotations({ identifier: "UsageTotals" })
/** Sums over a set of runs' model calls. */
export type UsageTotals = typeof UsageTotals.Type

/** A run and its descendants. */
export interface RunTreeNode {
  readonly run: RunSummary
  readonly children: ReadonlyArray<RunTreeNode>
}
/** A run and its descendants. */
export const RunTreeNode: Schema.Schema<RunTreeNode> = Schema.Struct({
  run: RunSummary,
  children: Schema.Array(Schema.suspend((): Schema.Schema<RunTreeNode> => RunTreeNode))
}).annotations({ identifier: "RunTreeNode" })

/** A run's place among its relatives: ancestors (root first), its subtree, and totals over the subtree. */
export const RunTree = Schema.Struct({
  run: RunSummary,
  ancestors: Schema.Array(RunSummary),
  children: Schema.Array(RunTreeNode),
  /** Over the run and all its descendants. */
  subtreeTotals: UsageTotals
}).annotations({ identifier: "RunTree" })
/** A run's place among its relatives. */
export type RunTree = typeof RunTree.Type

/** Dimensions `usage` can group by. */
export const UsageGroupBy = Schema.Literal("tenant", "agent", "model", "day")
/** Dimensions `usage` can group by. */
export type UsageGroupBy = typeof UsageGroupBy.Type

/** One group of a usage rollup: the grouped keys (only those asked for) and the sums. */
export const UsageGroup = Schema.Struct({
  tenantId: Schema.optionalWith(Nullable(Schema.String), { exact: true }),
  agentName: Schema.optionalWith(Schema.String, { exact: true }),
  model: Schema.optionalWith(Schema.String, { exact: true }),
  /** `YYYY-MM-DD` (UTC). */
  day: Schema.optionalWith(Schema.String, { exact: true }),
  ...UsageTotals.fields
}).annotations({ identifier: "UsageGroup" })
/** One group of a usage rollup. */
export type UsageGroup = typeof UsageGroup.Type

/** One line of an export: a run with everything recorded about it. */
export const ExportedRun = Schema.Struct({
  run: RunDetail,
  events: Schema.Array(StoredEvent),
  traces: Schema.Array(TraceEntry),
  toolCalls: Schema.Array(ToolCall),
  llmCalls: Schema.Array(LlmCall),
  usage: Schema.Array(UsageRecord)
}).annotations({ identifier: "ExportedRun" })
/** One line of an export. */
export type ExportedRun = typeof ExportedRun.Type

const list = <S extends Schema.Schema.Any>(item: S, identifier: string) =>
  Schema.Struct({ items: Schema.Array(item) }).annotations({ identifier })

/** A run's messages in order. */
export const TraceList = list(TraceEntry, "TraceList")
/** A run's messages in order. */
export type TraceList = typeof TraceList.Type

/** One message of a thread: a run's message with the run it belongs to. */
export const ThreadMessage = Schema.Struct({ runId: Schema.String, ...TraceEntry.fields }).annotations({
  identifier: "ThreadMessage"
})
/** One message of a thread. */
export type ThreadMessage = typeof ThreadMessage.Type

const threadFields = {
  threadId: Schema.String,
  tenantId: Nullable(Schema.String),
  runCount: Schema.Number,
  /** The latest `updatedAt` of its runs. */
  lastActivityAt: DateTime,
  /** Sums over the runs; `costUsd` is null unless every run had a cost. */
  totals: Schema.Struct({
    inputTokens: Schema.Number,
    outputTokens: Schema.Number,
    costUsd: Nullable(Schema.Number)
  })
}

/** One conversation in a list. */
export const ThreadSummary = Schema.Struct(threadFields).annotations({ identifier: "ThreadSummary" })
/** One conversation in a list. */
export type ThreadSummary = typeof ThreadSummary.Type

/** A page of conversations, latest activity first; `nextCursor` fetches the next (older) page, null on the last. */
export const ThreadPage = Schema.Struct({
  items: Schema.Array(ThreadSummary),
  nextCursor: Nullable(Schema.String)
}).annotations({ identifier: "ThreadPage" })
/** A page of conversations. */
export type ThreadPage = typeof ThreadPage.Type

/** A conversation: its runs (oldest first), every message of them in order, and its totals. */
export const ThreadDetail = Schema.Struct({
  ...threadFields,
  runs: Schema.Array(RunSummary),
  messages: Schema.Array(ThreadMessage)
}).annotations({ identifier: "ThreadDetail" })
/** A conversation in full. */
export type ThreadDetail = typeof ThreadDetail.Type

/** A run's tool calls in start order. */
export const ToolCallList = list(ToolCall, "ToolCallList")
/** A run's tool calls in start order. */
export type ToolCallList = typeof ToolCallList.Type

/** A run's model calls in start order. */
export const LlmCallList = list(LlmCall, "LlmCallList")
/** A run's model calls in start order. */
export type LlmCallList = typeof LlmCallList.Type

/** A run's pause/resume pairs in order. */
export const PauseList = list(PausePair, "PauseList")
/** A run's pause/resume pairs in order. */
export type PauseList = typeof PauseList.Type

/** The groups of a usage rollup, ordered by their keys (one group of grand totals without `groupBy`). */
export const UsageList = list(UsageGroup, "UsageList")
/** The groups of a usage rollup. */
export type UsageList = typeof UsageList.Type

/**
 * One stream's aggregate: a tool call's stream (`kind: "tool"`, `name` the tool's) or a streamed model call's
 * deltas (`kind: "model"`, `name` the model's). `id` is the call's id (`getStreamChunks` takes it).
 */
export const StreamRecord = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  name: Schema.String,
  iteration: Schema.Number,
  chunkCount: Schema.Number,
  bytes: Schema.Number,
  timeToFirstChunkMs: Nullable(Schema.Number),
  durationMs: Schema.Number,
  chunksPerSecond: Nullable(Schema.Number),
  bytesPerSecond: Nullable(Schema.Number),
  /** How many of the stream's chunks sampling kept (`getStreamChunks` returns them). */
  sampledCount: Schema.Number,
  startedAt: DateTime,
  endedAt: DateTime
}).annotations({ identifier: "StreamRecord" })
/** One stream's aggregate. */
export type StreamRecord = typeof StreamRecord.Type

/** A run's streams in start order. */
export const StreamList = list(StreamRecord, "StreamList")
/** A run's streams in start order. */
export type StreamList = typeof StreamList.Type

/** A sampled chunk of a tool's stream: `data` is the chunk (`encoding: "json"`) or its bytes in base64. */
export const StreamChunkRecord = Schema.Struct({
  sequence: Schema.Number,
  offsetMs: Schema.Number,
  bytes: Schema.Number,
  encoding: Schema.String,
  data: JsonValue,
  createdAt: DateTime
}).annotations({ identifier: "StreamChunkRecord" })
/** A sampled chunk of a tool's stream. */
export type StreamChunkRecord = typeof StreamChunkRecord.Type

/** A stream's sampled chunks in sequence order (page on with `after` = the last sequence). */
export const StreamChunkList = list(StreamChunkRecord, "StreamChunkList")
/** A stream's sampled chunks in sequence order. */
export type StreamChunkList = typeof StreamChunkList.Type

/**
 * Every signal type `@sextant/detectors` raises, in catalogue order: the recorder's `Tables.signalTypes` (the
 * one list; the store and the router validate a `type` filter against it).
 */
export const signalTypes = Tables.signalTypes

/** A failure signal type. */
export const SignalType = Schema.Literal(...signalTypes).annotations({ identifier: "SignalType" })
/** A failure signal type. */
export type SignalType = typeof SignalType.Type

/** How bad a signal is, lowest first (the recorder's `Tables.signalSeverities`). */
export const signalSeverities = Tables.signalSeverities

/** How bad a signal is. */
export const SignalSeverity = Schema.Literal(...signalSeverities).annotations({ identifier: "SignalSeverity" })
/** How bad a signal is. */
export type SignalSeverity = typeof SignalSeverity.Type

/** A concrete fix of an explanation: what to do, optionally a code snippet. */
export const Fix = Schema.Struct({
  description: Schema.String,
  snippet: Schema.optionalWith(Schema.String, { exact: true })
})
  .annotations({ identifier: "SignalFix" })
/** A concrete fix of an explanation. */
export type Fix = typeof Fix.Type

/** A signal's explanation (`Explain.explain`): deterministic words from its type and evidence, no LLM. */
export const Explanation = Schema.Struct({
  title: Schema.String,
  what: Schema.String,
  whyItMatters: Schema.String,
  /** The evidence in words. */
  evidence: Schema.String,
  /** One to three concrete fixes. */
  fixes: Schema.Array(Fix)
}).annotations({ identifier: "SignalExplanation" })
/** A signal's explanation. */
export type Explanation = typeof Explanation.Type

/**
 * A failure signal as `@sextant/detectors` stored it in `failure_signals`: what was found in which run, the
 * sequence indexes (inclusive) it points at and structured evidence (counts, names, hashes; never the run's
 * content). `shadow` signals are recorded but not alerted. The words are not stored: `explanation` is
 * `Explain.explain` of the record, computed when it is read (so a better template applies to old signals).
 */
export const SignalRecord = Schema.Struct({
  id: Schema.String,
  runId: Schema.String,
  tenantId: Nullable(Schema.String),
  agentName: Schema.String,
  /** A catalogue type (a type written by a newer detectors package comes back as stored). */
  type: Schema.String,
  severity: Schema.String,
  confidence: Schema.Number,
  step: Schema.Struct({ start: Schema.Number, end: Schema.Number }),
  evidence: Schema.Record({ key: Schema.String, value: JsonValue }),
  shadow: Schema.Boolean,
  /** A human's verdict (`true_positive` / `false_positive`), null until labelled. */
  label: Nullable(Schema.String),
  labelledAt: Nullable(DateTime),
  detectedAt: DateTime,
  /** Title, what happened, why it matters, the evidence in words and fixes. */
  explanation: Explanation
}).annotations({ identifier: "SignalRecord" })
/** A stored failure signal. */
export type SignalRecord = typeof SignalRecord.Type

/** A run's signals in step order (then type). */
export const SignalList = list(SignalRecord, "SignalList")
/** A run's signals. */
export type SignalList = typeof SignalList.Type

/** A page of signals, newest detection first; `nextCursor` fetches the next (older) page, null on the last. */
export const SignalPage = Schema.Struct({
  items: Schema.Array(SignalRecord),
  nextCursor: Nullable(Schema.String)
}).annotations({ identifier: "SignalPage" })
/** A page of signals. */
export type SignalPage = typeof SignalPage.Type
