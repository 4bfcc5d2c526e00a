/**
 * Test helpers: the two dialects as fresh real databases, row schemas that decode both dialects to the same
 * values, and readers of a run's record.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Agent, HookEvent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import pg from "pg"
import { type Dialect, makeDialects } from "../../../test-support/databases.js"
import { Database, Migrations } from "../src/index.js"

export type { Dialect }

/** Both dialects; Postgres databases are created on the real server and migrated. */
export const dialects = makeDialects((url) =>
  Migrations.run.pipe(Effect.provide(Database.layerFromUrl(url)), Effect.orDie)
)

const Bool = Schema.Union(
  Schema.Boolean,
  Schema.transform(Schema.Literal(0, 1), Schema.Boolean, { decode: (n) => n === 1, encode: (b) => (b ? 1 : 0) })
)
const Instant = Schema.Union(Schema.DateFromSelf, Schema.DateFromString)
/** SQLite returns JSON as text, Postgres JSONB as parsed values. */
const Json = (dialect: Dialect["name"]) => (dialect === "sqlite" ? Schema.parseJson() : Schema.Unknown)
const N = Schema.NullOr

/** Schemas of the six tables' rows for a dialect; both dialects decode to identical values. */
export const rowSchemas = (dialect: Dialect["name"]) => {
  const json = Json(dialect)
  return {
    agent_runs: Schema.Struct({
      id: Schema.String,
      tenant_id: N(Schema.String),
      agent_name: Schema.String,
      status: HookEvent.RunStatus,
      input: Schema.String,
      instructions: Schema.String,
      answer: N(Schema.String),
      model: N(Schema.String),
      provider: N(Schema.String),
      parent_run_id: N(Schema.String),
      delegation_level: Schema.Number,
      iteration_count: Schema.Number,
      total_input_tokens: Schema.Number,
      total_output_tokens: Schema.Number,
      total_cache_read_tokens: N(Schema.Number),
      total_cache_write_tokens: N(Schema.Number),
      total_reasoning_tokens: N(Schema.Number),
      total_cost_usd: N(Schema.Number),
      model_call_count: Schema.Number,
      unpriced_call_count: Schema.Number,
      metadata: N(json),
      pause_state: N(json),
      error_tag: N(Schema.String),
      error_message: N(Schema.String),
      failure_reason: N(Schema.String),
      cancel_requested: Bool,
      last_sequence_index: Schema.Number,
      created_at: Instant,
      updated_at: Instant,
      last_progress_at: Instant,
      finished_at: N(Instant)
    }),
    react_traces: Schema.Struct({
      id: Schema.String,
      agent_run_id: Schema.String,
      order_index: Schema.Number,
      iteration: Schema.Number,
      role: Schema.String,
      content: Schema.String,
      tool_calls: N(json),
      tool_call_id: N(Schema.String),
      provider_call_id: N(Schema.String),
      tool_name: N(Schema.String),
      is_error: N(Bool),
      created_at: Instant
    }),
    tool_calls: Schema.Struct({
      id: Schema.String,
      agent_run_id: Schema.String,
      provider_call_id: N(Schema.String),
      tool_name: Schema.String,
      target: Schema.String,
      iteration: Schema.Number,
      params: N(json),
      result: N(json),
      success: N(Bool),
      error: N(Schema.String),
      duration_ms: N(Schema.Number),
      started_at: Instant,
      completed_at: N(Instant)
    }),
    llm_interactions: Schema.Struct({
      id: Schema.String,
      agent_run_id: Schema.String,
      iteration: Schema.Number,
      status: Schema.String,
      provider: Schema.String,
      model: Schema.String,
      response_model: N(Schema.String),
      response_id: N(Schema.String),
      finish_reason: N(Schema.String),
      semantic_request: N(json),
      semantic_response: N(json),
      provider_request: N(json),
      provider_response: N(json),
      input_tokens: N(Schema.Number),
      output_tokens: N(Schema.Number),
      cache_read_tokens: N(Schema.Number),
      cache_write_tokens: N(Schema.Number),
      reasoning_tokens: N(Schema.Number),
      cost_usd: N(Schema.Number),
      cost_note: N(Schema.String),
      duration_ms: N(Schema.Number),
      error_tag: N(Schema.String),
      error_message: N(Schema.String),
      started_at: Instant,
      completed_at: N(Instant)
    }),
    token_usage: Schema.Struct({
      id: Schema.String,
      agent_run_id: Schema.String,
      llm_interaction_id: Schema.String,
      tenant_id: N(Schema.String),
      agent_name: Schema.String,
      iteration: Schema.Number,
      provider: Schema.String,
      model: Schema.String,
      input_tokens: Schema.Number,
      output_tokens: Schema.Number,
      cache_read_tokens: N(Schema.Number),
      cache_write_tokens: N(Schema.Number),
      reasoning_tokens: N(Schema.Number),
      cost_usd: N(Schema.Number),
      created_at: Instant
    }),
    run_events: Schema.Struct({
      id: Schema.Number,
      agent_run_id: Schema.String,
      sequence_index: Schema.Number,
      event_type: Schema.String,
      iteration: Schema.Number,
      correlation_id: N(Schema.String),
      data: json,
      created_at: Instant
    })
  }
}

