/**
 * What the store selects from each of the six tables and how a row becomes a public record. The columns and
 * their codecs are the recorder's `Tables` (text unescaped, JSON parsed, numbers, booleans and timestamps alike
 * on both dialects); this module only names which columns each record needs and maps them. This is the
 * reference decoding: the list and event hot paths use the hand-written mappers of `mappers.ts`, which tests
 * check against it.
 */
import { Tables } from "@sextant/recorder"
import { Lifecycle } from "@sextant/runtime"
import { Either, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import type * as R from "../Records.js"

/** What a selection needs of a `Tables` table (its public parts only). */
interface TableOf<Row> {
  readonly definition: { readonly [K in keyof Row]: { readonly kind: Tables.Kind } }
  readonly columns: ReadonlyArray<Extract<keyof Row, string>>
  readonly Row: { readonly fields: Schema.Struct.Fields }
}

/** Some columns of a table: the SELECT list of each dialect and the Schema of such a row (the table's codecs). */
export interface Selection<Row, K extends keyof Row> {
  readonly names: ReadonlyArray<K>
  /** Postgres: JSON columns cast to text, so that one decoder reads both dialects (even over a client that parses JSON). */
  readonly pg: string
  readonly sqlite: string
  readonly Row: Schema.Schema<{ readonly [P in K]: Row[P] }, unknown>
}

/** Some columns of a table, by name. */
export const selection = <Row, const K extends Extract<keyof Row, string>>(
  table: TableOf<NoInfer<Row>>,
  names: ReadonlyArray<K>
): Selection<Row, K> => {
  const list = (pg: boolean) =>
    names.map((n) => (pg && table.definition[n].kind === "json" ? `${n}::text AS ${n}` : n)).join(", ")
  return {
    names,
    pg: list(true),
    sqlite: list(false),
    Row: Schema.Struct(Object.fromEntries(names.map((n) => [n, table.Row.fields[n]!]))) as never
  }
}

/** Every column of a table but `omitted` (a column the recorder adds is selected and decoded without an edit here). */
const allBut = <Row, const K extends Extract<keyof Row, string>>(
  table: TableOf<NoInfer<Row>>,
  omitted: ReadonlyArray<K>
): Selection<Row, Exclude<Extract<keyof Row, string>, K>> =>
  selection(
    table,
    table.columns.filter((c): c is Exclude<Extract<keyof Row, string>, K> =>
      !(omitted as ReadonlyArray<string>).includes(c)
    )
  )

const summaryColumns = [
  "id",
  "agent_name",
  "status",
  "tenant_id",
  "model",
  "provider",
  "parent_run_id",
  "retry_of_run_id",
  "thread_id",
  "delegation_level",
  "iteration_count",
  "total_input_tokens",
  "total_output_tokens",
  "total_cache_read_tokens",
  "total_cache_write_tokens",
  "total_reasoning_tokens",
  "total_cost_nanos",
  "model_call_count",
  "unpriced_call_count",
  "metadata",
  "created_at",
  "updated_at",
  "finished_at"
] as const satisfies ReadonlyArray<keyof Tables.AgentRun>

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
] as const satisfies ReadonlyArray<keyof Tables.AgentRun>

/** The `agent_runs` columns of a `RunSummary`. */
export const summary: Selection<Tables.AgentRun, typeof summaryColumns[number]> = selection(
  Tables.agentRuns,
  summaryColumns
)

/** The `agent_runs` columns of a `RunDetail` (never the pause state, the submission or the fingerprint). */
export const detail: Selection<Tables.AgentRun, typeof detailColumns[number]> = selection(
  Tables.agentRuns,
  detailColumns
)

/** `run_events` as a `StoredEvent`. */
export const event: Selection<Tables.RunEvent, Exclude<keyof Tables.RunEvent, "id">> = allBut(Tables.runEvents, ["id"])
/** `react_traces` as a `TraceEntry`. */
export const trace: Selection<Tables.ReactTrace, Exclude<keyof Tables.ReactTrace, "id" | "agent_run_id">> = allBut(
  Tables.reactTraces,
  ["id", "agent_run_id"]
)
/** `tool_calls` as a `ToolCall`. */
export const tool: Selection<Tables.ToolCall, Exclude<keyof Tables.ToolCall, "agent_run_id">> = allBut(
  Tables.toolCalls,
  ["agent_run_id"]
)
/** `llm_interactions` as an `LlmCall` (the call's cost as reported; sums use the nanos). */
export const llm: Selection<
  Tables.LlmInteraction,
  Exclude<keyof Tables.LlmInteraction, "agent_run_id" | "cost_nanos">
> = allBut(Tables.llmInteractions, ["agent_run_id", "cost_nanos"])
/** `token_usage` as a `UsageRecord`. */
export const usage: Selection<
  Tables.TokenUsage,
  Exclude<keyof Tables.TokenUsage, "agent_run_id" | "tenant_id" | "agent_name" | "cost_nanos">
> = allBut(Tables.tokenUsage, ["agent_run_id", "tenant_id", "agent_name", "cost_nanos"])

/** The SELECT lists of each record on a dialect. */
export const columns = (pg: boolean) => {
  const of = (s: { readonly pg: string; readonly sqlite: string }) => (pg ? s.pg : s.sqlite)
  return {
    summary: of(summary),
    detail: of(detail),
    event: of(event),
    trace: of(trace),
    tool: of(tool),
    llm: of(llm),
    usage: of(usage)
  }
}
/** The SELECT lists of each record. */
export type Columns = ReturnType<typeof columns>

/** A cost summed in nano-dollars, in dollars (the same division on every dialect: `Lifecycle.fromNanos`). */
export const costOf = (nanos: number | null): number | null => (nanos === null ? null : Lifecycle.fromNanos(nanos))

