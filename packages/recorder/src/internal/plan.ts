import type { SqlClient, Statement } from "@effect/sql"
import { HookEvent, Lifecycle } from "@sextant/runtime"
import type { RequestDeltas } from "./deltas.js"
import { escapeText } from "./escape.js"
import { type Sealer, sealRow } from "./sealed.js"
import {
  agentRuns,
  llmInteractions,
  reactTraces,
  runEvents,
  runStreams,
  streamChunks,
  toolCalls,
  type Value
} from "./tables.js"

type Sql = SqlClient.SqlClient
type Fragment = Statement.Fragment
/** A column value as bound to a statement. */
export type { Value }

/** A row for one of the event tables; rows of the same shape are written with one multi-row INSERT. */
export interface RowInsert {
  readonly table: "react_traces" | "tool_calls" | "llm_interactions" | "run_streams" | "stream_chunks"
  /** Column values, encoded by the table's codecs. */
  readonly row: Readonly<Record<string, Value>>
  /** Columns to overwrite when the row exists (an upsert on `id`). */
  readonly upsert?: ReadonlyArray<string>
}

/** A `token_usage` row (text already encoded); its tenant and agent are copied from the run's row. */
export interface UsageRow {
  readonly id: string
  readonly runKey: string
  readonly iteration: number
  readonly provider: string
  readonly model: string
  readonly usage: HookEvent.Usage
  readonly costNanos: number | null
  readonly at: string
}

/** A forward move of the run's row without a status change: batched across the events of a commit. */
export interface Progress {
  /** The status the run must be in (the lifecycle's guard). */
  readonly status: HookEvent.RunStatus
  readonly iteration?: number
  readonly usage?: HookEvent.Usage
}

/** Everything one event writes: how it moves its run's row, its own rows, and its `run_events` row. */
export interface Plan {
  readonly event: HookEvent.HookEvent
  readonly runId: string
  /** The run id as the tables store it (escaped), for statements that look the run up. */
  readonly runKey: string
  readonly sequenceIndex: number
  readonly eventType: string
  readonly at: string
  /** What the event does to its run, from the lifecycle's transition table. */
  readonly step: Lifecycle.Step
  /** The statement moving the run's row (insert for `run.started`, compare-and-swap update otherwise), on demand. */
  readonly advance: () => Statement.Statement<{ readonly id: string }>
  /** Set when the move is a plain progress update, which a batch writes for many events in one statement. */
  readonly progress: Progress | undefined
  /** `run.started`'s `agent_runs` row (encoded), inserted unless the run exists. */
  readonly runRow: Readonly<Record<string, Value>> | undefined
  /** The `agent_runs` columns a status-changing step sets (encoded; empty for progress and `run.started`). */
  readonly columns: Readonly<Record<string, Value>>
  readonly rows: ReadonlyArray<RowInsert>
  readonly usage: UsageRow | undefined
  /** The `run_events` row. */
  readonly eventRow: Readonly<Record<string, Value>>
}

/** What one event type writes besides its run's row: rows, billing, the event data. */
interface Parts {
  readonly rows?: ReadonlyArray<RowInsert>
  readonly usage?: UsageRow
  /** `run_events.data` when it is not the event minus its stamped fields. */
  readonly data?: Record<string, unknown>
  /** Remembers what this event's rows assumed (the run's last request), once they are encoded. */
  readonly commit?: () => void
}

type EventOf<T extends HookEvent.HookEventTag> = Extract<HookEvent.HookEvent, { readonly _tag: T }>
type Mapper<T extends HookEvent.HookEventTag> = (event: EventOf<T>, at: string, codec: Codec) => Parts

/** How a recorder stores content: request deltas (its memory of each run's last request) and sealing. */
export interface Codec {
  readonly deltas?: RequestDeltas | undefined
  readonly sealer?: Sealer | undefined
}

const noCodec: Codec = {}

const orNull = <A>(value: A | undefined): A | null => value ?? null

/** The fields stored in their own `run_events` columns (the rest of an event is its `data`). */
const stamped = new Set(["runId", "sequenceIndex", "iteration", "timestamp", "correlationId"])
const withoutStamps = (event: HookEvent.HookEvent, drop?: ReadonlySet<string>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(event).filter(([key]) => !stamped.has(key) && !drop?.has(key)))

