/**
 * Test fixtures: the real `sextant` binary as a child process, and real databases (a SQLite file, a fresh
 * Postgres database) seeded by recorded runs of the agent loop with a scripted model.
 */
import { SqlClient } from "@effect/sql"
import { Database, SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { spawn } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { weatherTool as weather } from "../../../test-support/tools.js"
import { freshDatabase as freshDatabaseOf } from "../../recorder/test/databases.js"

/** The repository root (the binary runs from there unless a test says otherwise). */
export const root = fileURLToPath(new URL("../../..", import.meta.url))
/** tsx's loader by absolute URL, so the binary also runs from a directory outside the repository. */
const tsx = pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href
/** The binary's source. */
export const bin = fileURLToPath(new URL("../src/bin/sextant.ts", import.meta.url))

/** What a finished child process printed and how it exited. */
export interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `sextant …args` and resolves when it exits. `SEXTANT_DATABASE_URL` is cleared unless `env` sets it. */
export const sextant = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly cwd?: string } = {}
): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@sextant/source", "--import", tsx, bin, ...args], {
      cwd: options.cwd ?? root,
      env: { ...process.env, SEXTANT_DATABASE_URL: "", NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    child.on("error", reject)
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

/** A fresh, migrated database of the dialect (SQLite: `runs.db` in a new temp dir) and a function that removes it. */
export const freshDatabase = (dialect: "sqlite" | "postgres") => freshDatabaseOf(dialect, "runs.db")

const confirm = Tool.make("confirm_payment", {
  description: "Asks the user to confirm",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

const toolThenAnswer = (answer: string): ReadonlyArray<ScriptedModel.ScriptStep> => [
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 50, outputTokens: 12, costUsd: 0.001 }
  },
  { text: answer, usage: { inputTokens: 80, outputTokens: 9, costUsd: 0.002 } }
]

/** Records one run of a scripted agent. */
export const runAgent = (
  name: string,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  options: Agent.RunOptions = {}
) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name, instructions: `You are ${name}.`, tools: [weather, confirm] })
    return yield* agent.run("What's the weather in Lisbon?", options).pipe(
      Effect.provide(ScriptedModel.layer(script, { model: `${name}-model` }))
    )
  })

/** The seeded run ids. */
export interface Seeded {
  readonly weather: ReadonlyArray<string>
  readonly failed: string
  readonly paused: string
  readonly globex: string
}

/** Records four finished weather runs (acme), a failed one, a paused one and one of another tenant. */
export const seed = (recorder: Recorder): Promise<Seeded> =>
  recorder.runPromise(Effect.gen(function*() {
    const weather: Array<string> = []
    for (let i = 0; i < 4; i++) {
      weather.push((yield* runAgent("weather", toolThenAnswer(`sunny ${i}`), { tenantId: "acme" })).runId)
    }
    const failed = (yield* runAgent("support", [{ fail: "vendor down" }], { tenantId: "acme" })).runId
    const paused = (yield* runAgent("checkout", [
      {
        toolCalls: [{ name: "confirm_payment", arguments: { amount: 12 } }],
        usage: { inputTokens: 20, outputTokens: 3 }
      }
    ], { tenantId: "acme" })).runId
    const globex = (yield* runAgent("weather", toolThenAnswer("cloudy"), { tenantId: "globex" })).runId
    return { weather, failed, paused, globex }
  }))

/** The recorder of a database, for seeding. */
export const recorderOf = (url: string) => ManagedRuntime.make(SqlRecorder.layerFromUrl(url).pipe(Layer.orDie))
/** A recorder made by `recorderOf`. */
export type Recorder = ReturnType<typeof recorderOf>

/** Runs plain SQL on its own connection (an independent check of what the binary did). */
export const query = <A extends object = Record<string, unknown>>(
  url: string,
  text: string,
  params: ReadonlyArray<unknown> = []
) =>
  Effect.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<A>(text, params as Array<never>)).pipe(
      Effect.provide(Database.layerFromUrl(url, { busyTimeoutMs: 5000 })),
      Effect.orDie
    )
  )

