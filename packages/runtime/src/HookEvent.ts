/**
 * The hook events: one `Schema` tagged union that the agent loop emits, the recorder makes durable and
 * notifiers observe. Every event carries `runId`, `sequenceIndex` (gapless per run, from 0),
 * `iteration`, `timestamp` (epoch ms) and, where a start pairs with an end, `correlationId`.
 */
import { Schema } from "effect"

const opt = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** A JSON value (what tool arguments, results, metadata and provider payloads are made of). */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** Schema of a JSON value (checked structurally: no functions, no `undefined`, no non-finite numbers). */
export const Json: Schema.Schema<Json> = Schema.suspend(() =>
  Schema.Union(
    Schema.Null,
    Schema.Boolean,
    Schema.Number.pipe(Schema.finite()),
    Schema.String,
    Schema.Array(Json),
    Schema.Record({ key: Schema.String, value: Json })
  )
).annotations({ identifier: "Json" })

/** A JSON object (run metadata). */
export const JsonObject = Schema.Record({ key: Schema.String, value: Json }).annotations({ identifier: "JsonObject" })

/**
 * Token counts of one model call or a run; optional counts are absent when the vendor did not report them.
 * As in the OpenTelemetry GenAI conventions, `inputTokens` counts ALL input tokens, including those read
 * from or written to the prompt cache (`cacheReadTokens`/`cacheWriteTokens` are subsets of it), and
 * `reasoningTokens` is a subset of `outputTokens`. Providers whose wire format reports cache tokens
 * separately (Anthropic) add them in.
 */
export const Usage = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cacheReadTokens: opt(Schema.Number),
  cacheWriteTokens: opt(Schema.Number),
  reasoningTokens: opt(Schema.Number),
  costUsd: opt(Schema.Number)
}).annotations({ identifier: "Usage" })
/** Token counts of one model call or a run. */
export type Usage = typeof Usage.Type

/** Statuses a run can be in. */
export const RunStatus = Schema.Literal(
  "running",
  "success",
  "error",
  "max_iterations",
  "cancelled",
  "waiting_client_tool",
  "waiting_approval",
  "waiting_human_input"
)
/** Statuses a run can be in. */
export type RunStatus = typeof RunStatus.Type

/** The statuses of a paused run. */
export const PausedStatus = Schema.Literal("waiting_client_tool", "waiting_approval", "waiting_human_input")
/** The statuses of a paused run. */
export type PausedStatus = typeof PausedStatus.Type

/** A tool call as the model asked for it, with the kernel's id and the provider's id. */
export const ToolCallRef = Schema.Struct({
  id: Schema.String,
  providerCallId: opt(Schema.String),
  name: Schema.String,
  arguments: Json
})
/** A tool call as the model asked for it. */
export type ToolCallRef = typeof ToolCallRef.Type

/** An image a user message carries: by URL, or as base64 bytes with their media type. */
export const ImagePart = Schema.Union(
  Schema.TaggedStruct("image", { url: Schema.String }),
  Schema.TaggedStruct("image", { data: Schema.String, mediaType: Schema.String })
).annotations({ identifier: "ImagePart" })
/** An image a user message carries. */
export type ImagePart = typeof ImagePart.Type

/** A file a user message carries (a PDF, a text file): base64 bytes with their media type and a name. */
export const FilePart = Schema.TaggedStruct("file", {
  data: Schema.String,
  mediaType: Schema.String,
  name: opt(Schema.String)
}).annotations({ identifier: "FilePart" })
/** A file a user message carries. */
export type FilePart = typeof FilePart.Type

/** A non-text part of a user message (multimodal input). */
export const UserPart = Schema.Union(ImagePart, FilePart).annotations({ identifier: "UserPart" })
/** A non-text part of a user message. */
export type UserPart = typeof UserPart.Type

/** A message of the conversation as the kernel keeps it. */
export const Message = Schema.Union(
  Schema.TaggedStruct("user", {
    content: Schema.String,
    /** Images and files sent with the text (after it), for the providers that take them. */
    parts: opt(Schema.Array(UserPart))
  }),
  Schema.TaggedStruct("assistant", { content: Schema.String, toolCalls: Schema.Array(ToolCallRef) }),
  Schema.TaggedStruct("tool", {
    toolCallId: Schema.String,
    providerCallId: opt(Schema.String),
    toolName: Schema.String,
    content: Schema.String,
    isError: Schema.Boolean
  })
).annotations({ identifier: "Message" })
/** A message of the conversation as the kernel keeps it. */
export type Message = typeof Message.Type

