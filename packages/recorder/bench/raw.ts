/**
 * The recorder's baselines, written as a careful user would write them without Sextant: the same events
 * serialised to the same rows of the same six tables (JSON as text, ISO-8601 timestamps, the same
 * compare-and-swap on the run's row), with the bare driver.
 * - SQLite: better-sqlite3, one statement per table and shape prepared once, executed row by row inside one
 *   transaction per group of events.
 * - Postgres: node-postgres, one named statement per table and shape taking `unnest` arrays, so a group of
 *   events costs one round trip per shape inside its transaction (a row per round trip would be the weak
 *   baseline).
 * - Naive: the single-row statements through @effect/sql (the library the recorder is built on), each event in
 *   its own transaction: what committing per event costs through the same driver.
 * The serialisation (`rowsOf`) is timed with the writes; `precompile` moves it out for the precompiled row.
 */
import { SqlClient } from "@effect/sql"
import type { HookEvent } from "@sextant/runtime"
import { Effect } from "effect"
import { createRequire } from "node:module"
import type pg from "pg"

const require = createRequire(import.meta.url)

/** The slice of better-sqlite3 the baselines use (the package ships no types here). */
export interface SqliteDb {
  pragma: (s: string) => unknown
  prepare: (s: string) => SqliteStatement
  exec: (s: string) => void
  transaction: (f: () => void) => () => void
  close: () => void
}
interface SqliteStatement {
  run: (...p: ReadonlyArray<unknown>) => { changes: number }
  all: (...p: ReadonlyArray<unknown>) => Array<unknown>
}
/** Opens a better-sqlite3 database. */
export const openSqlite = (file: string, options?: { readonly readonly?: boolean }): SqliteDb => {
  const Database = require("better-sqlite3") as new(file: string, options?: { readonly?: boolean }) => SqliteDb
  return new Database(file, options)
}

type Value = string | number | null
type PgType = "text" | "int" | "float8" | "ts" | "jsonb" | "bool"

/** One statement shape: a key, its columns (with their Postgres types) and how many runs it must move. */
interface Shape {
  readonly key: string
  readonly columns: ReadonlyArray<readonly [string, PgType]>
  /** Single-row text with `:column` placeholders (a column may appear twice); see `compileSingle`. */
  readonly single: string
  /** The Postgres batch text over `unnest` arrays named v(columns). */
  readonly batch: string
  /** A compare-and-swap or insert-if-absent: the statement must return one row per event. */
  readonly mustMove: boolean
}

const pgArray: Record<PgType, string> = {
  text: "text[]",
  int: "bigint[]",
  float8: "float8[]",
  ts: "timestamptz[]",
  jsonb: "jsonb[]",
  bool: "boolean[]"
}
const unnest = (columns: ReadonlyArray<readonly [string, PgType]>) =>
  `unnest(${columns.map(([, t], i) => `$${i + 1}::${pgArray[t]}`).join(", ")}) AS v(${
    columns.map(([c]) => c).join(", ")
  })`
const list = (columns: ReadonlyArray<readonly [string, PgType]>) => columns.map(([c]) => c).join(", ")
const marks = (columns: ReadonlyArray<readonly [string, PgType]>) => columns.map(([c]) => `:${c}`).join(", ")

const insert = (
  key: string,
  table: string,
  columns: ReadonlyArray<readonly [string, PgType]>,
  conflict: "nothing" | ReadonlyArray<string> | undefined
): Shape => {
  const onConflict = conflict === undefined
    ? ""
    : conflict === "nothing"
    ? " ON CONFLICT DO NOTHING RETURNING id"
    : ` ON CONFLICT (id) DO UPDATE SET ${conflict.map((c) => `${c} = excluded.${c}`).join(", ")}`
  return {
    key,
    columns,
    single: `INSERT INTO ${table} (${list(columns)}) VALUES (${marks(columns)})${onConflict}`,
    batch: `INSERT INTO ${table} (${list(columns)}) SELECT * FROM ${unnest(columns)}${onConflict}`,
    mustMove: conflict === "nothing"
  }
}

const RUN_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["tenant_id", "text"],
  ["agent_name", "text"],
  ["status", "text"],
  ["input", "text"],
  ["instructions", "text"],
  ["model", "text"],
  ["provider", "text"],
  ["parent_run_id", "text"],
  ["delegation_level", "int"],
  ["retry_of_run_id", "text"],
  ["idempotency_key", "text"],
  ["idempotency_fingerprint", "text"],
  ["metadata", "jsonb"],
  ["last_sequence_index", "int"],
  ["created_at", "ts"],
  ["updated_at", "ts"],
  ["last_progress_at", "ts"]
]