/** Row counts of the six tables. */
export const counts = async (url: string) => {
  const out: Record<string, number> = {}
  for (const t of ["agent_runs", "run_events", "react_traces", "tool_calls", "llm_interactions", "token_usage"]) {
    out[t] = Number((await query<{ n: number }>(url, `SELECT COUNT(*) AS n FROM ${t}`))[0]!.n)
  }
  return out
}

/**
 * Seeds `n` finished runs by bulk SQL (no agent loop): per run an `agent_runs` row, four `run_events`, two
 * `react_traces`, a tool call, a model call with ~1 KB of provider payload and a `token_usage` row. Ids are
 * `${prefix}_${i}`; runs are created on the days of January 2020 (i % 28), so they are all old.
 */
export const bulkSeed = async (url: string, n: number, prefix = "bulk") => {
  const pg = url.startsWith("postgres")
  const series = pg
    ? `generate_series(0, ${n - 1}) AS s(i)`
    : `(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${n - 1}) SELECT i FROM s) AS s`
  const id = `('${prefix}_' || i)`
  const at = pg
    ? `(TIMESTAMPTZ '2020-01-01T00:00:00Z' + (i % 28) * INTERVAL '1 day')`
    : `('2020-01-' || printf('%02d', 1 + i % 28) || 'T00:00:00.000Z')`
  const json = (text: string) => (pg ? `'${text}'::jsonb` : `'${text}'`)
  const payload = json(JSON.stringify({ messages: [{ role: "user", content: "x".repeat(1000) }] }))
  const statements = [
    `INSERT INTO agent_runs (id, tenant_id, agent_name, status, input, instructions, answer, model, provider,
       iteration_count, total_input_tokens, total_output_tokens, total_cost_usd, model_call_count,
       last_sequence_index, created_at, updated_at, last_progress_at, finished_at)
     SELECT ${id}, 'acme', 'bulk', 'success', 'hi', 'be brief', 'done', 'm', 'scripted', 1, 100, 10, 0.001, 1,
       3, ${at}, ${at}, ${at}, ${at} FROM ${series}`,
    `INSERT INTO run_events (agent_run_id, sequence_index, event_type, iteration, correlation_id, data, created_at)
     SELECT ${id}, k, 'run.started', 0, NULL, ${json("{}")}, ${at}
     FROM ${series} CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) AS ks`,
    `INSERT INTO react_traces (id, agent_run_id, order_index, iteration, role, content, created_at)
     SELECT ${id} || '_t' || k, ${id}, k, 0, 'user', 'hi', ${at}
     FROM ${series} CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS ks`,
    `INSERT INTO tool_calls (id, agent_run_id, tool_name, target, iteration, params, result, started_at)
     SELECT ${id} || '_c', ${id}, 'get_weather', 'server', 0, ${json("{}")}, ${payload}, ${at} FROM ${series}`,
    `INSERT INTO llm_interactions (id, agent_run_id, iteration, status, provider, model, provider_request,
       provider_response, semantic_request, input_tokens, output_tokens, cost_usd, started_at)
     SELECT ${id} || '_l', ${id}, 0, 'completed', 'scripted', 'm', ${payload}, ${payload}, ${payload}, 100, 10,
       0.001, ${at} FROM ${series}`,
    `INSERT INTO token_usage (id, agent_run_id, llm_interaction_id, tenant_id, agent_name, iteration, provider, model,
       input_tokens, output_tokens, cost_usd, created_at)
     SELECT ${id} || '_u', ${id}, ${id} || '_l', 'acme', 'bulk', 0, 'scripted', 'm', 100, 10, 0.001, ${at}
     FROM ${series}`
  ]
  for (const text of statements) await query(url, text)
}
