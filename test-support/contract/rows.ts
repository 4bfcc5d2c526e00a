/**
 * What each event writes to the six tables of a SQL recorder, derived from the events a run recorded and the
 * oracle's fold. Expected rows name only the columns the contract pins down — every column but bookkeeping
 * (`agent_runs.updated_at`, `run_events.id`, the row ids of `react_traces`/`token_usage`) and `error_message` of a
 * run that did not end in `error`; a backend's reader returns decoded rows (JSON parsed, booleans as booleans,
 * numbers as numbers, times as ISO-8601 strings in the `toISOString` form, as `Tables` decodes them) so that
 * every dialect compares to the same values.
 */
import { HookEvent, Lifecycle } from "@sextant/runtime"
import type { Model } from "./oracle.js"

/** The six tables. */
export const tableNames = [
  "agent_runs",
  "react_traces",
  "tool_calls",
  "llm_interactions",
  "token_usage",
  "run_events"
] as const

/** One of the six tables. */
export type TableName = (typeof tableNames)[number]

/** A decoded row. */
export type Row = Readonly<Record<string, unknown>>

/** Every table's rows of one run. */
export type Tables = { readonly [T in TableName]: ReadonlyArray<Row> }

/** Sort keys: rows are compared in this order. */
const keyOf: { readonly [T in TableName]: (row: Row) => string } = {
  agent_runs: (r) => String(r.id),
  react_traces: (r) => String(r.order_index).padStart(8, "0"),
  tool_calls: (r) => String(r.id),
  llm_interactions: (r) => String(r.id),
  token_usage: (r) => String(r.llm_interaction_id),
  run_events: (r) => String(r.sequence_index).padStart(8, "0")
}

/** A JSON value as it reads back from a JSON column. */
const json = (value: unknown): unknown => (value === undefined ? null : JSON.parse(JSON.stringify(value)))
const orNull = <A>(value: A | undefined): A | null => (value === undefined ? null : value)
/** An event's epoch-ms time as a timestamp column reads back (the `toISOString` form). */
export const iso = (ms: number): string => new Date(ms).toISOString()
const isoOrNull = (ms: number | undefined): string | null => (ms === undefined ? null : iso(ms))

/** A run's rows reduced to the expected columns, in comparison order. */
export const project = (actual: Tables, expected: Tables): Tables => {
  const out: Partial<Record<TableName, ReadonlyArray<Row>>> = {}
  for (const table of tableNames) {
    const sorted = [...actual[table]].sort((a, b) => keyOf[table](a).localeCompare(keyOf[table](b)))
    const columns = new Set(expected[table].flatMap((row) => Object.keys(row)))
    out[table] = sorted.map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => columns.has(column))))
  }
  return out as Tables
}

/** The fields of an event stored in `run_events`' own columns rather than in its `data`. */
const stamps = new Set(["runId", "sequenceIndex", "iteration", "timestamp", "correlationId"])
/** Fields kept out of `run_events.data`: large payloads (in `llm_interactions`) and the pause state (secret). */
const notInLog: Partial<Record<HookEvent.HookEventTag, ReadonlySet<string>>> = {
  LlmCallCompleted: new Set(["request", "providerRequest", "providerResponse"]),
  RunPaused: new Set(["state"])
}

const eventRow = (event: HookEvent.HookEvent, eventType: string): Row => ({
  agent_run_id: event.runId,
  sequence_index: event.sequenceIndex,
  event_type: eventType,
  iteration: event.iteration,
  correlation_id: "correlationId" in event ? event.correlationId : null,
  data: json(
    Object.fromEntries(
      Object.entries(event).filter(([k]) => !stamps.has(k) && !(notInLog[event._tag]?.has(k) ?? false))
    )
  ),
  created_at: iso(event.timestamp)
})

const traceRow = (e: HookEvent.MessageAppended): Row => {
  const m = e.message
  return {
    agent_run_id: e.runId,
    order_index: e.orderIndex,
    iteration: e.iteration,
    role: m._tag,
    content: m.content,
    tool_calls: m._tag === "assistant" ? json(m.toolCalls) : null,
    tool_call_id: m._tag === "tool" ? m.toolCallId : null,
    provider_call_id: m._tag === "tool" ? orNull(m.providerCallId) : null,
    tool_name: m._tag === "tool" ? m.toolName : null,
    is_error: m._tag === "tool" ? m.isError : null,
    created_at: iso(e.timestamp)
  }
}

/** When a call that reports only its end began. */
const startOf = (e: { readonly timestamp: number; readonly durationMs: number }) =>
  e.timestamp - Math.max(0, Math.round(e.durationMs))

