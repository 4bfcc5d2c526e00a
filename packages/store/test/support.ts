/**
 * Test fixtures: both dialects as fresh real databases, seeded through real recorded runs (the agent loop,
 * a scripted model, the SqlRecorder), plus a paused run resumed through the runtime.
 */
import { SqlClient } from "@effect/sql"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Context, Effect, Layer, Schema } from "effect"
import { weatherTool } from "../../../test-support/tools.js"
import { type Dialect } from "../../recorder/test/databases.js"
import { RunStore } from "../src/index.js"

export { type Dialect, dialectNamed, dialects } from "../../recorder/test/databases.js"

/** The names of the database's tables (SQLite's own left out), to check what a run wrote where. */
export const tableNames = (sql: SqlClient.SqlClient, dialect: Dialect["name"]) =>
  dialect === "sqlite"
    ? Effect.map(
      sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
      (rows) => rows.map((r) => r.name)
    )
    : Effect.map(
      sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      (rows) => rows.map((r) => r.table_name)
    )

const payTool = Tool.make("confirm_payment", {
  description: "Asks the user to confirm",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

/** Scripted turns: a tool call then an answer, with full usage (cache, reasoning, cost). */
export const toolThenAnswer = (answer: string, cost = true): ReadonlyArray<ScriptedModel.ScriptStep> => [
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: {
      inputTokens: 50,
      outputTokens: 12,
      cacheReadTokens: 30,
      reasoningTokens: 4,
      ...(cost ? { costUsd: 0.001 } : {})
    }
  },
  {
    text: answer,
    usage: { inputTokens: 80, outputTokens: 9, cacheWriteTokens: 7, ...(cost ? { costUsd: 0.002 } : {}) }
  }
]

/** Runs an agent once with its own scripted model, recorded by the ambient recorder. */
export const runAgent = (
  name: string,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  options: Agent.RunOptions = {},
  input = "What's the weather in Lisbon?"
) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name, instructions: `You are ${name}.`, tools: [weatherTool, payTool] })
    return yield* agent.run(input, options).pipe(
      Effect.provide(ScriptedModel.layer(script, { model: `${name}-model` }))
    )
  })

/** Ids of the seeded runs. */
export interface Seeded {
  readonly weather1: string
  readonly weather2: string
  readonly failed: string
  readonly paused: string
  readonly parent: string
  readonly child1: string
  readonly child2: string
  readonly grandchild: string
  readonly untenanted: string
  /** Every seeded id, oldest first. */
  readonly all: ReadonlyArray<string>
}
/** The seeded run ids. */
export class SeededRuns extends Context.Tag("test/SeededRuns")<SeededRuns, Seeded>() {}

const at = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Seeds the runs every store test relies on. */
export const seed = Effect.gen(function*() {
  const ids: Array<string> = []
  const one = (name: string, script: ReadonlyArray<ScriptedModel.ScriptStep>, options: Agent.RunOptions = {}) =>
    Effect.gen(function*() {
      // Distinct creation times keep the expected order unambiguous (the store also orders ties by id).
      yield* Effect.promise(() => at(3))
      const r = yield* runAgent(name, script, options)
      ids.push(r.runId)
      return r.runId
    })
  const weather1 = yield* one("weather", toolThenAnswer("21 and sunny"), {
    tenantId: "acme",
    metadata: { team: "red", tier: 1, beta: true }
  })
  const weather2 = yield* one("weather", toolThenAnswer("Still 21"), {
    tenantId: "acme",
    metadata: { team: "blue", tier: 2 }
  })
  const failed = yield* one("support", [{ fail: "vendor down" }], { tenantId: "globex", metadata: { team: "red" } })
  yield* Effect.promise(() => at(3))
  const pausedRun = yield* runAgent("checkout", [
    {
      toolCalls: [{ name: "confirm_payment", arguments: { amount: 12 } }],
      usage: { inputTokens: 20, outputTokens: 3, costUsd: 0.0005 }
    }
  ], { tenantId: "acme" })
  const paused = pausedRun.runId
  ids.push(paused)
  yield* resumeAndComplete(paused, pausedRun.pendingCalls![0]!.id)
  const parent = yield* one("planner", toolThenAnswer("planned"), { tenantId: "acme" })
  const child1 = yield* one("researcher", toolThenAnswer("found"), { tenantId: "acme", parentRunId: parent })
  const child2 = yield* one("writer", toolThenAnswer("wrote", false), { tenantId: "acme", parentRunId: parent })
  const grandchild = yield* one("fact-checker", toolThenAnswer("checked"), { tenantId: "acme", parentRunId: child1 })
  const untenanted = yield* one("weather", toolThenAnswer("no tenant"), {})
  return {
    weather1,
    weather2,
    failed,
    paused,
    parent,
    child1,
    child2,
    grandchild,
    untenanted,
    all: ids
  } satisfies Seeded
})

/** Resumes a paused run the way a client does: submits its tool result; the model then answers. */
export const resumeAndComplete = (runId: string, callId: string) =>
  Effect.gen(function*() {
    yield* Effect.promise(() => at(5))
    const agent = yield* Agent.make({
      name: "checkout",
      instructions: "You are checkout.",
      tools: [weatherTool, payTool]
    })
    yield* agent.submitToolResults(runId, [{ callId, result: { confirmed: true } }]).pipe(
      Effect.provide(
        ScriptedModel.layer([{ text: "paid", usage: { inputTokens: 20, outputTokens: 3, costUsd: 0.0005 } }], {
          model: "checkout-model"
        })
      )
    )
  })

/** The recorder, the SqlClient and a RunStore over a fresh database of the dialect. */
export const storeLayer = (dialect: Dialect) =>
  Layer.unwrapScoped(Effect.map(dialect.database, (url) =>
    RunStore.layer.pipe(
      Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
      Layer.orDie,
      Layer.merge(Layer.succeed(DatabaseUrl, url))
    )))

/** The URL of the database under test. */
export class DatabaseUrl extends Context.Tag("test/DatabaseUrl")<DatabaseUrl, string>() {}

/** `storeLayer` plus the seeded runs. */
export const seededLayer = (dialect: Dialect) =>
  Layer.effect(SeededRuns, seed.pipe(Effect.orDie)).pipe(Layer.provideMerge(storeLayer(dialect)))