/** An `llm_interactions` upsert: every column but its identity and start is overwritten by later events. */
const interaction = (row: Record<string, Value>): RowInsert => ({
  table: "llm_interactions",
  row,
  upsert: Object.keys(row).filter((column) => !["id", "agent_run_id", "started_at"].includes(column))
})

const startedAt = (event: { readonly timestamp: number; readonly durationMs: number }) =>
  new Date(event.timestamp - Math.max(0, Math.round(event.durationMs))).toISOString()

/** A stream's aggregate row (`run_streams`), for a tool's `stream.ended` or a streamed model call. */
const streamRow = (
  e: { readonly runId: string; readonly correlationId: string; readonly iteration: number },
  kind: "tool" | "model",
  name: string,
  stats: HookEvent.StreamStats,
  sampledCount: number,
  endedAt: number
): RowInsert => ({
  table: "run_streams",
  row: runStreams.encode({
    id: e.correlationId,
    agent_run_id: e.runId,
    kind,
    name,
    iteration: e.iteration,
    chunk_count: stats.chunkCount,
    bytes: stats.bytes,
    time_to_first_chunk_ms: orNull(stats.timeToFirstChunkMs),
    duration_ms: stats.durationMs,
    chunks_per_second: orNull(stats.chunksPerSecond),
    bytes_per_second: orNull(stats.bytesPerSecond),
    sampled_count: sampledCount,
    started_at: new Date(endedAt - Math.max(0, Math.round(stats.durationMs))).toISOString(),
    ended_at: new Date(endedAt).toISOString()
  })
})

/**
 * The counts and cost of a billing row, in the column order of `token_usage` (input, output, cache read, cache
 * write, reasoning, cost in USD, cost in nano-dollars): both writers bind them in this order.
 */
export const usageCounts = (u: UsageRow): ReadonlyArray<Value> => [
  u.usage.inputTokens,
  u.usage.outputTokens,
  u.usage.cacheReadTokens ?? null,
  u.usage.cacheWriteTokens ?? null,
  u.usage.reasoningTokens ?? null,
  u.costNanos === null ? null : Lifecycle.fromNanos(u.costNanos),
  u.costNanos
]

const nanosOf = (usage: HookEvent.Usage | undefined): number | null =>
  usage?.costUsd === undefined ? null : Lifecycle.toNanos(usage.costUsd)

/**
 * One small function per event type: its rows and `run_events` data. What the event does to the run's row
 * (guard, status, iterations, totals, pause state, error) is the lifecycle's (`Lifecycle.stepOf`).
 */
