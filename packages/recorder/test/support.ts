/**
 * Test helpers: the two dialects as fresh real databases, and readers of a run's record (decoded with `Tables`,
 * which yields the same values on both dialects).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Agent, type HookEvent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Either, Layer, Schema } from "effect"
import pg from "pg"
import { Tables } from "../src/index.js"

export { type Dialect, dialects } from "./databases.js"

/** The six tables. */
export const tables = Tables.all.map((t) => t.name)
/** One of the six tables. */
export type Table = (typeof Tables.all)[number]["name"]

const orderBy: Record<Table, string> = {
  agent_runs: "id",
  react_traces: "agent_run_id, order_index",
  tool_calls: "agent_run_id, id",
  llm_interactions: "agent_run_id, id",
  token_usage: "agent_run_id, id",
  run_events: "agent_run_id, sequence_index",
  run_streams: "agent_run_id, id",
  stream_chunks: "agent_run_id, stream_id, sequence"
}

/** Every row of every table, decoded with `Tables` (the same values on both dialects), optionally only a run's. */
export const readAll = (runId?: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const out: Record<string, ReadonlyArray<unknown>> = {}
    for (const table of Tables.all) {
      const column = table.name === "agent_runs" ? "id" : "agent_run_id"
      const where = runId === undefined ? sql`1 = 1` : sql`${sql(column)} = ${Tables.escapeText(runId)}`
      const rows = yield* sql`SELECT * FROM ${sql(table.name)} WHERE ${where} ORDER BY ${
        sql.literal(orderBy[table.name])
      }`
      out[table.name] = yield* Either.match(Tables.decodeRows(table as Tables.Table<string, any>, rows), {
        onLeft: (e) => Effect.die(e),
        onRight: Effect.succeed
      })
    }
    return out as {
      readonly agent_runs: ReadonlyArray<Tables.AgentRun>
      readonly react_traces: ReadonlyArray<Tables.ReactTrace>
      readonly tool_calls: ReadonlyArray<Tables.ToolCall>
      readonly llm_interactions: ReadonlyArray<Tables.LlmInteraction>
      readonly token_usage: ReadonlyArray<Tables.TokenUsage>
      readonly run_events: ReadonlyArray<Tables.RunEvent>
      readonly run_streams: ReadonlyArray<Tables.RunStream>
      readonly stream_chunks: ReadonlyArray<Tables.StreamChunk>
    }
  })

/** `(sequence_index, event_type)` of a run's recorded events, in order. */
export const recordedEvents = (runId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ sequence_index: number; event_type: string }>`SELECT sequence_index, event_type
      FROM run_events WHERE agent_run_id = ${Tables.escapeText(runId)} ORDER BY sequence_index`
    return rows.map((r) => ({ seq: Number(r.sequence_index), type: r.event_type }))
  })

/** A run's status row. */
export const runRow = (runId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ status: string; failure_reason: string | null; last_sequence_index: number }>`
      SELECT status, failure_reason, last_sequence_index FROM agent_runs WHERE id = ${Tables.escapeText(runId)}`
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
export const memoryRun = (
  config: Agent.AgentConfig,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  runId: string
): Effect.Effect<ReadonlyArray<HookEvent.HookEvent>, unknown> =>
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

/** A hand-built `run.started` (sequence 0) of agent "a", optionally a child of `parentRunId`, with `extra` fields. */
export const started = (
  runId: string,
  parentRunId?: string,
  extra: { readonly threadId?: string; readonly metadata?: { readonly [key: string]: HookEvent.Json } } = {}
): HookEvent.HookEvent => ({
  _tag: "RunStarted",
  runId,
  sequenceIndex: 0,
  iteration: 0,
  timestamp: 1_700_000_000_000,
  agentName: "a",
  instructions: "",
  input: "hi",
  delegationLevel: 0,
  tools: [],
  ...(parentRunId === undefined ? {} : { parentRunId }),
  ...extra
})