/** An error as it is recorded: its tag and a human-readable message. */
export const ErrorInfo = Schema.Struct({ tag: Schema.String, message: Schema.String })
/** An error as it is recorded. */
export type ErrorInfo = typeof ErrorInfo.Type

/**
 * How many values the bus's redaction pass replaced in an event, per source: `mapped` (a value already in the
 * run's mapping), a guardrail's name, a redaction rule's name, `sizeCap`, `metadataOnly`. Absent: none.
 */
export const RedactionCounts = Schema.Record({ key: Schema.String, value: Schema.Int.pipe(Schema.nonNegative()) })
  .annotations({ identifier: "RedactionCounts" })
/** How many values the bus's redaction pass replaced in an event, per source. */
export type RedactionCounts = typeof RedactionCounts.Type

const base = {
  runId: Schema.String,
  sequenceIndex: Schema.Int.pipe(Schema.nonNegative()),
  iteration: Schema.Int.pipe(Schema.nonNegative()),
  timestamp: Schema.Number,
  /** What the redaction pass replaced in this event (see {@link RedactionCounts}). */
  redacted: opt(RedactionCounts)
}
const correlated = { ...base, correlationId: Schema.String }

/** A run (or a retry of one) begins. */
export const RunStarted = Schema.TaggedStruct("RunStarted", {
  ...base,
  agentName: Schema.String,
  instructions: Schema.String,
  input: Schema.String,
  model: opt(Schema.String),
  provider: opt(Schema.String),
  tenantId: opt(Schema.String),
  parentRunId: opt(Schema.String),
  retryOfRunId: opt(Schema.String),
  /** The conversation the run continues (its initial history is the thread's recorded messages). */
  threadId: opt(Schema.String),
  idempotencyKey: opt(Schema.String),
  /** SHA-256 of the agent name and input: a second start with the same key must match it. */
  idempotencyFingerprint: opt(Schema.String),
  delegationLevel: Schema.Int,
  metadata: opt(JsonObject),
  tools: Schema.Array(Schema.String)
})
/** The `RunStarted` event. */
export type RunStarted = typeof RunStarted.Type

/** A paused run continues in a new segment. */
export const RunResumed = Schema.TaggedStruct("RunResumed", {
  ...base,
  agentName: Schema.String,
  resumedFrom: PausedStatus,
  /**
   * The thread the run continues (as on its `run.started`): a segment may resume in another process, whose
   * notifiers never saw the start, and still name the conversation.
   */
  threadId: opt(Schema.String),
  /** What was submitted (tool results, a decision or input), as the model will see it. */
  submission: Json
})
/** The `RunResumed` event. */
export type RunResumed = typeof RunResumed.Type

/** A user, assistant or tool message joins the history. */
export const MessageAppended = Schema.TaggedStruct("MessageAppended", {
  ...base,
  orderIndex: Schema.Int.pipe(Schema.nonNegative()),
  message: Message
})
/** The `MessageAppended` event. */
export type MessageAppended = typeof MessageAppended.Type

/** The structured-output Schema a call or run is asked for: its name and the SHA-256 of its JSON Schema. */
export const OutputSchemaRef = Schema.Struct({ name: Schema.String, hash: Schema.String })
/** The structured-output Schema a call or run is asked for. */
export type OutputSchemaRef = typeof OutputSchemaRef.Type

/** A model call is about to be made (durable before the call). */
export const LlmCallStarted = Schema.TaggedStruct("LlmCallStarted", {
  ...correlated,
  provider: Schema.String,
  model: Schema.String,
  messageCount: Schema.Int,
  /** The structured output the call is asked for, when the run has an `output` Schema. */
  output: opt(OutputSchemaRef)
})
/** The `LlmCallStarted` event. */
export type LlmCallStarted = typeof LlmCallStarted.Type

/**
 * One stream's aggregate: how many chunks, how many bytes, how long after the stream opened the first one came,
 * how long the stream lasted and at what rate (absent when it lasted no measurable time).
 */
