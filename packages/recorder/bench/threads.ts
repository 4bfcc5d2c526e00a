/**
 * Start-up cost of a run on a thread: one one-turn run continuing a thread of 10, 100 and 1,000 recorded
 * messages (reading the thread's state and history back from the database first), against the same run without
 * a thread, on SQLite and Postgres. Each measured run continues its own thread, seeded before the round (one run
 * whose message-array input holds the history), so no round sees a thread its predecessors grew.
 */
import { Agent, type HookEvent, type LanguageModel, type Recorder, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime } from "effect"
import { join } from "node:path"
import {
  alternate,
  type Config,
  costRatio,
  logRound,
  type Measured,
  ratioText,
  roundsFromEnv,
  sig,
  spread,
  table
} from "../../../bench/measure.js"
import { type BenchSection, costFigure, type Figure } from "../../../bench/section.js"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { Database, Migrations, SqlRecorder } from "../src/index.js"

const ROUNDS = roundsFromEnv(4)
/** Runs per round (each on its own thread). */
const RUNS = 10
const SIZES = [10, 100, 1000] as const

const agent = Agent.makeSync({ name: "chat", instructions: "Be brief." })
const answer = ScriptedModel.layer([{ text: "Noted.", usage: { inputTokens: 10, outputTokens: 2 } }])

/** A history of `n` messages: user and assistant turns of a few dozen characters. */
const history = (n: number): ReadonlyArray<HookEvent.Message> =>
  Array.from({ length: n - 1 }, (_, i): HookEvent.Message =>
    i % 2 === 0
      ? { _tag: "user", content: `Question ${i}: what about the weather in city number ${i}?` }
      : { _tag: "assistant", content: `Answer ${i}: clear skies and 21 degrees today.`, toolCalls: [] }).concat(
      [{ _tag: "user", content: "And tomorrow?" }]
    )

let counter = 0

const measure = async (name: string, url: string, close: () => Promise<void>) => {
  // Seeding writes a 1,000-message run in one transaction: on a loaded machine it can outlast the default
  // 1 s attempt, so the bench gives its writes a longer budget (what is measured is the read, not the seed).
  const runtime = ManagedRuntime.make(
    SqlRecorder.layerFromUrl(url, { retry: { budget: "30 seconds", attemptTimeout: "15 seconds" } }).pipe(Layer.orDie)
  )
  const runOne = (options: Agent.RunOptions) =>
    runtime.runPromise(
      agent.run("What did I ask first?", options).pipe(Effect.provide(answer)) as Effect.Effect<
        unknown,
        unknown,
        LanguageModel | Recorder
      > as Effect.Effect<unknown, unknown, never>
    )
  const seed = async (n: number) => {
    const threads: Array<string> = []
    for (let i = 0; i < RUNS; i++) {
      const threadId = `bench-${n}-${counter++}`
      // The seed run records n messages: its input (n - 1) and its answer.
      await runtime.runPromise(
        agent.run(history(n - 1), { threadId }).pipe(Effect.provide(answer)) as Effect.Effect<
          unknown,
          unknown,
          never
        >
      )
      threads.push(threadId)
    }
    return threads
  }
  try {
    await seed(10) // warm the connections and statements
    const configs: Array<Config<any>> = [
      {
        name: "no thread",
        run: async () => {
          for (let i = 0; i < RUNS; i++) await runOne({})
          return RUNS
        }
      },
      ...SIZES.map((n): Config<ReadonlyArray<string>> => ({
        name: `${n} messages`,
        prepare: () => seed(n),
        run: async (threads) => {
          for (const threadId of threads) await runOne({ threadId })
          return threads.length
        }
      }))
    ]
    const measured = await alternate(configs, { rounds: ROUNDS, onRound: logRound(`threads ${name}`) })
    return measured
  } finally {
    await runtime.dispose()
    await close()
  }
}

const targets = async () => {
  const dir = createTempDir()
  const file = `sqlite:${join(dir.path, "threads.db")}`
  await Effect.runPromise(Migrations.run.pipe(Effect.provide(Database.layerFromUrl(file)), Effect.orDie))
  const db = await createPgDatabase()
  await Effect.runPromise(Migrations.run.pipe(Effect.provide(Database.layerFromUrl(db.url)), Effect.orDie))
  return [
    { name: "SQLite", short: "sqlite", url: file, close: async () => dir.remove() },
    { name: "Postgres", short: "postgres", url: db.url, close: db.drop }
  ] as const
}

/** The section and its figures. */
export const threadStartup = async (): Promise<ReadonlyArray<BenchSection>> => {
  const sections: Array<BenchSection> = []
  for (const target of await targets()) {
    const measured = await measure(target.short, target.url, target.close)
    const base = measured["no thread"]!
    const rows = SIZES.map((n) => {
      const m: Measured = measured[`${n} messages`]!
      const r = costRatio(m, base)
      return { n, m, r }
    })
    const figures: Array<Figure> = rows.map(({ m, n }) =>
      costFigure(m, base, {
        name: `thread start-up ${target.short} ${n} messages`,
        unit: "ms per one-turn run on the thread",
        baseline: "the same one-turn run without a thread"
      })
    )
    sections.push({
      title: `Threads: start-up cost of a run on a thread, ${target.name}`,
      markdown: [
        table(
          ["prior messages", "wall per run", "CPU per run", "vs no thread (wall)", "vs no thread (CPU)"],
          [
            ["none", spread(base.wall, 1, " ms"), sig(base.cpu.median) + " ms", "1×", "1×"],
            ...rows.map(({ m, n, r }) => [
              String(n),
              spread(m.wall, 1, " ms"),
              sig(m.cpu.median) + " ms",
              ratioText(r.wall),
              ratioText(r.cpu)
            ])
          ],
          "|---:|---:|---:|---:|---:|"
        ),
        "",
        `Each run is one model call (scripted) recorded by the SQL recorder; on a thread it first reads the ` +
        `thread's tenant and active run, records its start under the one-active-run index, then reads the ` +
        `history (${RUNS} runs per round, each on its own seeded thread). The figure includes what a longer ` +
        `history costs downstream: the model request carries it, and \`llm.started\` records that request ` +
        `(\`llm_interactions.semantic_request\`), so part of the difference at 1,000 messages is sending and writing it, not reading it.`
      ].join("\n"),
      figures
    })
  }
  return sections
}