// A plain forward move of the run (every event but the first and status changes), usage deltas added.
const PROGRESS_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["seq", "int"],
  ["at", "ts"],
  ["iter", "int"],
  ["d_in", "int"],
  ["d_out", "int"],
  ["d_cache_read", "int"],
  ["d_cache_write", "int"],
  ["d_reasoning", "int"],
  ["d_cost", "float8"],
  ["d_calls", "int"],
  ["d_unpriced", "int"],
  ["id", "text"],
  ["prev", "int"]
]
const progressSet = (v: (c: string) => string, t: string) =>
  [
    `last_sequence_index = ${v("seq")}, last_progress_at = ${v("at")}, updated_at = ${v("at")}`,
    `iteration_count = COALESCE(${v("iter")}, ${t}iteration_count)`,
    `total_input_tokens = ${t}total_input_tokens + ${v("d_in")}`,
    `total_output_tokens = ${t}total_output_tokens + ${v("d_out")}`,
    // NULL + x is NULL: a first optional delta sets the column, a missing one leaves it.
    ...[
      ["total_cache_read_tokens", "d_cache_read"],
      ["total_cache_write_tokens", "d_cache_write"],
      ["total_reasoning_tokens", "d_reasoning"],
      ["total_cost_usd", "d_cost"]
    ].map(([c, d]) => `${c} = COALESCE(${t}${c} + ${v(d!)}, ${t}${c}, ${v(d!)})`),
    `model_call_count = ${t}model_call_count + ${v("d_calls")}`,
    `unpriced_call_count = ${t}unpriced_call_count + ${v("d_unpriced")}`
  ].join(", ")
const progress: Shape = {
  key: "progress",
  columns: PROGRESS_COLUMNS,
  // SQLite binds positionally: the optional deltas appear twice (see `progressParams`).
  single: `UPDATE agent_runs SET ${
    progressSet((c) => `:${c}`, "")
  } WHERE id = :id AND last_sequence_index = :prev RETURNING id`,
  batch: `UPDATE agent_runs SET ${progressSet((c) => `v.${c}`, "agent_runs.")} FROM ${
    unnest(PROGRESS_COLUMNS)
  } WHERE agent_runs.id = v.id AND agent_runs.last_sequence_index = v.prev RETURNING agent_runs.id`,
  mustMove: true
}

const FINISH_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["seq", "int"],
  ["at", "ts"],
  ["status", "text"],
  ["iterations", "int"],
  ["answer", "text"],
  ["id", "text"],
  ["prev", "int"]
]
const finish: Shape = {
  key: "finish",
  columns: FINISH_COLUMNS,
  single: `UPDATE agent_runs SET last_sequence_index = :seq, last_progress_at = :at, updated_at = :at,
    status = :status, finished_at = :at, iteration_count = :iterations, pause_state = NULL, answer = :answer
    WHERE id = :id AND last_sequence_index = :prev AND status = 'running' RETURNING id`,
  batch: `UPDATE agent_runs SET last_sequence_index = v.seq, last_progress_at = v.at, updated_at = v.at,
    status = v.status, finished_at = v.at, iteration_count = v.iterations, pause_state = NULL, answer = v.answer
    FROM ${unnest(FINISH_COLUMNS)}
    WHERE agent_runs.id = v.id AND agent_runs.last_sequence_index = v.prev AND agent_runs.status = 'running'
    RETURNING agent_runs.id`,
  mustMove: true
}

