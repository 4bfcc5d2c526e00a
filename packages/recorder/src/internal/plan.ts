import type { SqlClient, Statement } from "@effect/sql"
import { HookEvent } from "@sextant/runtime"
import { stringify } from "./json.js"

type Sql = SqlClient.SqlClient
type Fragment = Statement.Fragment
/** A column value as written: JSON is already text, booleans are 0/1, timestamps ISO-8601. */
export type Value = string | number | null

/** A row for one of the event tables; rows of the same shape are written with one multi-row INSERT. */
export interface RowInsert {
  readonly table: "react_traces" | "tool_calls" | "llm_interactions"
  readonly row: Readonly<Record<string, Value>>
  /** Columns to overwrite when the row exists (an upsert on `id`). */
  readonly upsert?: ReadonlyArray<string>
}

/** A `token_usage` row; its tenant and agent are copied from the run's row. */
export interface UsageRow {
  readonly id: string
  readonly runId: string
  readonly iteration: number
  readonly provider: string
  readonly model: string
  readonly usage: HookEvent.Usage
  readonly at: string
}

/** A plain forward move of the run's row (no status change): batched across the events of a commit. */
export interface Progress {
  readonly iteration?: number
  readonly usage?: HookEvent.Usage
}

/** Everything one event writes: how it moves its run's row, its own rows, and its `run_events` row. */
export interface Plan {
  readonly runId: string
  readonly sequenceIndex: number
  readonly eventType: string
  readonly at: string
  /** The statuses the run must be in for this event (compare-and-swap), when it is a status change. */
  readonly expect: ReadonlyArray<HookEvent.RunStatus> | undefined
  /** The statement moving the run's row (insert for `run.started`, compare-and-swap update otherwise), on demand. */
  readonly advance: () => Statement.Statement<{ readonly id: string }>
  /** Set when the move is a plain progress update, which a batch writes for many events in one statement. */
  readonly progress: Progress | undefined
  readonly rows: ReadonlyArray<RowInsert>
  readonly usage: UsageRow | undefined
  /** The `run_events` row. */
  readonly event: Readonly<Record<string, Value>>
}

/** What one event type adds to the common write: a status change or progress, rows, the event data. */
interface Parts {
  /** Columns of `agent_runs` a status change sets. */
  readonly set?: ReadonlyArray<Fragment>
  readonly expect?: ReadonlyArray<HookEvent.RunStatus>
  readonly progress?: Progress
  readonly rows?: ReadonlyArray<RowInsert>
  readonly usage?: UsageRow
  /** `run_events.data` when it is not the event minus its stamped fields. */
  readonly data?: Record<string, unknown>
}

/** What a mapper may use: the client, the event's time as ISO-8601 and a JSON writer that refuses non-JSON. */
interface Ctx {
  readonly sql: Sql
  readonly at: string
  readonly json: (value: unknown) => string
}

type EventOf<T extends HookEvent.HookEventTag> = Extract<HookEvent.HookEvent, { readonly _tag: T }>
type Mapper<T extends HookEvent.HookEventTag> = (event: EventOf<T>, ctx: Ctx) => Parts

const assign = (sql: Sql, column: string, value: Value): Fragment => sql`${sql(column)} = ${value}`
const orNull = <A>(value: A | undefined): A | null => value ?? null
const bool = (value: boolean): number => (value ? 1 : 0)

/** The fields stored in their own `run_events` columns (the rest of an event is its `data`). */
const stamped = new Set(["runId", "sequenceIndex", "iteration", "timestamp", "correlationId"])
const withoutStamps = (event: HookEvent.HookEvent, drop?: ReadonlySet<string>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(event).filter(([key]) => !stamped.has(key) && !drop?.has(key)))

const finished = (ctx: Ctx, status: HookEvent.RunStatus, iterations: number) => [
  assign(ctx.sql, "status", status),
  assign(ctx.sql, "finished_at", ctx.at),
  assign(ctx.sql, "iteration_count", iterations),
  assign(ctx.sql, "pause_state", null)
]