export const StreamStats = Schema.Struct({
  chunkCount: Schema.Int.pipe(Schema.nonNegative()),
  bytes: Schema.Int.pipe(Schema.nonNegative()),
  /** From the stream's opening (the model call or tool handler starting) to its first chunk; absent with none. */
  timeToFirstChunkMs: opt(Schema.Number),
  /** From the stream's opening to its end. */
  durationMs: Schema.Number,
  chunksPerSecond: opt(Schema.Number),
  bytesPerSecond: opt(Schema.Number)
}).annotations({ identifier: "StreamStats" })
/** One stream's aggregate. */
export type StreamStats = typeof StreamStats.Type

/** A sampled chunk of a tool's stream, as recorded in `stream_chunks` (never in `run_events`). */
export const StreamSample = Schema.Struct({
  sequence: Schema.Int.pipe(Schema.nonNegative()),
  /** Milliseconds from the stream's opening to the chunk. */
  offsetMs: Schema.Number,
  bytes: Schema.Int.pipe(Schema.nonNegative()),
  /** `json`: `data` is the chunk; `base64`: `data` is the chunk's bytes in base64. */
  encoding: Schema.Literal("json", "base64"),
  data: Json
}).annotations({ identifier: "StreamSample" })
/** A sampled chunk of a tool's stream. */
export type StreamSample = typeof StreamSample.Type

/** A model call returned. */
export const LlmCallCompleted = Schema.TaggedStruct("LlmCallCompleted", {
  ...correlated,
  provider: Schema.String,
  model: Schema.String,
  responseModel: opt(Schema.String),
  responseId: opt(Schema.String),
  text: Schema.String,
  toolCalls: Schema.Array(ToolCallRef),
  finishReason: Schema.String,
  /**
   * The call's token counts, absent when the model reported none (no billing row is written for it, and the
   * run's cost becomes unknown: a partial sum would under-bill).
   */
  usage: opt(Usage),
  /** Why `usage.costUsd` (or `usage`) is absent, when it is. */
  costNote: opt(Schema.String),
  durationMs: Schema.Number,
  /** The semantic request: system prompt, messages and tool definitions as the kernel sent them. */
  request: Json,
  /** The exact request body sent to the vendor, when there is one. */
  providerRequest: opt(Json),
  /** The exact response body from the vendor, when there is one. */
  providerResponse: opt(Json),
  /** The aggregate of the call's deltas, when it was streamed. */
  stream: opt(StreamStats)
})
/** The `LlmCallCompleted` event. */
export type LlmCallCompleted = typeof LlmCallCompleted.Type

/** A model call failed. */
export const LlmCallFailed = Schema.TaggedStruct("LlmCallFailed", {
  ...correlated,
  provider: Schema.String,
  model: Schema.String,
  error: ErrorInfo,
  durationMs: Schema.Number
})
/** The `LlmCallFailed` event. */
export type LlmCallFailed = typeof LlmCallFailed.Type

/** Where a tool runs: in the kernel's process, or in the client (the run pauses). */
export const ToolTarget = Schema.Literal("server", "client")

/** A tool call starts (durable before a server tool executes). */
export const ToolCallStarted = Schema.TaggedStruct("ToolCallStarted", {
  ...correlated,
  providerCallId: opt(Schema.String),
  toolName: Schema.String,
  target: ToolTarget,
  arguments: Json
})
/** The `ToolCallStarted` event. */
export type ToolCallStarted = typeof ToolCallStarted.Type

/** A tool call ended; failures are `success: false` with an `error` message. */
export const ToolCallCompleted = Schema.TaggedStruct("ToolCallCompleted", {
  ...correlated,
  providerCallId: opt(Schema.String),
  toolName: Schema.String,
  target: ToolTarget,
  success: Schema.Boolean,
  result: Json,
  error: opt(Schema.String),
  durationMs: Schema.Number
})
/** The `ToolCallCompleted` event. */
export type ToolCallCompleted = typeof ToolCallCompleted.Type

/**
 * A tool's stream ended (its handler returned, failed or timed out): the stream's aggregate and, when the tool
 * samples its chunks, the sampled ones. Recorded before `tool.completed`; the chunks themselves went to
 * notifiers and the caller's stream as `StreamChunk` events and are never written to `run_events`.
 */