const TRACE_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["agent_run_id", "text"],
  ["order_index", "int"],
  ["iteration", "int"],
  ["role", "text"],
  ["content", "text"],
  ["tool_calls", "jsonb"],
  ["tool_call_id", "text"],
  ["provider_call_id", "text"],
  ["tool_name", "text"],
  ["is_error", "bool"],
  ["created_at", "ts"]
]
const LLM_START_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["agent_run_id", "text"],
  ["iteration", "int"],
  ["status", "text"],
  ["provider", "text"],
  ["model", "text"],
  ["started_at", "ts"]
]
const LLM_DONE_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["agent_run_id", "text"],
  ["iteration", "int"],
  ["status", "text"],
  ["provider", "text"],
  ["model", "text"],
  ["response_model", "text"],
  ["response_id", "text"],
  ["finish_reason", "text"],
  ["semantic_request", "jsonb"],
  ["semantic_response", "jsonb"],
  ["provider_request", "jsonb"],
  ["provider_response", "jsonb"],
  ["input_tokens", "int"],
  ["output_tokens", "int"],
  ["cache_read_tokens", "int"],
  ["cache_write_tokens", "int"],
  ["reasoning_tokens", "int"],
  ["cost_usd", "float8"],
  ["cost_note", "text"],
  ["duration_ms", "int"],
  ["started_at", "ts"],
  ["completed_at", "ts"]
]
const TOOL_START_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["agent_run_id", "text"],
  ["provider_call_id", "text"],
  ["tool_name", "text"],
  ["target", "text"],
  ["iteration", "int"],
  ["params", "jsonb"],
  ["started_at", "ts"]
]
const TOOL_DONE_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["agent_run_id", "text"],
  ["provider_call_id", "text"],
  ["tool_name", "text"],
  ["target", "text"],
  ["iteration", "int"],
  ["result", "jsonb"],
  ["success", "bool"],
  ["error", "text"],
  ["duration_ms", "int"],
  ["started_at", "ts"],
  ["completed_at", "ts"]
]
const USAGE_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["id", "text"],
  ["run", "text"],
  ["iteration", "int"],
  ["provider", "text"],
  ["model", "text"],
  ["inp", "int"],
  ["outp", "int"],
  ["cache_read", "int"],
  ["cache_write", "int"],
  ["reasoning", "int"],
  ["cost", "float8"],
  ["at", "ts"]
]
const usage: Shape = {
  key: "usage",
  columns: USAGE_COLUMNS,
  // Billing rows carry the run's tenant and agent, copied from its row (as the recorder does).
  single: `INSERT INTO token_usage (id, llm_interaction_id, iteration, provider, model, input_tokens, output_tokens,
      cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, created_at, agent_run_id, tenant_id, agent_name)
    SELECT :id, :id, :iteration, :provider, :model, :inp, :outp, :cache_read, :cache_write, :reasoning, :cost, :at,
      id, tenant_id, agent_name FROM agent_runs WHERE id = :run`,
  batch: `INSERT INTO token_usage (id, llm_interaction_id, iteration, provider, model, input_tokens, output_tokens,
      cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, created_at, agent_run_id, tenant_id, agent_name)
    SELECT v.id, v.id, v.iteration, v.provider, v.model, v.inp, v.outp, v.cache_read, v.cache_write, v.reasoning,
      v.cost, v.at, r.id, r.tenant_id, r.agent_name
    FROM ${unnest(USAGE_COLUMNS)} JOIN agent_runs r ON r.id = v.run`,
  mustMove: false
}
const EVENT_COLUMNS: ReadonlyArray<readonly [string, PgType]> = [
  ["agent_run_id", "text"],
  ["sequence_index", "int"],
  ["event_type", "text"],
  ["iteration", "int"],
  ["correlation_id", "text"],
  ["data", "jsonb"],
  ["created_at", "ts"]
]

/** Every statement shape of the workload, by key. */
export const shapes: Record<string, Shape> = Object.fromEntries(
  [
    insert("run", "agent_runs", RUN_COLUMNS, "nothing"),
    progress,
    finish,
    insert("trace", "react_traces", TRACE_COLUMNS, undefined),
    insert(
      "llm_start",
      "llm_interactions",
      LLM_START_COLUMNS,
      LLM_START_COLUMNS.map(([c]) => c).filter((c) => !["id", "agent_run_id", "started_at"].includes(c))
    ),
    insert(
      "llm_done",
      "llm_interactions",
      LLM_DONE_COLUMNS,
      LLM_DONE_COLUMNS.map(([c]) => c).filter((c) => !["id", "agent_run_id", "started_at"].includes(c))
    ),
    insert("tool_start", "tool_calls", TOOL_START_COLUMNS, ["params"]),
    insert("tool_done", "tool_calls", TOOL_DONE_COLUMNS, ["result", "success", "error", "duration_ms", "completed_at"]),
    usage,
    insert("event", "run_events", EVENT_COLUMNS, undefined)
  ].map((s) => [s.key, s])
)

/** The order shapes run in within a group (run rows move first; children after their run exists). */
const ORDER = [
  "run",
  "finish",
  "progress",
  "trace",
  "llm_start",
  "llm_done",
  "tool_start",
  "tool_done",
  "usage",
  "event"
]