/** An `llm_interactions` upsert: every column but its identity and start is overwritten by later events. */
const interaction = (row: Record<string, Value>): RowInsert => ({
  table: "llm_interactions",
  row,
  upsert: Object.keys(row).filter((column) => !["id", "agent_run_id", "started_at"].includes(column))
})

const startedAt = (event: { readonly timestamp: number; readonly durationMs: number }) =>
  new Date(event.timestamp - Math.max(0, Math.round(event.durationMs))).toISOString()

/** One small function per event type: its run-row changes, status guard, rows and `run_events` data. */
const mappers: { readonly [T in HookEvent.HookEventTag]: Mapper<T> } = {
  // The run's row itself is inserted by `plan` (see `advance`).
  RunStarted: () => ({}),
  // The resuming process claimed the run (waiting → running, compare-and-swap) before it records this.
  RunResumed: () => ({ expect: ["running"] }),
  MessageAppended: (e, { at, json }) => {
    const m = e.message
    return {
      rows: [{
        table: "react_traces",
        row: {
          id: `${e.runId}:${e.orderIndex}`,
          agent_run_id: e.runId,
          order_index: e.orderIndex,
          iteration: e.iteration,
          role: m._tag,
          content: m.content,
          tool_calls: m._tag === "assistant" ? json(m.toolCalls) : null,
          tool_call_id: m._tag === "tool" ? m.toolCallId : null,
          provider_call_id: m._tag === "tool" ? orNull(m.providerCallId) : null,
          tool_name: m._tag === "tool" ? m.toolName : null,
          is_error: m._tag === "tool" ? bool(m.isError) : null,
          created_at: at
        }
      }]
    }
  },
  LlmCallStarted: (e, { at }) => ({
    progress: { iteration: e.iteration },
    rows: [interaction({
      id: e.correlationId,
      agent_run_id: e.runId,
      iteration: e.iteration,
      status: "started",
      provider: e.provider,
      model: e.model,
      started_at: at
    })]
  }),
  LlmCallCompleted: (e, { at, json }) => {
    const u = e.usage
    return {
      progress: { usage: u },
      rows: [interaction({
        id: e.correlationId,
        agent_run_id: e.runId,
        iteration: e.iteration,
        status: "completed",
        provider: e.provider,
        model: e.model,
        response_model: orNull(e.responseModel),
        response_id: orNull(e.responseId),
        finish_reason: e.finishReason,
        semantic_request: json(e.request),
        semantic_response: json({ text: e.text, toolCalls: e.toolCalls, finishReason: e.finishReason, usage: u }),
        provider_request: e.providerRequest === undefined ? null : json(e.providerRequest),
        provider_response: e.providerResponse === undefined ? null : json(e.providerResponse),
        input_tokens: u.inputTokens,
        output_tokens: u.outputTokens,
        cache_read_tokens: orNull(u.cacheReadTokens),
        cache_write_tokens: orNull(u.cacheWriteTokens),
        reasoning_tokens: orNull(u.reasoningTokens),
        cost_usd: orNull(u.costUsd),
        cost_note: orNull(e.costNote),
        duration_ms: Math.round(e.durationMs),
        started_at: startedAt(e),
        completed_at: at
      })],
      // Billing rows carry the run's tenant and agent, so usage queries need no join.
      usage: {
        id: e.correlationId,
        runId: e.runId,
        iteration: e.iteration,
        provider: e.provider,
        model: e.responseModel ?? e.model,
        usage: u,
        at
      },
      // The request and the vendor payloads can be large: they live in llm_interactions only.
      data: withoutStamps(e, new Set(["request", "providerRequest", "providerResponse"]))
    }
  },
  LlmCallFailed: (e, { at }) => ({
    rows: [interaction({
      id: e.correlationId,
      agent_run_id: e.runId,
      iteration: e.iteration,
      status: "failed",
      provider: e.provider,
      model: e.model,
      error_tag: e.error.tag,
      error_message: e.error.message,
      duration_ms: Math.round(e.durationMs),
      started_at: startedAt(e),
      completed_at: at
    })]
  }),
  ToolCallStarted: (e, { at, json }) => ({
    rows: [{
      table: "tool_calls",
      row: {
        id: e.correlationId,
        agent_run_id: e.runId,
        provider_call_id: orNull(e.providerCallId),
        tool_name: e.toolName,
        target: e.target,
        iteration: e.iteration,
        params: json(e.arguments),
        started_at: at
      },
      upsert: ["params"]
    }]
  }),
  // An upsert: a client tool's result arrives without a `tool.started` in this segment.
  ToolCallCompleted: (e, { at, json }) => ({
    rows: [{
      table: "tool_calls",
      row: {
        id: e.correlationId,
        agent_run_id: e.runId,
        provider_call_id: orNull(e.providerCallId),
        tool_name: e.toolName,
        target: e.target,
        iteration: e.iteration,
        result: json(e.result),
        success: bool(e.success),
        error: orNull(e.error),
        duration_ms: Math.round(e.durationMs),
        started_at: startedAt(e),
        completed_at: at
      },
      upsert: ["result", "success", "error", "duration_ms", "completed_at"]
    }]
  }),
  PolicyDenied: () => ({}),
  ApprovalRequested: () => ({}),
  ApprovalDecided: () => ({}),
  BudgetThreshold: () => ({}),
  BudgetExceeded: () => ({}),
  GuardrailDetected: () => ({}),
  GuardrailRedacted: () => ({}),
  GuardrailBlocked: () => ({}),
  ProviderRetry: () => ({}),
  // The execution state a resume needs is stored with the run and never written to the event log.
  RunPaused: (e, ctx) => ({
    expect: ["running"],
    set: [
      assign(ctx.sql, "status", e.status),
      assign(ctx.sql, "iteration_count", e.iteration),
      assign(ctx.sql, "pause_state", ctx.json(e.state ?? { pendingCalls: e.pendingCalls, prompt: e.prompt ?? null }))
    ],
    data: withoutStamps(e, new Set(["state"]))
  }),
  RunCompleted: (e, ctx) => ({
    expect: ["running"],
    set: [...finished(ctx, e.status, e.iterations), assign(ctx.sql, "answer", orNull(e.answer))]
  }),
  RunFailed: (e, ctx) => ({
    expect: ["running"],
    set: [
      ...finished(ctx, "error", e.iterations),
      assign(ctx.sql, "error_tag", e.error.tag),
      assign(ctx.sql, "error_message", e.error.message),
      assign(ctx.sql, "failure_reason", e.failureReason)
    ]
  }),
  // A paused run is claimed (set running) by the canceller first, so cancelling always moves from running.
  RunCancelled: (e, ctx) => ({
    expect: ["running"],
    set: [...finished(ctx, "cancelled", e.iterations), assign(ctx.sql, "error_message", e.reason)]
  }),
  RunInterrupted: (e, ctx) => ({
    expect: [e.previousStatus],
    set: swept(ctx, e.failureReason, "RunInterrupted", "no progress was recorded for too long while running")
  }),
  RunAbandoned: (e, ctx) => ({
    expect: [e.previousStatus],
    set: swept(ctx, e.failureReason, "RunAbandoned", `waited too long in ${e.previousStatus}`)
  })
}

