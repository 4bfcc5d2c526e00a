/**
 * Durable events per second of the SQL recorder with group commit, at 1, 10 and 100 concurrent runs, on
 * SQLite and Postgres, against (a) the raw driver executing the same statements in batched transactions of
 * 100 events (the practical limit) and (b) a naive recorder committing each event in its own transaction
 * (what the prior art does). Also the latency a recorded event adds at concurrency 1.
 *
 * Each "run" replays the 12 events of a scripted one-tool run (recorded once in memory, then given a fresh
 * run id and fresh call ids), awaiting each write before the next as the agent loop does; N runs proceed at
 * once. Only the recording is measured, not the agent loop.
 */
import { SqlClient } from "@effect/sql"
import { Agent, HookEvent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, type ManagedRuntime, ManagedRuntime as MR, Schema } from "effect"
import { createRequire } from "node:module"
import { join } from "node:path"
import pg from "pg"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import type { DatabaseOptions } from "../src/Database.js"
import { Database, Migrations, SqlRecorder } from "../src/index.js"
import { progressStatements, rowsStatements } from "../src/internal/batch.js"
import { type Plan, plan } from "../src/internal/plan.js"
import { transact } from "../src/internal/write.js"

const require = createRequire(import.meta.url)
// better-sqlite3 ships no types here; the raw baseline uses four calls of it.
const BetterSqlite = require("better-sqlite3") as new(file: string) => {
  pragma: (s: string) => unknown
  prepare: (s: string) => { run: (...p: Array<unknown>) => unknown; all: (...p: Array<unknown>) => unknown }
  exec: (s: string) => void
  close: () => void
}

const CONCURRENCY = [1, 10, 100] as const
const RAW_BATCH = 100

/** The 12 events of a scripted one-tool run. */
const template = async (): Promise<ReadonlyArray<HookEvent.HookEvent>> => {
  const tool = Tool.make("lookup", {
    description: "lookup",
    parameters: Schema.Struct({ q: Schema.String }),
    handler: ({ q }) => ({ q, answer: 42, sources: ["a", "b"] })
  })
  const model = ScriptedModel.layer([
    { toolCalls: [{ name: "lookup", arguments: { q: "meaning" } }], usage: { inputTokens: 120, outputTokens: 20 } },
    { text: "It is 42.", usage: { inputTokens: 180, outputTokens: 8 } }
  ])
  return Effect.runPromise(
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "bench", instructions: "Answer.", tools: [tool] })
      const result = yield* agent.run("What is the meaning?")
      return yield* (yield* MemoryRecorder).events(result.runId)
    }).pipe(Effect.provide(Layer.merge(model, Recorder.memory)))
  )
}

/** The template's events for run `runId`, with call ids made unique to the run. */
const eventsFor = (events: ReadonlyArray<HookEvent.HookEvent>, runId: string): ReadonlyArray<HookEvent.HookEvent> =>
  events.map((e) => {
    const copy = { ...e, runId } as Record<string, unknown>
    if (typeof copy.correlationId === "string") copy.correlationId = `${copy.correlationId}-${runId}`
    return copy as unknown as HookEvent.HookEvent
  })

interface Dialect {
  readonly name: string
  readonly url: string
  readonly options: SqlRecorder.SqlRecorderOptions & { readonly database?: DatabaseOptions }
  /** Executes compiled statements with the bare driver, one transaction per group. */
  readonly raw: (groups: ReadonlyArray<ReadonlyArray<readonly [string, ReadonlyArray<unknown>]>>) => Promise<void>
  readonly close: () => Promise<void>
}