export const StreamEnded = Schema.TaggedStruct("StreamEnded", {
  ...correlated,
  streamId: Schema.String,
  toolName: Schema.String,
  ...StreamStats.fields,
  /** Chunks kept by sampling (`samples` holds them; written to `stream_chunks`, not to `run_events`). */
  sampledCount: Schema.Int.pipe(Schema.nonNegative()),
  samples: opt(Schema.Array(StreamSample))
})
/** The `StreamEnded` event. */
export type StreamEnded = typeof StreamEnded.Type

/** A tool call was refused by the agent's deny list; it never executed. */
export const PolicyDenied = Schema.TaggedStruct("PolicyDenied", {
  ...correlated,
  toolName: Schema.String,
  reason: Schema.String
})
/** The `PolicyDenied` event. */
export type PolicyDenied = typeof PolicyDenied.Type

/** A tool call waits for a human's approval. */
export const ApprovalRequested = Schema.TaggedStruct("ApprovalRequested", {
  ...correlated,
  toolName: Schema.String,
  arguments: Json
})
/** The `ApprovalRequested` event. */
export type ApprovalRequested = typeof ApprovalRequested.Type

/** A human approved or rejected the pending batch. */
export const ApprovalDecided = Schema.TaggedStruct("ApprovalDecided", {
  ...base,
  approved: Schema.Boolean,
  reason: opt(Schema.String)
})
/** The `ApprovalDecided` event. */
export type ApprovalDecided = typeof ApprovalDecided.Type

/** What a budget limits. */
export const BudgetKind = Schema.Literal("tokens", "cost")

/** A run crossed a budget warning fraction. */
export const BudgetThreshold = Schema.TaggedStruct("BudgetThreshold", {
  ...base,
  kind: BudgetKind,
  fraction: Schema.Number,
  used: Schema.Number,
  limit: Schema.Number
})
/** The `BudgetThreshold` event. */
export type BudgetThreshold = typeof BudgetThreshold.Type

/** A run used up its budget. */
export const BudgetExceeded = Schema.TaggedStruct("BudgetExceeded", {
  ...base,
  kind: BudgetKind,
  used: Schema.Number,
  limit: Schema.Number,
  action: Schema.Literal("warn", "stop")
})
/** The `BudgetExceeded` event. */
export type BudgetExceeded = typeof BudgetExceeded.Type

/** Which way a guardrail looked: at what goes to the model, or at what came back. */
export const GuardrailDirection = Schema.Literal("input", "output")
/** Entity types a guardrail found and how many of each (never the matched values). */
export const GuardrailEntities = Schema.Array(Schema.Struct({ type: Schema.String, count: Schema.Int }))

/** A guardrail found something. */
export const GuardrailDetected = Schema.TaggedStruct("GuardrailDetected", {
  ...base,
  guardrail: Schema.String,
  direction: GuardrailDirection,
  action: Schema.Literal("redact", "block", "warn"),
  entities: GuardrailEntities
})
/** The `GuardrailDetected` event. */
export type GuardrailDetected = typeof GuardrailDetected.Type

/** A guardrail replaced values with placeholders before the model saw them. */
export const GuardrailRedacted = Schema.TaggedStruct("GuardrailRedacted", {
  ...base,
  guardrail: Schema.String,
  direction: GuardrailDirection,
  entities: GuardrailEntities
})
/** The `GuardrailRedacted` event. */
export type GuardrailRedacted = typeof GuardrailRedacted.Type

/** A guardrail stopped the run. */
export const GuardrailBlocked = Schema.TaggedStruct("GuardrailBlocked", {
  ...base,
  guardrail: Schema.String,
  direction: GuardrailDirection,
  entities: GuardrailEntities,
  reason: Schema.String
})
/** The `GuardrailBlocked` event. */
export type GuardrailBlocked = typeof GuardrailBlocked.Type

/**
 * A run on a thread started from a window of the thread's history, and the agent's `summarize` hook summarised
 * the earlier messages the window dropped: `summary` (scanned by the guardrails) stands for them in what the
 * model is sent, as a user message before the kept ones.
 */