function swept(ctx: Ctx, reason: string, tag: string, message: string) {
  return [
    assign(ctx.sql, "status", "error"),
    assign(ctx.sql, "finished_at", ctx.at),
    assign(ctx.sql, "failure_reason", reason),
    assign(ctx.sql, "error_tag", tag),
    assign(ctx.sql, "error_message", message),
    assign(ctx.sql, "pause_state", null)
  ]
}

const insertRun = (sql: Sql, e: HookEvent.RunStarted, at: string, json: (value: unknown) => string) =>
  sql<{ readonly id: string }>`INSERT INTO agent_runs ${
    sql.insert({
      id: e.runId,
      tenant_id: orNull(e.tenantId),
      agent_name: e.agentName,
      status: "running",
      input: e.input,
      instructions: e.instructions,
      model: orNull(e.model),
      provider: orNull(e.provider),
      parent_run_id: orNull(e.parentRunId),
      delegation_level: e.delegationLevel,
      retry_of_run_id: orNull(e.retryOfRunId),
      idempotency_key: orNull(e.idempotencyKey),
      idempotency_fingerprint: orNull(e.idempotencyFingerprint),
      metadata: e.metadata === undefined ? null : json(e.metadata),
      last_sequence_index: e.sequenceIndex,
      created_at: at,
      updated_at: at,
      last_progress_at: at
    })
  } ON CONFLICT DO NOTHING RETURNING id`