/** `tool_calls`: one row per call id; a `tool.completed` completes its `tool.started` (or stands alone). */
const toolRows = (events: ReadonlyArray<HookEvent.HookEvent>): ReadonlyArray<Row> => {
  const rows = new Map<string, Record<string, unknown>>()
  for (const e of events) {
    if (e._tag === "ToolCallStarted") {
      const before = rows.get(e.correlationId)
      rows.set(e.correlationId, {
        id: e.correlationId,
        agent_run_id: e.runId,
        provider_call_id: orNull(e.providerCallId),
        tool_name: e.toolName,
        target: e.target,
        iteration: e.iteration,
        result: null,
        success: null,
        error: null,
        duration_ms: null,
        started_at: iso(e.timestamp),
        completed_at: null,
        ...before,
        params: json(e.arguments)
      })
    } else if (e._tag === "ToolCallCompleted") {
      const before = rows.get(e.correlationId)
      rows.set(e.correlationId, {
        id: e.correlationId,
        agent_run_id: e.runId,
        provider_call_id: orNull(e.providerCallId),
        tool_name: e.toolName,
        target: e.target,
        iteration: e.iteration,
        params: null,
        started_at: iso(startOf(e)),
        ...before,
        result: json(e.result),
        success: e.success,
        error: orNull(e.error),
        duration_ms: Math.round(e.durationMs),
        completed_at: iso(e.timestamp)
      })
    }
  }
  return [...rows.values()]
}

const blankInteraction = {
  response_model: null,
  response_id: null,
  finish_reason: null,
  semantic_request: null,
  semantic_response: null,
  provider_request: null,
  provider_response: null,
  input_tokens: null,
  output_tokens: null,
  cache_read_tokens: null,
  cache_write_tokens: null,
  reasoning_tokens: null,
  cost_usd: null,
  cost_note: null,
  duration_ms: null,
  error_tag: null,
  error_message: null,
  completed_at: null
}

/** `llm_interactions`: one row per interaction id; its end overwrites everything but its identity and start. */
const interactionRows = (events: ReadonlyArray<HookEvent.HookEvent>): ReadonlyArray<Row> => {
  const rows = new Map<string, Record<string, unknown>>()
  const upsert = (id: string, runId: string, startedAt: string, fields: Record<string, unknown>) => {
    const before = rows.get(id)
    rows.set(id, {
      ...blankInteraction,
      ...before,
      ...fields,
      id,
      agent_run_id: runId,
      started_at: before?.started_at ?? startedAt
    })
  }
  for (const e of events) {
    const common = { iteration: e.iteration }
    if (e._tag === "LlmCallStarted") {
      upsert(e.correlationId, e.runId, iso(e.timestamp), {
        ...common,
        status: "started",
        provider: e.provider,
        model: e.model
      })
    } else if (e._tag === "LlmCallCompleted") {
      const u = e.usage
      upsert(e.correlationId, e.runId, iso(startOf(e)), {
        ...common,
        status: "completed",
        provider: e.provider,
        model: e.model,
        response_model: orNull(e.responseModel),
        response_id: orNull(e.responseId),
        finish_reason: e.finishReason,
        semantic_request: json(e.request),
        semantic_response: json({
          text: e.text,
          toolCalls: e.toolCalls,
          finishReason: e.finishReason,
          ...(u === undefined ? {} : { usage: u })
        }),
        provider_request: json(e.providerRequest),
        provider_response: json(e.providerResponse),
        // A call whose model reported no usage has no counts (and no billing row).
        input_tokens: orNull(u?.inputTokens),
        output_tokens: orNull(u?.outputTokens),
        cache_read_tokens: orNull(u?.cacheReadTokens),
        cache_write_tokens: orNull(u?.cacheWriteTokens),
        reasoning_tokens: orNull(u?.reasoningTokens),
        cost_usd: u?.costUsd === undefined ? null : Lifecycle.roundCost(u.costUsd),
        cost_note: orNull(e.costNote),
        duration_ms: Math.round(e.durationMs),
        completed_at: iso(e.timestamp)
      })
    } else if (e._tag === "LlmCallFailed") {
      upsert(e.correlationId, e.runId, iso(startOf(e)), {
        ...common,
        status: "failed",
        provider: e.provider,
        model: e.model,
        error_tag: e.error.tag,
        error_message: e.error.message,
        duration_ms: Math.round(e.durationMs),
        completed_at: iso(e.timestamp)
      })
    }
  }
  return [...rows.values()]
}