/** One statement of one event: its shape and its parameters in the shape's column order. */
export type Row = readonly [key: string, params: ReadonlyArray<Value>]

const iso = (ms: number) => new Date(ms).toISOString()
const orNull = <A>(a: A | undefined): A | null => a ?? null
const json = (value: unknown) => JSON.stringify(value)
const STAMPS = new Set(["runId", "sequenceIndex", "iteration", "timestamp", "correlationId"])
const dataOf = (event: object, drop?: ReadonlySet<string>) => {
  const out: Record<string, unknown> = {}
  for (const key in event) {
    if (!STAMPS.has(key) && drop?.has(key) !== true) out[key] = (event as Record<string, unknown>)[key]
  }
  return json(out)
}
const LLM_DROP = new Set(["request", "providerRequest", "providerResponse"])

const progressParams = (
  e: HookEvent.HookEvent,
  at: string,
  iteration: number | null,
  u: HookEvent.Usage | undefined
): ReadonlyArray<Value> => [
  e.sequenceIndex,
  at,
  iteration,
  u?.inputTokens ?? 0,
  u?.outputTokens ?? 0,
  orNull(u?.cacheReadTokens),
  orNull(u?.cacheWriteTokens),
  orNull(u?.reasoningTokens),
  orNull(u?.costUsd),
  u === undefined ? 0 : 1,
  u !== undefined && u.costUsd === undefined ? 1 : 0,
  e.runId,
  e.sequenceIndex - 1
]

/**
 * The serialisation: an event's statements with their parameters (the same rows the recorder writes for
 * these event types). Throws on an event type outside the benchmark's workload.
 */
// The request delta the recorder stores (`deltas.ts`): per run, the last call's id and messages; a call stores
// only the messages after the prefix it shares with that one (by reference, else by JSON text).
const lastRequests = new Map<string, { readonly callId: string; readonly messages: ReadonlyArray<unknown> }>()
const requestDelta = (e: HookEvent.LlmCallCompleted) => {
  const request = e.request as { readonly messages?: ReadonlyArray<unknown> } | undefined
  const messages = request?.messages
  if (!Array.isArray(messages)) return { request: e.request, base: null, prefix: null }
  const last = lastRequests.get(e.runId)
  lastRequests.delete(e.runId)
  if (lastRequests.size >= 10_000) lastRequests.delete(lastRequests.keys().next().value!)
  lastRequests.set(e.runId, { callId: e.correlationId, messages })
  if (last === undefined) return { request: e.request, base: null, prefix: null }
  const n = Math.min(last.messages.length, messages.length)
  let prefix = 0
  while (
    prefix < n &&
    (last.messages[prefix] === messages[prefix] ||
      JSON.stringify(last.messages[prefix]) === JSON.stringify(messages[prefix]))
  ) prefix++
  return prefix === 0
    ? { request: e.request, base: null, prefix: null }
    : { request: { ...request, messages: messages.slice(prefix) }, base: last.callId, prefix }
}