const mappers: { readonly [T in HookEvent.HookEventTag]: Mapper<T> } = {
  RunStarted: () => ({}),
  RunResumed: () => ({}),
  MessageAppended: (e, at) => {
    const m = e.message
    return {
      rows: [{
        table: "react_traces",
        row: reactTraces.encode({
          id: `${e.runId}:${e.orderIndex}`,
          agent_run_id: e.runId,
          order_index: e.orderIndex,
          iteration: e.iteration,
          role: m._tag,
          content: m.content,
          tool_calls: m._tag === "assistant" ? m.toolCalls : null,
          tool_call_id: m._tag === "tool" ? m.toolCallId : null,
          provider_call_id: m._tag === "tool" ? orNull(m.providerCallId) : null,
          tool_name: m._tag === "tool" ? m.toolName : null,
          is_error: m._tag === "tool" ? m.isError : null,
          created_at: at,
          parts: m._tag === "user" && m.parts !== undefined ? m.parts : null
        })
      }]
    }
  },
  LlmCallStarted: (e, at) => ({
    rows: [interaction(llmInteractions.encode({
      id: e.correlationId,
      agent_run_id: e.runId,
      iteration: e.iteration,
      status: "started",
      provider: e.provider,
      model: e.model,
      started_at: at
    }))]
  }),
  LlmCallCompleted: (e, at, codec) => {
    const u = e.usage
    const costNanos = nanosOf(u)
    const delta = codec.deltas?.delta(e.runId, e.correlationId, e.sequenceIndex, e.request)
    return {
      rows: [
        ...(e.stream === undefined
          ? []
          : [streamRow(e, "model", e.responseModel ?? e.model, e.stream, 0, e.timestamp)]),
        interaction(llmInteractions.encode({
          id: e.correlationId,
          agent_run_id: e.runId,
          iteration: e.iteration,
          status: "completed",
          provider: e.provider,
          model: e.model,
          response_model: orNull(e.responseModel),
          response_id: orNull(e.responseId),
          finish_reason: e.finishReason,
          semantic_request: delta === undefined ? e.request : delta.request,
          // Only the messages new since the run's previous call are stored; the store rebuilds the full request.
          ...(delta === undefined || delta.base === null
            ? {}
            : { request_base: delta.base, request_prefix: delta.prefix }),
          semantic_response: {
            text: e.text,
            toolCalls: e.toolCalls,
            finishReason: e.finishReason,
            ...(u === undefined ? {} : { usage: u })
          },
          provider_request: orNull(e.providerRequest),
          provider_response: orNull(e.providerResponse),
          // A model that reported no usage has no counts here and no billing row: nothing is made up.
          input_tokens: orNull(u?.inputTokens),
          output_tokens: orNull(u?.outputTokens),
          cache_read_tokens: orNull(u?.cacheReadTokens),
          cache_write_tokens: orNull(u?.cacheWriteTokens),
          reasoning_tokens: orNull(u?.reasoningTokens),
          // The USD column says what `cost_nanos` says (whole nano-dollars), never the float the provider computed.
          cost_usd: costNanos === null ? null : Lifecycle.fromNanos(costNanos),
          cost_nanos: costNanos,
          cost_note: orNull(e.costNote),
          duration_ms: Math.round(e.durationMs),
          started_at: startedAt(e),
          completed_at: at
        }))
      ],
      // Billing rows carry the run's tenant and agent, so usage queries need no join.
      ...(u === undefined ? {} : {
        usage: {
          id: escapeText(e.correlationId),
          runKey: escapeText(e.runId),
          iteration: e.iteration,
          provider: escapeText(e.provider),
          model: escapeText(e.responseModel ?? e.model),
          usage: u,
          costNanos,
          at
        }
      }),
      // The request and the vendor payloads can be large: they live in llm_interactions only.
      data: withoutStamps(e, new Set(["request", "providerRequest", "providerResponse"])),
      ...(delta === undefined ? {} : { commit: delta.commit })
    }
  },
  LlmCallFailed: (e, at) => ({
    rows: [interaction(llmInteractions.encode({
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
    }))]
  }),
  ToolCallStarted: (e, at) => ({
    rows: [{
      table: "tool_calls",
      row: toolCalls.encode({
        id: e.correlationId,
        agent_run_id: e.runId,
        provider_call_id: orNull(e.providerCallId),
        tool_name: e.toolName,
        target: e.target,
        iteration: e.iteration,
        params: e.arguments,
        started_at: at
      }),
      upsert: ["params"]
    }]
  }),
  // An upsert: a client tool's result arrives without a `tool.started` in this segment.
  ToolCallCompleted: (e, at) => ({
    rows: [{
      table: "tool_calls",
      row: toolCalls.encode({
        id: e.correlationId,
        agent_run_id: e.runId,
        provider_call_id: orNull(e.providerCallId),
        tool_name: e.toolName,
        target: e.target,
        iteration: e.iteration,
        result: e.result,
        success: e.success,
        error: orNull(e.error),
        duration_ms: Math.round(e.durationMs),
        started_at: startedAt(e),
        completed_at: at
      }),
      upsert: ["result", "success", "error", "duration_ms", "completed_at"]
    }]
  }),
  // One aggregate row, and the sampled chunks in `stream_chunks`: the chunks never enter `run_events`.
  StreamEnded: (e) => {
    const started = e.timestamp - Math.max(0, Math.round(e.durationMs))
    return {
      rows: [
        streamRow(e, "tool", e.toolName, e, e.sampledCount, e.timestamp),
        ...(e.samples ?? []).map((c): RowInsert => ({
          table: "stream_chunks",
          row: streamChunks.encode({
            stream_id: e.streamId,
            agent_run_id: e.runId,
            sequence: c.sequence,
            offset_ms: c.offsetMs,
            bytes: c.bytes,
            encoding: c.encoding,
            data: c.data,
            created_at: new Date(started + Math.round(c.offsetMs)).toISOString()
          })
        }))
      ],
      data: withoutStamps(e, new Set(["samples"]))
    }
  },
  PolicyDenied: () => ({}),
  ApprovalRequested: () => ({}),
  ApprovalDecided: () => ({}),
  BudgetThreshold: () => ({}),
  BudgetExceeded: () => ({}),
  GuardrailDetected: () => ({}),
  GuardrailRedacted: () => ({}),
  GuardrailBlocked: () => ({}),
  ProviderRetry: () => ({}),
  HistorySummarized: () => ({}),
  OutputInvalid: () => ({}),
  MemoryAccessed: () => ({}),
  CustomEvent: () => ({}),
  // The execution state a resume needs is stored with the run and never written to the event log.
  RunPaused: (e) => ({ data: withoutStamps(e, new Set(["state"])) }),
  RunCompleted: () => ({}),
  RunFailed: () => ({}),
  RunCancelled: () => ({}),
  RunInterrupted: () => ({}),
  RunAbandoned: () => ({})
}