/**
 * `token_usage`: one billing row per completed model call that reported usage, carrying the run's tenant and
 * agent (a call without usage has none: billing rows never invent tokens).
 */
const usageRows = (started: HookEvent.RunStarted, events: ReadonlyArray<HookEvent.HookEvent>): ReadonlyArray<Row> =>
  events.flatMap((e) =>
    e._tag !== "LlmCallCompleted" || e.usage === undefined ? [] : [{
      agent_run_id: e.runId,
      llm_interaction_id: e.correlationId,
      tenant_id: orNull(started.tenantId),
      agent_name: started.agentName,
      iteration: e.iteration,
      provider: e.provider,
      model: e.responseModel ?? e.model,
      input_tokens: e.usage.inputTokens,
      output_tokens: e.usage.outputTokens,
      cache_read_tokens: orNull(e.usage.cacheReadTokens),
      cache_write_tokens: orNull(e.usage.cacheWriteTokens),
      reasoning_tokens: orNull(e.usage.reasoningTokens),
      cost_usd: e.usage.costUsd === undefined ? null : Lifecycle.roundCost(e.usage.costUsd),
      created_at: iso(e.timestamp)
    }]
  )

/** Options of `expectedTables`. */
export interface ExpectedOptions {
  /** The stored claim submission is unknown to the caller (a real resume builds it): leave it unchecked. */
  readonly submissionUnknown?: boolean
}

/** The `agent_runs` row of the model's run. */
const runRow = (model: Model, options: ExpectedOptions): Row => {
  const run = model.run!
  const started = model.started!
  const { totals } = run
  const pricedCalls = totals.modelCalls - totals.unpricedCalls
  const row: Record<string, unknown> = {
    id: run.runId,
    tenant_id: orNull(started.tenantId),
    agent_name: started.agentName,
    status: run.status,
    input: started.input,
    instructions: started.instructions,
    answer: orNull(run.answer),
    model: orNull(started.model),
    provider: orNull(started.provider),
    parent_run_id: orNull(started.parentRunId),
    delegation_level: started.delegationLevel,
    retry_of_run_id: orNull(started.retryOfRunId),
    idempotency_key: orNull(started.idempotencyKey),
    idempotency_fingerprint: orNull(started.idempotencyFingerprint),
    iteration_count: run.iterations,
    total_input_tokens: totals.usage.inputTokens,
    total_output_tokens: totals.usage.outputTokens,
    total_cache_read_tokens: orNull(totals.usage.cacheReadTokens),
    total_cache_write_tokens: orNull(totals.usage.cacheWriteTokens),
    total_reasoning_tokens: orNull(totals.usage.reasoningTokens),
    // The partial sum of the priced calls is kept (the run's cost is unknown while any call had none).
    total_cost_usd: pricedCalls > 0 ? Lifecycle.fromNanos(totals.costNanos) : null,
    model_call_count: totals.modelCalls,
    unpriced_call_count: totals.unpricedCalls,
    metadata: json(started.metadata),
    pause_state: json(run.pauseState),
    error_tag: run.error?.tag ?? null,
    failure_reason: run.error?.failureReason ?? null,
    cancel_requested: model.cancelRequested,
    last_sequence_index: run.lastSequenceIndex,
    created_at: iso(started.timestamp),
    finished_at: isoOrNull(run.finishedAt)
  }
  if (run.status === "error") row.error_message = run.error?.message ?? null
  if (model.progressFromEvents) row.last_progress_at = iso(run.lastProgressAt)
  if (options.submissionUnknown !== true) row.resume_submission = json(model.claim?.submission)
  return row
}

/** Every table's rows the model's run must have. */
export const expectedTables = (model: Model, options: ExpectedOptions = {}): Tables => {
  if (model.run === undefined || model.started === undefined) {
    return { agent_runs: [], react_traces: [], tool_calls: [], llm_interactions: [], token_usage: [], run_events: [] }
  }
  const events = model.events
  const sorted = <T extends TableName>(table: T, rows: ReadonlyArray<Row>) =>
    [...rows].sort((a, b) => keyOf[table](a).localeCompare(keyOf[table](b)))
  return {
    agent_runs: [runRow(model, options)],
    react_traces: sorted(
      "react_traces",
      events.flatMap((e) => (e._tag === "MessageAppended" ? [traceRow(e)] : []))
    ),
    tool_calls: sorted("tool_calls", toolRows(events)),
    llm_interactions: sorted("llm_interactions", interactionRows(events)),
    token_usage: sorted("token_usage", usageRows(model.started, events)),
    run_events: events.map((e) => eventRow(e, HookEvent.eventType(e)))
  }
}