export const rowsOf = (e: HookEvent.HookEvent): ReadonlyArray<Row> => {
  const at = iso(e.timestamp)
  const eventRow = (data: string): Row => [
    "event",
    [e.runId, e.sequenceIndex, eventType[e._tag]!, e.iteration, "correlationId" in e ? e.correlationId : null, data, at]
  ]
  switch (e._tag) {
    case "RunStarted":
      return [
        ["run", [
          e.runId,
          orNull(e.tenantId),
          e.agentName,
          "running",
          e.input,
          e.instructions,
          orNull(e.model),
          orNull(e.provider),
          orNull(e.parentRunId),
          e.delegationLevel,
          orNull(e.retryOfRunId),
          orNull(e.idempotencyKey),
          orNull(e.idempotencyFingerprint),
          e.metadata === undefined ? null : json(e.metadata),
          e.sequenceIndex,
          at,
          at,
          at
        ]],
        eventRow(dataOf(e))
      ]
    case "MessageAppended": {
      const m = e.message
      return [
        ["progress", progressParams(e, at, null, undefined)],
        ["trace", [
          `${e.runId}:${e.orderIndex}`,
          e.runId,
          e.orderIndex,
          e.iteration,
          m._tag,
          m.content,
          m._tag === "assistant" ? json(m.toolCalls) : null,
          m._tag === "tool" ? m.toolCallId : null,
          m._tag === "tool" ? orNull(m.providerCallId) : null,
          m._tag === "tool" ? m.toolName : null,
          m._tag === "tool" ? (m.isError ? 1 : 0) : null,
          at
        ]],
        eventRow(dataOf(e))
      ]
    }
    case "LlmCallStarted":
      return [
        ["progress", progressParams(e, at, e.iteration, undefined)],
        ["llm_start", [e.correlationId, e.runId, e.iteration, "started", e.provider, e.model, at]],
        eventRow(dataOf(e))
      ]
    case "LlmCallCompleted": {
      // The bench's scripted calls always report usage.
      const u = e.usage!
      const started = iso(e.timestamp - Math.max(0, Math.round(e.durationMs)))
      const delta = requestDelta(e)
      return [
        ["progress", progressParams(e, at, null, u)],
        ["llm_done", [
          e.correlationId,
          e.runId,
          e.iteration,
          "completed",
          e.provider,
          e.model,
          orNull(e.responseModel),
          orNull(e.responseId),
          e.finishReason,
          json(delta.request),
          json({ text: e.text, toolCalls: e.toolCalls, finishReason: e.finishReason, usage: u }),
          e.providerRequest === undefined ? null : json(e.providerRequest),
          e.providerResponse === undefined ? null : json(e.providerResponse),
          u.inputTokens,
          u.outputTokens,
          orNull(u.cacheReadTokens),
          orNull(u.cacheWriteTokens),
          orNull(u.reasoningTokens),
          orNull(u.costUsd),
          orNull(e.costNote),
          Math.round(e.durationMs),
          started,
          at,
          delta.base,
          delta.prefix
        ]],
        ["usage", [
          e.correlationId,
          e.runId,
          e.iteration,
          e.provider,
          e.responseModel ?? e.model,
          u.inputTokens,
          u.outputTokens,
          orNull(u.cacheReadTokens),
          orNull(u.cacheWriteTokens),
          orNull(u.reasoningTokens),
          orNull(u.costUsd),
          at
        ]],
        eventRow(dataOf(e, LLM_DROP))
      ]
    }
    case "ToolCallStarted":
      return [
        ["progress", progressParams(e, at, null, undefined)],
        ["tool_start", [
          e.correlationId,
          e.runId,
          orNull(e.providerCallId),
          e.toolName,
          e.target,
          e.iteration,
          json(e.arguments),
          at
        ]],
        eventRow(dataOf(e))
      ]
    case "ToolCallCompleted":
      return [
        ["progress", progressParams(e, at, null, undefined)],
        ["tool_done", [
          e.correlationId,
          e.runId,
          orNull(e.providerCallId),
          e.toolName,
          e.target,
          e.iteration,
          json(e.result),
          e.success ? 1 : 0,
          orNull(e.error),
          Math.round(e.durationMs),
          iso(e.timestamp - Math.max(0, Math.round(e.durationMs))),
          at
        ]],
        eventRow(dataOf(e))
      ]
    case "RunCompleted":
      return [
        ["finish", [e.sequenceIndex, at, e.status, e.iterations, orNull(e.answer), e.runId, e.sequenceIndex - 1]],
        eventRow(dataOf(e))
      ]
    default:
      throw new Error(`the recorder baseline does not write ${e._tag} (not in the benchmark's workload)`)
  }
}

const eventType: Partial<Record<HookEvent.HookEvent["_tag"], string>> = {
  RunStarted: "run.started",
  MessageAppended: "message.appended",
  LlmCallStarted: "llm.started",
  LlmCallCompleted: "llm.completed",
  ToolCallStarted: "tool.started",
  ToolCallCompleted: "tool.completed",
  RunCompleted: "run.completed"
}

/** A single-row statement for a dialect: its text and where each placeholder's value is in the row's params. */
interface Compiled {
  readonly text: string
  readonly order: ReadonlyArray<number>
}

/** `:column` placeholders as `?` (SQLite, positional: a repeated column is bound twice) or `$n` (Postgres). */
export const compileSingle = (shape: Shape, dialect: "sqlite" | "pg"): Compiled => {
  const index = (name: string) => {
    const i = shape.columns.findIndex(([c]) => c === name)
    if (i < 0) throw new Error(`baseline: ${shape.key} has no column ${name}`)
    return i
  }
  const order: Array<number> = []
  const text = shape.single.replace(/:([a-z_]+)/g, (_, name: string) => {
    order.push(index(name))
    return dialect === "sqlite" ? "?" : `$${index(name) + 1}`
  })
  return { text, order: dialect === "sqlite" ? order : shape.columns.map((_, i) => i) }
}