/** The SET fragments of a progress move (per-event form; batches use `progressStatement`). */
const progressSet = (sql: Sql, progress: Progress): ReadonlyArray<Fragment> => {
  const out: Array<Fragment> = []
  if (progress.iteration !== undefined) out.push(assign(sql, "iteration_count", progress.iteration))
  const u = progress.usage
  if (u !== undefined) {
    const add = (column: string, value: number) => sql`${sql(column)} = ${sql(column)} + ${value}`
    const addOptional = (column: string, value: number | undefined) =>
      value === undefined ? [] : [sql`${sql(column)} = COALESCE(${sql(column)}, 0) + ${value}`]
    out.push(
      add("total_input_tokens", u.inputTokens),
      add("total_output_tokens", u.outputTokens),
      ...addOptional("total_cache_read_tokens", u.cacheReadTokens),
      ...addOptional("total_cache_write_tokens", u.cacheWriteTokens),
      ...addOptional("total_reasoning_tokens", u.reasoningTokens),
      ...addOptional("total_cost_usd", u.costUsd),
      add("model_call_count", 1),
      add("unpriced_call_count", u.costUsd === undefined ? 1 : 0)
    )
  }
  return out
}

/**
 * The writes of one event. Every JSON value is serialised here, before any statement runs, so an event that
 * cannot be written fails on its own (throws `NotJson`) and never reaches a transaction.
 */
export const plan = (sql: Sql, event: HookEvent.HookEvent): Plan => {
  const at = new Date(event.timestamp).toISOString()
  const ctx: Ctx = { sql, at, json: stringify }
  const parts = (mappers[event._tag] as Mapper<HookEvent.HookEventTag>)(event, ctx)
  const seq = event.sequenceIndex
  const progress = event._tag === "RunStarted" || parts.set !== undefined || parts.expect !== undefined
    ? undefined
    : parts.progress ?? {}
  // A batch moves plain progress with one statement for all its events: build the per-event UPDATE only if needed.
  const inserted = event._tag === "RunStarted" ? insertRun(sql, event, at, stringify) : undefined
  const advance = () =>
    inserted ?? sql<{ readonly id: string }>`
    UPDATE agent_runs SET ${
      sql.csv([
        assign(sql, "last_sequence_index", seq),
        assign(sql, "last_progress_at", at),
        assign(sql, "updated_at", at),
        ...(parts.set ?? []),
        ...(progress === undefined ? [] : progressSet(sql, progress))
      ])
    }
    WHERE ${
      sql.and([
        sql`id = ${event.runId}`,
        sql`last_sequence_index = ${seq - 1}`,
        ...(parts.expect === undefined ? [] : [sql`status IN ${sql.in(parts.expect)}`])
      ])
    } RETURNING id`
  const eventRow = {
    agent_run_id: event.runId,
    sequence_index: seq,
    event_type: HookEvent.eventType(event),
    iteration: event.iteration,
    correlation_id: "correlationId" in event ? event.correlationId : null,
    data: stringify(parts.data ?? withoutStamps(event)),
    created_at: at
  }
  return {
    runId: event.runId,
    sequenceIndex: seq,
    eventType: eventRow.event_type,
    at,
    expect: parts.expect,
    advance,
    progress,
    rows: parts.rows ?? [],
    usage: parts.usage,
    event: eventRow
  }
}