/** The six tables. */
export const tables = [
  "agent_runs",
  "react_traces",
  "tool_calls",
  "llm_interactions",
  "token_usage",
  "run_events"
] as const
/** One of the six tables. */
export type Table = (typeof tables)[number]

const orderBy: Record<Table, string> = {
  agent_runs: "id",
  react_traces: "agent_run_id, order_index",
  tool_calls: "agent_run_id, id",
  llm_interactions: "agent_run_id, id",
  token_usage: "agent_run_id, id",
  run_events: "agent_run_id, sequence_index"
}

/** Every row of every table, decoded, optionally only a run's. */
export const readAll = (dialect: Dialect["name"], runId?: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const schemas = rowSchemas(dialect)
    const out: Record<string, ReadonlyArray<unknown>> = {}
    for (const table of tables) {
      const column = table === "agent_runs" ? "id" : "agent_run_id"
      const where = runId === undefined ? sql`1 = 1` : sql`${sql(column)} = ${runId}`
      const rows = yield* sql`SELECT * FROM ${sql(table)} WHERE ${where} ORDER BY ${sql.literal(orderBy[table])}`
      out[table] = yield* Schema.decodeUnknown(Schema.Array(schemas[table] as Schema.Schema<unknown, any>))(rows)
    }
    return out as { readonly [T in Table]: ReadonlyArray<Schema.Schema.Type<ReturnType<typeof rowSchemas>[T]>> }
  })

/** `(sequence_index, event_type)` of a run's recorded events, in order. */
export const recordedEvents = (runId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ sequence_index: number; event_type: string }>`SELECT sequence_index, event_type
      FROM run_events WHERE agent_run_id = ${runId} ORDER BY sequence_index`
    return rows.map((r) => ({ seq: Number(r.sequence_index), type: r.event_type }))
  })

/** A run's status row. */
export const runRow = (runId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ status: string; failure_reason: string | null; last_sequence_index: number }>`
      SELECT status, failure_reason, last_sequence_index FROM agent_runs WHERE id = ${runId}`
    return rows[0]
  })

/** A tool returning a fixed value, counting its executions, running `before` first. */
export const countingTool = (name: string, before: () => Promise<void> | void = () => undefined) => {
  const calls = { count: 0 }
  const tool = Tool.make(name, {
    description: name,
    parameters: Schema.Struct({ q: Schema.String }),
    parallel: false,
    handler: async ({ q }) => {
      calls.count++
      await before()
      return { tool: name, q }
    }
  })
  return { tool, calls }
}

/** A script for any number of concurrent runs: call `tool` on the first turn, answer after a tool result. */
export const toolThenAnswer = (tool: string): ScriptedModel.ScriptStep => (request) =>
  request.messages.some((m) => m._tag === "tool")
    ? { text: "done", usage: { inputTokens: 20, outputTokens: 4 } }
    : { toolCalls: [{ name: tool, arguments: { q: request.runId } }], usage: { inputTokens: 10, outputTokens: 3 } }

/** The events of a scripted run recorded in memory (to replay into SQL recorders). */
export const memoryRun = (config: Agent.AgentConfig, script: ReadonlyArray<ScriptedModel.ScriptStep>, runId: string) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make(config)
    yield* agent.run("What's the weather and the time in Lisbon?", { runId, tenantId: "acme", metadata: { ticket: 7 } })
    return yield* (yield* MemoryRecorder).events(runId)
  }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(script), Recorder.memory)))

/** A second connection to a SQLite file that can hold its write lock (as another process would). */
export const sqliteLocker = (url: string) =>
  Effect.gen(function*() {
    const filename = url.slice("sqlite:".length)
    const other = yield* SqliteClient.make({ filename }).pipe(Effect.provide(Reactivity.layer))
    let held = false
    const lock = () => Effect.runPromise(other.unsafe("BEGIN IMMEDIATE")).then(() => void (held = true))
    const unlock = () =>
      held ? Effect.runPromise(other.unsafe("COMMIT")).then(() => void (held = false)) : Promise.resolve()
    yield* Effect.addFinalizer(() => Effect.promise(unlock))
    return { lock, unlock }
  })

/** A superuser connection to a Postgres test database, closed with the scope. */
export const pgAdmin = (url: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.promise(async () => {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        return client
      }),
      (client) => Effect.promise(() => client.end())
    ),
    (client) => <R extends object = Record<string, unknown>>(text: string, params: ReadonlyArray<unknown> = []) =>
      client.query(text, [...params]).then((r) => r.rows as Array<R>)
  )