const bind = (compiled: Compiled, params: ReadonlyArray<Value>) => compiled.order.map((i) => params[i]!)

/** A group of events written in one transaction: every event's rows. */
export type Group = ReadonlyArray<ReadonlyArray<Row>>

/** A writer of groups of events, each group one transaction. */
export interface RawWriter {
  readonly write: (groups: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>) => Promise<void>
  readonly writePrecompiled: (groups: ReadonlyArray<Group>) => Promise<void>
  readonly close: () => Promise<void>
}

const moved = (key: string, n: number, expected: number) => {
  if (shapes[key]!.mustMove && n !== expected) {
    throw new Error(`baseline: ${key} moved ${n} of ${expected} runs (the workload is out of step)`)
  }
}

/** The SQLite baseline over a database the recorder migrated. */
export const sqliteWriter = (file: string, synchronous: "normal" | "full"): RawWriter => {
  const db = openSqlite(file)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous.toUpperCase()}`)
  db.pragma("foreign_keys = ON")
  db.pragma("busy_timeout = 5000")
  const statements = new Map(
    Object.values(shapes).map((s) => {
      const compiled = compileSingle(s, "sqlite")
      return [s.key, { compiled, statement: db.prepare(compiled.text), returns: s.mustMove }] as const
    })
  )
  const exec = (rows: ReadonlyArray<Row>) => {
    for (const [key, params] of rows) {
      const { compiled, returns, statement } = statements.get(key)!
      if (returns) moved(key, statement.all(...bind(compiled, params)).length, 1)
      else statement.run(...bind(compiled, params))
    }
  }
  const writeGroups = (groups: ReadonlyArray<Group>) => {
    for (const group of groups) {
      db.exec("BEGIN")
      try {
        for (const rows of group) exec(rows)
        db.exec("COMMIT")
      } catch (e) {
        db.exec("ROLLBACK")
        throw e
      }
    }
  }
  return {
    write: async (groups) => {
      for (const events of groups) {
        db.exec("BEGIN")
        try {
          for (const e of events) exec(rowsOf(e))
          db.exec("COMMIT")
        } catch (error) {
          db.exec("ROLLBACK")
          throw error
        }
      }
    },
    writePrecompiled: async (groups) => writeGroups(groups),
    close: async () => db.close()
  }
}

/** The Postgres baseline: per group, one `unnest` statement per shape present, in one transaction. */
export const pgWriter = (client: pg.Client): RawWriter => {
  const runGroup = async (group: Group) => {
    const byKey = new Map<string, Array<ReadonlyArray<Value>>>()
    for (const rows of group) {
      for (const [key, params] of rows) {
        const list = byKey.get(key)
        if (list === undefined) byKey.set(key, [params])
        else list.push(params)
      }
    }
    await client.query("BEGIN")
    try {
      for (const key of ORDER) {
        const rows = byKey.get(key)
        if (rows === undefined) continue
        const shape = shapes[key]!
        const columns = shape.columns.map((_, i) => rows.map((r) => r[i]!))
        const result = await client.query({ name: `bench_${key}`, text: shape.batch, values: columns })
        moved(key, result.rowCount ?? 0, rows.length)
      }
      await client.query("COMMIT")
    } catch (e) {
      await client.query("ROLLBACK")
      throw e
    }
  }
  return {
    write: async (groups) => {
      for (const events of groups) await runGroup(events.map(rowsOf))
    },
    writePrecompiled: async (groups) => {
      for (const group of groups) await runGroup(group)
    },
    close: async () => undefined
  }
}

const singles = (dialect: "sqlite" | "pg") =>
  Object.fromEntries(Object.values(shapes).map((s) => [s.key, compileSingle(s, dialect)]))
const sqliteSingles = singles("sqlite")
const pgSingles = singles("pg")

/**
 * The naive baseline: each event's single-row statements through @effect/sql, in its own transaction (a
 * `RETURNING` row checks every compare-and-swap, as the recorder does).
 */
export const naiveWrite = (event: HookEvent.HookEvent): Effect.Effect<void, unknown, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const pgDialect = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    const rows = rowsOf(event)
    return sql.withTransaction(Effect.forEach(rows, ([key, params]) => {
      const compiled = (pgDialect ? pgSingles : sqliteSingles)[key]!
      return Effect.map(
        sql.unsafe(compiled.text, bind(compiled, params)),
        (result) => moved(key, shapes[key]!.mustMove ? result.length : 1, 1)
      )
    }, { discard: true }))
  })
