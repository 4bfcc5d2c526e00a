/**
 * The weather agent: one tool, a scripted model (no API key), recorded by the fail-closed SQL recorder to
 * `sqlite:./.sextant/demo.db`. Prints the answer, the run's recorded events and the row counts per table.
 * The database is the demo's product, not a temporary file: it is kept (`.sextant/` is git-ignored) so that
 * `npm run dashboard` can show it, and each run adds to it. Set DATABASE_URL to record elsewhere (a Postgres
 * URL must be migrated first: `npx sextant-migrate <url>`, here `npm run migrate -- <url>`).
 */
import { SqlClient } from "@effect/sql"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"

const databaseUrl = process.env.DATABASE_URL ?? "sqlite:./.sextant/demo.db"

const getWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: city === "Lisbon" ? 21 : 14, sky: "clear" })
})

const model = ScriptedModel.layer([
  { toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }], usage: { inputTokens: 52, outputTokens: 12 } },
  { text: "It is 21 °C and clear in Lisbon.", usage: { inputTokens: 81, outputTokens: 11 } }
])

const tables = ["agent_runs", "react_traces", "tool_calls", "llm_interactions", "token_usage", "run_events"]

const program = Effect.gen(function*() {
  const agent = yield* Agent.make({
    name: "weather",
    instructions: "Answer weather questions using the get_weather tool.",
    tools: [getWeather]
  })
  const result = yield* agent.run("What's the weather in Lisbon?")
  console.log(`answer: ${result.answer}`)
  const { inputTokens, outputTokens } = result.usage
  console.log(`status: ${result.status}, iterations: ${result.iterations}`)
  console.log(`tokens: ${inputTokens} in / ${outputTokens} out`)

  const sql = yield* SqlClient.SqlClient
  console.log(`\nrecorded events of run ${result.runId} in ${databaseUrl.replace(/:[^:@/]*@/, ":***@")}:`)
  type EventRow = { sequence_index: number; event_type: string; iteration: number; correlation_id: string | null }
  const events = yield* sql<EventRow>`
    SELECT sequence_index, event_type, iteration, correlation_id FROM run_events
    WHERE agent_run_id = ${result.runId} ORDER BY sequence_index`
  for (const e of events) {
    const correlation = e.correlation_id === null ? "" : `  ${e.correlation_id}`
    const line = `#${String(e.sequence_index).padStart(2)} ${e.event_type.padEnd(16)} iteration ${e.iteration}`
    console.log(`${line}${correlation}`)
  }

  console.log("\nrows (this run / whole database):")
  for (const table of tables) {
    const runColumn = table === "agent_runs" ? "id" : "agent_run_id"
    const [mine] = yield* sql<{ n: number }>`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM ${sql(table)}
      WHERE ${sql(runColumn)} = ${result.runId}`
    const [all] = yield* sql<{ n: number }>`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM ${sql(table)}`
    console.log(`  ${table.padEnd(17)} ${String(mine?.n).padStart(3)} / ${all?.n}`)
  }
})

const layer = Layer.merge(model, SqlRecorder.layerFromUrl(databaseUrl))
Effect.runPromise(program.pipe(Effect.provide(layer))).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
