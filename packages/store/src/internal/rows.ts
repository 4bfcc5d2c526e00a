/**
 * Row schemas of the six tables (snake_case, as selected) and their mapping to the public records.
 */
import { Effect, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import type * as R from "../Records.js"
import { Bool, JsonText, NullBool, NullJson, NullNum, NullStr, NullTime, Num, Time } from "./codec.js"

/** Column lists; JSON columns are cast to text on Postgres (see `columns`). */
const summaryColumns = [
  "id",
  "agent_name",
  "status",
  "tenant_id",
  "model",
  "provider",
  "parent_run_id",
  "retry_of_run_id",
  "delegation_level",
  "iteration_count",
  "total_input_tokens",
  "total_output_tokens",
  "total_cache_read_tokens",
  "total_cache_write_tokens",
  "total_reasoning_tokens",
  "total_cost_usd",
  "model_call_count",
  "unpriced_call_count",
  "metadata:json",
  "created_at",
  "updated_at",
  "finished_at"
]
const detailColumns = [
  ...summaryColumns,
  "input",
  "instructions",
  "answer",
  "error_tag",
  "error_message",
  "failure_reason",
  "idempotency_key",
  "cancel_requested",
  "last_sequence_index",
  "last_progress_at"
]
const eventColumns = [
  "agent_run_id",
  "sequence_index",
  "event_type",
  "iteration",
  "correlation_id",
  "data:json",
  "created_at"
]
const traceColumns = [
  "order_index",
  "iteration",
  "role",
  "content",
  "tool_calls:json",
  "tool_call_id",
  "provider_call_id",
  "tool_name",
  "is_error",
  "created_at"
]
const toolColumns = [
  "id",
  "provider_call_id",
  "tool_name",
  "target",
  "iteration",
  "params:json",
  "result:json",
  "success",
  "error",
  "duration_ms",
  "started_at",
  "completed_at"
]
const llmColumns = [
  "id",
  "iteration",
  "status",
  "provider",
  "model",
  "response_model",
  "response_id",
  "finish_reason",
  "semantic_request:json",
  "semantic_response:json",
  "provider_request:json",
  "provider_response:json",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_usd",
  "cost_note",
  "duration_ms",
  "error_tag",
  "error_message",
  "started_at",
  "completed_at"
]
const usageColumns = [
  "id",
  "llm_interaction_id",
  "iteration",
  "provider",
  "model",
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_usd",
  "created_at"
]

/** The SELECT lists of each record for a dialect (JSON columns as text, so both dialects parse the same way). */
export const columns = (pg: boolean) => {
  const list = (cols: ReadonlyArray<string>) =>
    cols.map((c) => {
      const [name, kind] = c.split(":")
      return kind === "json" && pg ? `${name}::text AS ${name}` : name!
    }).join(", ")
  return {
    summary: list(summaryColumns),
    detail: list(detailColumns),
    event: list(eventColumns),
    trace: list(traceColumns),
    tool: list(toolColumns),
    llm: list(llmColumns),
    usage: list(usageColumns)
  }
}
/** The SELECT lists of each record. */
export type Columns = ReturnType<typeof columns>

/** Decodes rows with `row` and maps each to a record. */
const decoder = <A, I, B>(row: Schema.Schema<A, I>, map: (a: A) => B) => {
  // Synchronous decoding (an Either) skips the fiber machinery of an Effect-returning decoder.
  const decode = Schema.decodeUnknownEither(Schema.Array(row))
  return (rows: ReadonlyArray<unknown>): Effect.Effect<Array<B>, ParseError> =>
    Effect.map(decode(rows), (rs) => rs.map(map))
}

const SummaryRow = Schema.Struct({
  id: Schema.String,
  agent_name: Schema.String,
  status: Schema.String,
  tenant_id: NullStr,
  model: NullStr,
  provider: NullStr,
  parent_run_id: NullStr,
  retry_of_run_id: NullStr,
  delegation_level: Num,
  iteration_count: Num,
  total_input_tokens: Num,
  total_output_tokens: Num,
  total_cache_read_tokens: NullNum,
  total_cache_write_tokens: NullNum,
  total_reasoning_tokens: NullNum,
  total_cost_usd: NullNum,
  model_call_count: Num,
  unpriced_call_count: Num,
  metadata: NullJson,
  created_at: Time,
  updated_at: Time,
  finished_at: NullTime
})

const DetailRow = Schema.Struct({
  ...SummaryRow.fields,
  input: Schema.String,
  instructions: Schema.String,
  answer: NullStr,
  error_tag: NullStr,
  error_message: NullStr,
  failure_reason: NullStr,
  idempotency_key: NullStr,
  cancel_requested: Bool,
  last_sequence_index: Num,
  last_progress_at: Time
})

const toSummary = (r: typeof SummaryRow.Type): R.RunSummary => ({
  id: r.id,
  agentName: r.agent_name,
  status: r.status as R.RunStatus,
  tenantId: r.tenant_id,
  model: r.model,
  provider: r.provider,
  parentRunId: r.parent_run_id,
  retryOfRunId: r.retry_of_run_id,
  delegationLevel: r.delegation_level,
  iterationCount: r.iteration_count,
  totals: {
    inputTokens: r.total_input_tokens,
    outputTokens: r.total_output_tokens,
    cacheReadTokens: r.total_cache_read_tokens,
    cacheWriteTokens: r.total_cache_write_tokens,
    reasoningTokens: r.total_reasoning_tokens,
    costUsd: r.total_cost_usd,
    modelCallCount: r.model_call_count,
    unpricedCallCount: r.unpriced_call_count
  },
  metadata: r.metadata,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at
})

const recordedError = (tag: string | null, message: string | null) =>
  message === null && tag === null ? null : { tag, message: message ?? "" }

/** Decodes `agent_runs` rows selected with `columns.summary`. */
export const runSummaries = decoder(SummaryRow, toSummary)

/** Decodes `agent_runs` rows selected with `columns.detail`. */
export const runDetails = decoder(DetailRow, (r): R.RunDetail => ({
  ...toSummary(r),
  input: r.input,
  instructions: r.instructions,
  answer: r.answer,
  error: recordedError(r.error_tag, r.error_message),
  failureReason: r.failure_reason,
  idempotencyKey: r.idempotency_key,
  cancelRequested: r.cancel_requested,
  lastSequenceIndex: r.last_sequence_index,
  lastProgressAt: r.last_progress_at
}))

/** Decodes `run_events` rows selected with `columns.event`. */
export const storedEvents = decoder(
  Schema.Struct({
    agent_run_id: Schema.String,
    sequence_index: Num,
    event_type: Schema.String,
    iteration: Num,
    correlation_id: NullStr,
    data: JsonText,
    created_at: Time
  }),
  (r): R.StoredEvent => ({
    runId: r.agent_run_id,
    sequenceIndex: r.sequence_index,
    eventType: r.event_type,
    iteration: r.iteration,
    correlationId: r.correlation_id,
    data: r.data,
    createdAt: r.created_at
  })
)

/** Decodes `react_traces` rows selected with `columns.trace`. */
export const traceEntries = decoder(
  Schema.Struct({
    order_index: Num,
    iteration: Num,
    role: Schema.String,
    content: Schema.String,
    tool_calls: NullJson,
    tool_call_id: NullStr,
    provider_call_id: NullStr,
    tool_name: NullStr,
    is_error: NullBool,
    created_at: Time
  }),
  (r): R.TraceEntry => ({
    orderIndex: r.order_index,
    iteration: r.iteration,
    role: r.role,
    content: r.content,
    toolCalls: r.tool_calls,
    toolCallId: r.tool_call_id,
    providerCallId: r.provider_call_id,
    toolName: r.tool_name,
    isError: r.is_error,
    createdAt: r.created_at
  })
)

/** Decodes `tool_calls` rows selected with `columns.tool`. */
export const toolCalls = decoder(
  Schema.Struct({
    id: Schema.String,
    provider_call_id: NullStr,
    tool_name: Schema.String,
    target: Schema.String,
    iteration: Num,
    params: NullJson,
    result: NullJson,
    success: NullBool,
    error: NullStr,
    duration_ms: NullNum,
    started_at: Time,
    completed_at: NullTime
  }),
  (r): R.ToolCall => ({
    id: r.id,
    providerCallId: r.provider_call_id,
    toolName: r.tool_name,
    target: r.target,
    iteration: r.iteration,
    params: r.params,
    result: r.result,
    success: r.success,
    error: r.error,
    durationMs: r.duration_ms,
    startedAt: r.started_at,
    completedAt: r.completed_at
  })
)

/** Decodes `llm_interactions` rows selected with `columns.llm`. */
export const llmCalls = decoder(
  Schema.Struct({
    id: Schema.String,
    iteration: Num,
    status: Schema.String,
    provider: Schema.String,
    model: Schema.String,
    response_model: NullStr,
    response_id: NullStr,
    finish_reason: NullStr,
    semantic_request: NullJson,
    semantic_response: NullJson,
    provider_request: NullJson,
    provider_response: NullJson,
    input_tokens: NullNum,
    output_tokens: NullNum,
    cache_read_tokens: NullNum,
    cache_write_tokens: NullNum,
    reasoning_tokens: NullNum,
    cost_usd: NullNum,
    cost_note: NullStr,
    duration_ms: NullNum,
    error_tag: NullStr,
    error_message: NullStr,
    started_at: Time,
    completed_at: NullTime
  }),
  (r): R.LlmCall => ({
    id: r.id,
    iteration: r.iteration,
    status: r.status,
    provider: r.provider,
    model: r.model,
    responseModel: r.response_model,
    responseId: r.response_id,
    finishReason: r.finish_reason,
    semanticRequest: r.semantic_request,
    semanticResponse: r.semantic_response,
    providerRequest: r.provider_request,
    providerResponse: r.provider_response,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cacheReadTokens: r.cache_read_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    reasoningTokens: r.reasoning_tokens,
    costUsd: r.cost_usd,
    costNote: r.cost_note,
    durationMs: r.duration_ms,
    error: recordedError(r.error_tag, r.error_message),
    startedAt: r.started_at,
    completedAt: r.completed_at
  })
)

/** Decodes `token_usage` rows selected with `columns.usage`. */
export const usageRecords = decoder(
  Schema.Struct({
    id: Schema.String,
    llm_interaction_id: Schema.String,
    iteration: Num,
    provider: Schema.String,
    model: Schema.String,
    input_tokens: Num,
    output_tokens: Num,
    cache_read_tokens: NullNum,
    cache_write_tokens: NullNum,
    reasoning_tokens: NullNum,
    cost_usd: NullNum,
    created_at: Time
  }),
  (r): R.UsageRecord => ({
    id: r.id,
    llmInteractionId: r.llm_interaction_id,
    iteration: r.iteration,
    provider: r.provider,
    model: r.model,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cacheReadTokens: r.cache_read_tokens,
    cacheWriteTokens: r.cache_write_tokens,
    reasoningTokens: r.reasoning_tokens,
    costUsd: r.cost_usd,
    createdAt: r.created_at
  })
)

/** Sums over `token_usage` (see `usageSums` in the store's SQL). */
export const UsageSumsRow = Schema.Struct({
  input_tokens: Num,
  output_tokens: Num,
  cache_read_tokens: Num,
  cache_write_tokens: Num,
  reasoning_tokens: Num,
  cost_usd: Num,
  run_count: Num,
  model_call_count: Num,
  unpriced_call_count: Num
})

/** Maps a sums row to `UsageTotals`. */
export const toUsageTotals = (r: typeof UsageSumsRow.Type): R.UsageTotals => ({
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cacheReadTokens: r.cache_read_tokens,
  cacheWriteTokens: r.cache_write_tokens,
  reasoningTokens: r.reasoning_tokens,
  costUsd: r.cost_usd,
  runCount: r.run_count,
  modelCallCount: r.model_call_count,
  unpricedCallCount: r.unpriced_call_count
})