const sqliteDialect = (synchronous: "normal" | "full"): Dialect => {
  const dir = createTempDir()
  const file = join(dir.path, "bench.db")
  const db = new BetterSqlite(file)
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous.toUpperCase()}`)
  db.pragma("foreign_keys = ON")
  const cache = new Map<string, ReturnType<typeof db.prepare>>()
  const prepared = (text: string) => cache.get(text) ?? cache.set(text, db.prepare(text)).get(text)!
  return {
    name: `SQLite (WAL, synchronous=${synchronous.toUpperCase()})`,
    url: `sqlite:${file}`,
    options: { database: { synchronous } },
    raw: async (groups) => {
      for (const group of groups) {
        db.exec("BEGIN")
        for (const [text, params] of group) {
          const s = prepared(text)
          if (/RETURNING/i.test(text)) s.all(...params)
          else s.run(...params)
        }
        db.exec("COMMIT")
      }
    },
    close: async () => {
      db.close()
      dir.remove()
    }
  }
}

const pgDialect = async (): Promise<Dialect> => {
  const db = await createPgDatabase()
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  return {
    name: "Postgres",
    url: db.url,
    options: {},
    raw: async (groups) => {
      for (const group of groups) {
        await client.query("BEGIN")
        for (const [text, params] of group) await client.query(text, [...params])
        await client.query("COMMIT")
      }
    },
    close: async () => {
      await client.end()
      await db.drop()
    }
  }
}

type Rt = ManagedRuntime.ManagedRuntime<SqlClient.SqlClient | Recorder, unknown>

/** Runs `runs` replayed runs, `concurrency` at a time, each awaiting its writes; returns events/s. */
const replay = async (
  rt: Rt,
  write: (event: HookEvent.HookEvent) => Effect.Effect<void, unknown, SqlClient.SqlClient | Recorder>,
  runs: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>,
  concurrency: number
) => {
  const started = performance.now()
  await rt.runPromise(
    Effect.forEach(runs, (events) => Effect.forEach(events, write, { discard: true }), { concurrency, discard: true })
  )
  const seconds = (performance.now() - started) / 1000
  const events = runs.length * runs[0]!.length
  return { perSecond: events / seconds, msPerEvent: seconds * 1000 / events }
}

const measure = async (dialect: Dialect, events: ReadonlyArray<HookEvent.HookEvent>) => {
  let counter = 0
  const makeRuns = (n: number) =>
    Array.from({ length: n }, () => eventsFor(events, `${dialect.name.slice(0, 2)}-${counter++}`))
  await Effect.runPromise(Effect.asVoid(Migrations.run).pipe(Effect.provide(Database.layerFromUrl(dialect.url))))
  const rt: Rt = MR.make(SqlRecorder.layerFromUrl(dialect.url, dialect.options))
  const grouped = (event: HookEvent.HookEvent) => Effect.flatMap(Recorder, (r) => r.record(event))
  const naive = (event: HookEvent.HookEvent) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => transact(sql, [plan(sql, event)]))
  type Compiled = ReadonlyArray<readonly [string, ReadonlyArray<unknown>]>
  const compileStatements = (statements: ReadonlyArray<{ compile: () => readonly [string, ReadonlyArray<unknown>] }>) =>
    statements.map((s) => s.compile())
  // The statements the group-commit writer issues for a batch of events of distinct runs.
  const batchOf = (plans: ReadonlyArray<Plan>, sql: SqlClient.SqlClient): Compiled =>
    compileStatements([
      ...plans.filter((p) => p.progress === undefined).map((p) => p.advance()),
      ...progressStatements(sql, plans.filter((p) => p.progress !== undefined)),
      ...rowsStatements(sql, plans)
    ])
  // Waves of 100 runs: the k-th events of 100 runs form one transaction, as at 100 concurrent runs.
  const rawBatches = (runs: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>) =>
    rt.runPromise(Effect.map(SqlClient.SqlClient, (sql) => {
      const groups: Array<Compiled> = []
      for (let i = 0; i < runs.length; i += RAW_BATCH) {
        const wave = runs.slice(i, i + RAW_BATCH)
        for (let k = 0; k < wave[0]!.length; k++) groups.push(batchOf(wave.map((events) => plan(sql, events[k]!)), sql))
      }
      return groups
    }))
  // One event per transaction, with the statements the writer issues for an event alone.
  const singles = (runs: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>) =>
    rt.runPromise(Effect.map(SqlClient.SqlClient, (sql) =>
      runs.flatMap((events) =>
        events.map((e) => {
          const p = plan(sql, e)
          return compileStatements([p.advance(), ...rowsStatements(sql, [p])])
        })
      )))
  // Warm up prepared statements, connections and the JIT.
  await replay(rt, grouped, makeRuns(100), 10)
  await replay(rt, grouped, makeRuns(10), 1)
  await replay(rt, naive, makeRuns(10), 1)

  // (a): the raw driver, same rows, batches of RAW_BATCH events.
  const rawRuns = makeRuns(4 * RAW_BATCH)
  const groups = await rawBatches(rawRuns)
  const rawStart = performance.now()
  await dialect.raw(groups)
  const raw = rawRuns.length * events.length / ((performance.now() - rawStart) / 1000)

  // Group commit and naive alternate, and each figure is the median of its rounds (the machine may be shared).
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const rows: Array<Record<string, number>> = []
  for (const concurrency of CONCURRENCY) {
    const count = concurrency === 100 ? 200 : 40
    const g: Array<number> = []
    const n: Array<number> = []
    for (let round = 0; round < 3; round++) {
      g.push((await replay(rt, grouped, makeRuns(count), concurrency)).perSecond)
      n.push((await replay(rt, naive, makeRuns(count), concurrency)).perSecond)
    }
    rows.push({ concurrency, grouped: median(g), naive: median(n), raw })
  }
  // Latency at concurrency 1: one recorded event (awaited) against the raw driver committing that event alone.
  const latencies: Array<number> = []
  for (let round = 0; round < 3; round++) latencies.push((await replay(rt, grouped, makeRuns(20), 1)).msPerEvent)
  const recordedMs = median(latencies)
  const single = await singles(makeRuns(20))
  const singleStart = performance.now()
  await dialect.raw(single)
  const rawMs = (performance.now() - singleStart) / single.length
  await rt.dispose()
  return { rows, latency: { recordedMs, rawMs } }
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1))

export default async function(): Promise<ReadonlyArray<{ readonly title: string; readonly markdown: string }>> {
  const events = await template()
  const sections: Array<{ title: string; markdown: string }> = []
  for (const make of [async () => sqliteDialect("normal"), async () => sqliteDialect("full"), pgDialect]) {
    const dialect = await make()
    try {
      const { latency, rows } = await measure(dialect, events)
      const header = [
        "concurrent runs",
        "group commit (events/s)",
        "vs (a) raw driver, batched",
        "vs (b) naive, commit per event",
        "raw (a) events/s",
        "naive (b) events/s"
      ]
      const table = [
        `| ${header.join(" | ")} |`,
        "|---:|---:|---:|---:|---:|---:|",
        ...rows.map((r) => {
          const cells = [
            r.concurrency,
            fmt(r.grouped!),
            `${(100 * r.grouped! / r.raw!).toFixed(0)}%`,
            `${(r.grouped! / r.naive!).toFixed(1)}×`,
            fmt(r.raw!),
            fmt(r.naive!)
          ]
          return `| ${cells.join(" | ")} |`
        })
      ]
      const us = (ms: number) => `${(1000 * ms).toFixed(0)} µs`
      sections.push({
        title: `Recorder: durable events/s, ${dialect.name}`,
        markdown: [
          ...table,
          "",
          `Added latency per event at concurrency 1: ${us(latency.recordedMs - latency.rawMs)} ` +
          `(recorded and awaited: ${us(latency.recordedMs)}; ` +
          `the raw driver committing that event alone: ${us(latency.rawMs)}).`,
          "",
          `Each run replays the ${events.length} events of a scripted one-tool run (every event written to its ` +
          "table rows and `run_events`, awaited before the next, as the loop does). (a): the bare driver executing " +
          `the same compiled statements the writer issues for batches of ${RAW_BATCH} events (one event of each of ` +
          `${RAW_BATCH} runs), one transaction after another. (b): the same writes through @effect/sql, ` +
          "each event in its own transaction, runs concurrent. Group commit and (b) alternate, 3 rounds each, " +
          "medians shown. Targets at 100 concurrent runs: ≥ 50% of (a), ≥ 10× (b)."
        ].join("\n")
      })
    } finally {
      await dialect.close()
    }
  }
  return sections
}