/** Decodes rows with a selection's Schema and maps each to a record. */
const decoder = <A, B>(row: Schema.Schema<A, unknown>, map: (a: A) => B) => {
  // Synchronous decoding (an Either) skips the fiber machinery of an Effect-returning decoder.
  const decode = Schema.decodeUnknownEither(Schema.Array(row))
  return (rows: ReadonlyArray<unknown>): Either.Either<Array<B>, ParseError> =>
    Either.map(decode(rows), (rs) => rs.map(map))
}

type SummaryRow = Schema.Schema.Type<typeof summary.Row>
type DetailRow = Schema.Schema.Type<typeof detail.Row>

/** A decoded summary row as a `RunSummary`. */
export const toSummary = (r: SummaryRow): R.RunSummary => ({
  id: r.id,
  agentName: r.agent_name,
  status: r.status as R.RunStatus,
  tenantId: r.tenant_id,
  model: r.model,
  provider: r.provider,
  parentRunId: r.parent_run_id,
  retryOfRunId: r.retry_of_run_id,
  threadId: r.thread_id,
  delegationLevel: r.delegation_level,
  iterationCount: r.iteration_count,
  totals: {
    inputTokens: r.total_input_tokens,
    outputTokens: r.total_output_tokens,
    cacheReadTokens: r.total_cache_read_tokens,
    cacheWriteTokens: r.total_cache_write_tokens,
    reasoningTokens: r.total_reasoning_tokens,
    costUsd: costOf(r.total_cost_nanos),
    modelCallCount: r.model_call_count,
    unpricedCallCount: r.unpriced_call_count
  },
  metadata: r.metadata as R.RunSummary["metadata"],
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  finishedAt: r.finished_at
})

/** An error as recorded (null when neither its tag nor its message was). */
export const recordedError = (tag: string | null, message: string | null) =>
  message === null && tag === null ? null : { tag, message: message ?? "" }

/** Decodes `agent_runs` rows selected with `columns.summary` (the reference of `mappers.runSummaries`). */
export const runSummaries = decoder(summary.Row, toSummary)

/** Decodes `agent_runs` rows selected with `columns.detail`. */
export const runDetails = decoder(detail.Row, (r: DetailRow): R.RunDetail => ({
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

/** Decodes `run_events` rows selected with `columns.event` (the reference of `mappers.storedEvents`). */
export const storedEvents = decoder(event.Row, (r): R.StoredEvent => ({
  runId: r.agent_run_id,
  sequenceIndex: r.sequence_index,
  eventType: r.event_type,
  iteration: r.iteration,
  correlationId: r.correlation_id,
  data: r.data,
  createdAt: r.created_at
}))

/** Decodes `react_traces` rows selected with `columns.trace`. */
export const traceEntries = decoder(trace.Row, (r): R.TraceEntry => ({
  orderIndex: r.order_index,
  iteration: r.iteration,
  role: r.role,
  content: r.content,
  toolCalls: r.tool_calls,
  toolCallId: r.tool_call_id,
  providerCallId: r.provider_call_id,
  toolName: r.tool_name,
  isError: r.is_error,
  createdAt: r.created_at,
  parts: r.parts
}))

/** Decodes `tool_calls` rows selected with `columns.tool`. */
export const toolCalls = decoder(tool.Row, (r): R.ToolCall => ({
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
}))

/** A decoded `llm_interactions` row selected with `columns.llm`. */
export type LlmRow = Schema.Schema.Type<typeof llm.Row>

/** Decodes `llm_interactions` rows selected with `columns.llm`, as rows (`toLlmCall` maps one). */
export const llmRows = decoder(llm.Row, (r: LlmRow) => r)

/** The columns `calls.llmCalls` rebuilds a delta-stored request from (every call of the run). */
export const requestChain: Selection<
  Tables.LlmInteraction,
  "id" | "semantic_request" | "request_base" | "request_prefix"
> = selection(Tables.llmInteractions, ["id", "semantic_request", "request_base", "request_prefix"])

/** Decodes `requestChain` rows. */
export const requestChainRows = decoder(requestChain.Row, (r) => r)

/** A decoded `llm_interactions` row as an `LlmCall` (its `semantic_request` already rebuilt in full). */
export const toLlmCall = (r: LlmRow): R.LlmCall => ({
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

/** Decodes `llm_interactions` rows selected with `columns.llm` (requests as stored: see `calls.llmCalls`). */
export const llmCalls = decoder(llm.Row, toLlmCall)

/** Decodes `token_usage` rows selected with `columns.usage`. */
export const usageRecords = decoder(usage.Row, (r): R.UsageRecord => ({
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
}))

/**
 * Sums over `token_usage` (see `usage.ts`): every count an aggregate (a number, or a decimal string for
 * Postgres' `SUM(bigint)`), and the cost summed in nano-dollars.
 */
export const UsageSumsRow = Schema.Struct({
  input_tokens: Tables.Num,
  output_tokens: Tables.Num,
  cache_read_tokens: Tables.Num,
  cache_write_tokens: Tables.Num,
  reasoning_tokens: Tables.Num,
  cost_nanos: Tables.Num,
  run_count: Tables.Num,
  model_call_count: Tables.Num,
  unpriced_call_count: Tables.Num
})

/** Maps a sums row to `UsageTotals`. */
export const toUsageTotals = (r: typeof UsageSumsRow.Type): R.UsageTotals => ({
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cacheReadTokens: r.cache_read_tokens,
  cacheWriteTokens: r.cache_write_tokens,
  reasoningTokens: r.reasoning_tokens,
  costUsd: Lifecycle.fromNanos(r.cost_nanos),
  runCount: r.run_count,
  modelCallCount: r.model_call_count,
  unpricedCallCount: r.unpriced_call_count
})