export const HistorySummarized = Schema.TaggedStruct("HistorySummarized", {
  ...base,
  threadId: Schema.String,
  /** How many of the thread's earlier messages the summary replaces. */
  droppedMessages: Schema.Int,
  /** How many it keeps after the summary. */
  keptMessages: Schema.Int,
  summary: Schema.String
})
/** The `HistorySummarized` event. */
export type HistorySummarized = typeof HistorySummarized.Type

/** A provider answered with a retryable failure (429, 408, 5xx, connection error) and will be asked again. */
export const ProviderRetry = Schema.TaggedStruct("ProviderRetry", {
  ...correlated,
  provider: Schema.String,
  attempt: Schema.Int,
  statusCode: opt(Schema.Int),
  retryAfterMs: opt(Schema.Number),
  endpoint: opt(Schema.String),
  reason: Schema.String
})
/** The `ProviderRetry` event. */
export type ProviderRetry = typeof ProviderRetry.Type

/**
 * The model's final answer did not decode with the run's `output` Schema. `repair` says whether the run
 * asks the model again (with `error` shown to it) or ends `error`/`output_invalid`.
 */
export const OutputInvalid = Schema.TaggedStruct("OutputInvalid", {
  ...correlated,
  schema: OutputSchemaRef,
  /** The decode error (as the model is shown it). */
  error: Schema.String,
  /** 1 for the first failed decode of the run, 2 for the next, … */
  attempt: Schema.Int,
  repair: Schema.Boolean
})
/** The `OutputInvalid` event. */
export type OutputInvalid = typeof OutputInvalid.Type

/**
 * An agent not built on the loop read or wrote its memory (recorded through manual instrumentation): the
 * store and key, and the value read or written (absent when a read found nothing).
 */
export const MemoryAccessed = Schema.TaggedStruct("MemoryAccessed", {
  ...base,
  correlationId: opt(Schema.String),
  operation: Schema.Literal("read", "write"),
  store: opt(Schema.String),
  key: Schema.String,
  value: opt(Json),
  /** For a read: whether the key was found. */
  found: opt(Schema.Boolean)
})
/** The `MemoryAccessed` event. */
export type MemoryAccessed = typeof MemoryAccessed.Type

/** A host-defined event: `name` is namespaced (`custom.<type>`), `data` is the host's JSON. */
export const CustomEvent = Schema.TaggedStruct("CustomEvent", {
  ...base,
  correlationId: opt(Schema.String),
  name: Schema.TemplateLiteral("custom.", Schema.String),
  data: Json
})
/** The `CustomEvent` event. */
export type CustomEvent = typeof CustomEvent.Type

/** A pending call the run waits on. */
export const PendingCall = Schema.Struct({
  id: Schema.String,
  providerCallId: opt(Schema.String),
  name: Schema.String,
  arguments: Json,
  target: ToolTarget
})

/**
 * The run waits for a client tool result, an approval or human input. `state` is the execution state a
 * resume needs (history, pending work, counters, budget and redaction state): the recorder stores it with
 * the run, it is never written to the event log and never shown to notifiers or the read side.
 */
export const RunPaused = Schema.TaggedStruct("RunPaused", {
  ...base,
  status: PausedStatus,
  pendingCalls: Schema.Array(PendingCall),
  prompt: opt(Schema.String),
  state: opt(Json)
})
/** The `RunPaused` event. */
export type RunPaused = typeof RunPaused.Type

/** The run ended with an answer (`success`) or ran out of iterations (`max_iterations`). */
export const RunCompleted = Schema.TaggedStruct("RunCompleted", {
  ...base,
  status: Schema.Literal("success", "max_iterations"),
  answer: opt(Schema.String),
  /** The answer decoded with the run's `output` Schema, encoded back to JSON (as recorded: placeholders kept). */
  output: opt(Json),
  iterations: Schema.Int,
  usage: Usage
})
/** The `RunCompleted` event. */
export type RunCompleted = typeof RunCompleted.Type

/** Why a run ended in `error`. */
export const FailureReason = Schema.Literal(
  "model",
  "recorder",
  "budget",
  "guardrail",
  "internal",
  "output_invalid",
  "stale_running",
  "abandoned_waiting",
  "interrupted"
)
/** Why a run ended in `error`. */
export type FailureReason = typeof FailureReason.Type