/** Whether a step only moves its run forward (no status, pause state, answer or error): batchable. */
const isProgress = (step: Lifecycle.Step): step is Lifecycle.Step & { readonly from: readonly [HookEvent.RunStatus] } =>
  step.from !== "new" && step.from.length === 1 && step.to === undefined && step.pauseState === undefined &&
  step.finishes === undefined && step.answer === undefined && step.error === undefined &&
  step.cancelReason === undefined

const assign = (sql: Sql, column: string, value: Value): Fragment => sql`${sql(column)} = ${value}`

/** The columns of `agent_runs` a status-changing step sets, encoded. */
const stepColumns = (event: HookEvent.HookEvent, step: Lifecycle.Step, at: string): Record<string, Value> => {
  // A pause without an execution state stores none (as the lifecycle says): the pending calls are in the
  // event's own data, and a made-up state would read as one a resume could use.
  const pauseState = step.pauseState === "store" && event._tag === "RunPaused" ? event.state ?? null : null
  return agentRuns.encode({
    ...(step.to === undefined ? {} : { status: step.to }),
    ...(step.iterations === undefined ? {} : { iteration_count: step.iterations }),
    // The submission that resumed the run is consumed by the next pause or the end: it is not kept.
    ...(step.pauseState === undefined ? {} : { pause_state: pauseState, resume_submission: null }),
    ...(step.finishes === true ? { finished_at: at } : {}),
    ...(step.answer === undefined ? {} : { answer: step.answer }),
    ...(step.error === undefined
      ? {}
      : { error_tag: step.error.tag, error_message: step.error.message, failure_reason: step.error.failureReason }),
    ...(step.cancelReason === undefined ? {} : { error_message: step.cancelReason })
  })
}

/** Costs are summed as integer nano-dollars; the USD total is derived from them, so both dialects agree. */
export const costFromNanos = (sql: Sql, nanos: Fragment): Fragment =>
  sql`CAST(${nanos} AS DOUBLE PRECISION) / CAST(${Lifecycle.NANOS_PER_USD} AS DOUBLE PRECISION)`

/** The SET fragments adding a model call's usage to the run's totals (per-event form; batches use `batch.ts`). */
const usageSet = (sql: Sql, u: HookEvent.Usage): ReadonlyArray<Fragment> => {
  const add = (column: string, value: number) => sql`${sql(column)} = ${sql(column)} + ${value}`
  const addOptional = (column: string, value: number | undefined) =>
    value === undefined ? [] : [sql`${sql(column)} = COALESCE(${sql(column)}, 0) + ${value}`]
  const nanos = nanosOf(u)
  return [
    add("total_input_tokens", u.inputTokens),
    add("total_output_tokens", u.outputTokens),
    ...addOptional("total_cache_read_tokens", u.cacheReadTokens),
    ...addOptional("total_cache_write_tokens", u.cacheWriteTokens),
    ...addOptional("total_reasoning_tokens", u.reasoningTokens),
    ...(nanos === null ? [] : [
      sql`total_cost_nanos = COALESCE(total_cost_nanos, 0) + ${nanos}`,
      sql`total_cost_usd = ${costFromNanos(sql, sql`COALESCE(total_cost_nanos, 0) + ${nanos}`)}`
    ]),
    add("model_call_count", 1),
    add("unpriced_call_count", nanos === null ? 1 : 0)
  ]
}