/** The run ended in `error`. */
export const RunFailed = Schema.TaggedStruct("RunFailed", {
  ...base,
  error: ErrorInfo,
  failureReason: FailureReason,
  iterations: Schema.Int,
  usage: Usage
})
/** The `RunFailed` event. */
export type RunFailed = typeof RunFailed.Type

/** The run was cancelled (`reason`: `cancel_requested`, or `interrupted` when its fiber was interrupted). */
export const RunCancelled = Schema.TaggedStruct("RunCancelled", {
  ...base,
  reason: Schema.String,
  iterations: Schema.Int,
  usage: Usage
})
/** The `RunCancelled` event. */
export type RunCancelled = typeof RunCancelled.Type

/** The sweep found a `running` run with no progress and ended it (`stale_running`). */
export const RunInterrupted = Schema.TaggedStruct("RunInterrupted", {
  ...base,
  failureReason: FailureReason,
  previousStatus: RunStatus
})
/** The `RunInterrupted` event. */
export type RunInterrupted = typeof RunInterrupted.Type

/** The sweep found a run waiting too long and ended it (`abandoned_waiting`). */
export const RunAbandoned = Schema.TaggedStruct("RunAbandoned", {
  ...base,
  failureReason: FailureReason,
  previousStatus: RunStatus
})
/** The `RunAbandoned` event. */
export type RunAbandoned = typeof RunAbandoned.Type

/** Every hook event, decodable with `Schema.decodeUnknown(HookEvent)`. */
export const HookEvent = Schema.Union(
  RunStarted,
  RunResumed,
  MessageAppended,
  LlmCallStarted,
  LlmCallCompleted,
  LlmCallFailed,
  ToolCallStarted,
  ToolCallCompleted,
  StreamEnded,
  PolicyDenied,
  ApprovalRequested,
  ApprovalDecided,
  BudgetThreshold,
  BudgetExceeded,
  GuardrailDetected,
  GuardrailRedacted,
  GuardrailBlocked,
  ProviderRetry,
  OutputInvalid,
  HistorySummarized,
  MemoryAccessed,
  CustomEvent,
  RunPaused,
  RunCompleted,
  RunFailed,
  RunCancelled,
  RunInterrupted,
  RunAbandoned
)
/** Every hook event. */
export type HookEvent = typeof HookEvent.Type
/** The `_tag` of a hook event. */
export type HookEventTag = HookEvent["_tag"]

/** The recorded `event_type` string of each event tag. */
export const EventTypes = {
  RunStarted: "run.started",
  RunResumed: "run.resumed",
  MessageAppended: "message.appended",
  LlmCallStarted: "llm.started",
  LlmCallCompleted: "llm.completed",
  LlmCallFailed: "llm.failed",
  ToolCallStarted: "tool.started",
  ToolCallCompleted: "tool.completed",
  StreamEnded: "stream.ended",
  PolicyDenied: "policy.denied",
  ApprovalRequested: "approval.requested",
  ApprovalDecided: "approval.decided",
  BudgetThreshold: "budget.threshold",
  BudgetExceeded: "budget.exceeded",
  GuardrailDetected: "guardrail.detected",
  GuardrailRedacted: "guardrail.redacted",
  GuardrailBlocked: "guardrail.blocked",
  ProviderRetry: "provider.retry",
  OutputInvalid: "output.invalid",
  HistorySummarized: "history.summarized",
  MemoryAccessed: "memory.accessed",
  CustomEvent: "custom.event",
  RunPaused: "run.paused",
  RunCompleted: "run.completed",
  RunFailed: "run.failed",
  RunCancelled: "run.cancelled",
  RunInterrupted: "run.interrupted",
  RunAbandoned: "run.abandoned"
} as const satisfies Record<HookEventTag, string>
/** A recorded `event_type` string. */
export type EventType = (typeof EventTypes)[HookEventTag]

const tagsByType: ReadonlyMap<string, HookEventTag> = new Map(
  Object.entries(EventTypes).map(([tag, type]) => [type, tag as HookEventTag])
)

/** The event tag of a recorded `event_type` string, or undefined for a string no event records. */
export const tagOfEventType = (type: string): HookEventTag | undefined => tagsByType.get(type)

/** The recorded `event_type` string of an event. */
export const eventType = (event: HookEvent): EventType => EventTypes[event._tag]