const runRowOf = (e: HookEvent.RunStarted, at: string): Record<string, Value> =>
  agentRuns.encode({
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
    thread_id: orNull(e.threadId),
    idempotency_key: orNull(e.idempotencyKey),
    idempotency_fingerprint: orNull(e.idempotencyFingerprint),
    metadata: orNull(e.metadata),
    last_sequence_index: e.sequenceIndex,
    created_at: at,
    updated_at: at,
    last_progress_at: at
  })

const insertRun = (sql: Sql, row: Record<string, Value>) =>
  sql<{ readonly id: string }>`INSERT INTO agent_runs ${sql.insert(row)} ON CONFLICT DO NOTHING RETURNING id`

/**
 * The writes of one event. Every value is encoded here (JSON serialised, strings escaped), before any statement
 * runs, so an event that cannot be written fails on its own (throws `NotJson`) and never reaches a transaction.
 */
export const plan = (sql: Sql, event: HookEvent.HookEvent, codec: Codec = noCodec): Plan => {
  const at = new Date(event.timestamp).toISOString()
  const step = Lifecycle.stepOf(event)
  const parts = (mappers[event._tag] as Mapper<HookEvent.HookEventTag>)(event, at, codec)
  const sealer = codec.sealer
  const seq = event.sequenceIndex
  const runKey = escapeText(event.runId)
  const progress: Progress | undefined = isProgress(step)
    ? {
      status: step.from[0],
      ...(step.iterations === undefined ? {} : { iteration: step.iterations }),
      ...(step.addUsage === undefined ? {} : { usage: step.addUsage })
    }
    : undefined
  // Encoded now, so that a pause state JSON cannot carry fails before anything is written.
  const columns = progress === undefined && step.from !== "new"
    ? sealRow(sealer, "agent_runs", stepColumns(event, step, at))
    : {}
  const runRow = event._tag === "RunStarted" ? sealRow(sealer, "agent_runs", runRowOf(event, at)) : undefined
  const inserted = runRow === undefined ? undefined : insertRun(sql, runRow)
  // A batch moves plain progress with one statement for all its events: build the per-event UPDATE only if needed.
  const advance = () =>
    inserted ?? sql<{ readonly id: string }>`
    UPDATE agent_runs SET ${
      sql.csv([
        assign(sql, "last_sequence_index", seq),
        assign(sql, "last_progress_at", at),
        assign(sql, "updated_at", at),
        ...Object.entries(columns).map(([column, value]) => assign(sql, column, value)),
        ...(progress?.iteration === undefined ? [] : [assign(sql, "iteration_count", progress.iteration)]),
        ...(step.addUsage === undefined ? [] : usageSet(sql, step.addUsage))
      ])
    }
    WHERE ${
      sql.and([
        sql`id = ${runKey}`,
        sql`last_sequence_index = ${seq - 1}`,
        ...(step.from === "new" ? [] : [sql`status IN ${sql.in(step.from)}`])
      ])
    } RETURNING id`
  const eventType = HookEvent.eventType(event)
  const eventRow = sealRow(
    sealer,
    "run_events",
    runEvents.encode({
      agent_run_id: event.runId,
      sequence_index: seq,
      event_type: eventType,
      iteration: event.iteration,
      correlation_id: "correlationId" in event ? event.correlationId : null,
      data: parts.data ?? withoutStamps(event),
      created_at: at
    })
  )
  const rows = parts.rows ?? []
  // Everything is encoded: the run's last request can be remembered; a run that stops leaves the memory.
  parts.commit?.()
  if (step.finishes === true || event._tag === "RunPaused") codec.deltas?.forget(event.runId)
  return {
    event,
    runId: event.runId,
    runKey,
    sequenceIndex: seq,
    eventType,
    at,
    step,
    advance,
    progress,
    runRow,
    columns,
    rows: sealer === undefined ? rows : rows.map((r) => ({ ...r, row: sealRow(sealer, r.table, r.row) })),
    usage: parts.usage,
    eventRow
  }
}
