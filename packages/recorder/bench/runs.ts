/**
 * Whole runs on the kernel with the recorder on, against the same runs on the memory recorder and against a
 * plain-Effect loop doing the same awaited steps without recording:
 * - sequential 3-turn, 2-tool runs with instant tools: SQLite and Postgres against memory;
 * - one process at 100 concurrent runs whose tools take 20 ms: runs/s, CPU per run and the event loop's delay.
 */

import type { LanguageModel, Recorder } from "@sextant/runtime"
import { Recorder as Recorders } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime } from "effect"
import { join } from "node:path"
import {
  alternate,
  type Config,
  costRatio,
  logRound,
  type Measured,
  num,
  rateRatio,
  ratioText,
  roundsFromEnv,
  sig,
  spread,
  table
} from "../../../bench/measure.js"
import {
  plainEffectRun,
  PlainModel,
  plainModel,
  PlainSink,
  plainSink,
  threeTurnResults,
  threeTurnScript
} from "../../../bench/plainLoop.js"
import { type BenchSection, costFigure, type Figure, rateFigure } from "../../../bench/section.js"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { Database, Migrations, SqlRecorder } from "../src/index.js"
import { benchModel, threeTurnAgent } from "./model.js"

const SEQUENTIAL_RUNS = Number(process.env.BENCH_SEQUENTIAL_RUNS ?? 30)
const CONCURRENT = 100
const CONCURRENT_RUNS = Number(process.env.BENCH_CONCURRENT_RUNS ?? 300)
const TOOL_MS = 20

type Rt = ManagedRuntime.ManagedRuntime<LanguageModel | Recorder, unknown>

const runMany = (rt: Rt, agent: ReturnType<typeof threeTurnAgent>, runs: number, concurrency: number) =>
  rt.runPromise(
    Effect.forEach(
      Array.from({ length: runs }),
      () =>
        Effect.flatMap(agent.run("What is the weather in Lisbon, in Fahrenheit?"), (r) =>
          r.status === "success" ? Effect.void : Effect.dieMessage(`a benchmark run ended ${r.status}`)),
      { concurrency, discard: true }
    )
  ).then(() =>
    runs
  )

interface Stores {
  readonly sqlite: Rt
  readonly postgres: Rt
  readonly close: () => Promise<void>
}

const openStores = async (): Promise<Stores> => {
  const dir = createTempDir()
  const sqlite = ManagedRuntime.make(
    Layer.merge(benchModel(), SqlRecorder.layerFromUrl(`sqlite:${join(dir.path, "runs.db")}`))
  ) as unknown as Rt
  const db = await createPgDatabase()
  await Effect.runPromise(Effect.asVoid(Migrations.run).pipe(Effect.provide(Database.layerFromUrl(db.url))))
  const postgres = ManagedRuntime.make(Layer.merge(benchModel(), SqlRecorder.layerFromUrl(db.url))) as unknown as Rt
  await sqlite.runPromise(Effect.void)
  await postgres.runPromise(Effect.void)
  return {
    sqlite,
    postgres,
    close: async () => {
      await sqlite.dispose()
      await postgres.dispose()
      await db.drop()
      dir.remove()
    }
  }
}

const memoryConfig = (name: string, agent: ReturnType<typeof threeTurnAgent>, runs: number, concurrency: number) => ({
  name,
  prepare: async () => {
    const rt = ManagedRuntime.make(Layer.merge(benchModel(), Recorders.memory)) as unknown as Rt
    await rt.runPromise(Effect.void)
    return rt
  },
  run: (rt: Rt) => runMany(rt, agent, runs, concurrency),
  cleanup: (rt: Rt) => rt.dispose()
})

const sequential = async (stores: Stores) => {
  const agent = threeTurnAgent()
  const configs: Array<Config<any>> = [
    memoryConfig("memory recorder", agent, SEQUENTIAL_RUNS, 1),
    { name: "SQLite recorder", run: () => runMany(stores.sqlite, agent, SEQUENTIAL_RUNS, 1) },
    { name: "Postgres recorder", run: () => runMany(stores.postgres, agent, SEQUENTIAL_RUNS, 1) }
  ]
  // Warm the SQL runtimes (prepared statements, pool) beyond the one warm-up round.
  await runMany(stores.sqlite, agent, 20, 1)
  await runMany(stores.postgres, agent, 20, 1)
  return alternate(configs, { rounds: roundsFromEnv(7), warmup: 1, onRound: logRound("runs") })
}

const plainConcurrent = (runs: number): Config<undefined> => ({
  name: "plain Effect, no recording",
  eventLoop: true,
  run: async () => {
    const { sink } = plainSink(false)
    const wait = (f: (args: any) => unknown) => (args: unknown) => Effect.as(Effect.sleep(`${TOOL_MS} millis`), f(args))
    const tools = { weather: wait(threeTurnResults.weather!), convert: wait(threeTurnResults.convert!) }
    await Effect.runPromise(
      Effect.forEach(
        Array.from({ length: runs }),
        (_, r) =>
          plainEffectRun({ runId: `p${r}`, input: "What is the weather?", maxIterations: 5, tools, consumers: [] }),
        { concurrency: CONCURRENT, discard: true }
      ).pipe(Effect.provideService(PlainModel, plainModel(threeTurnScript)), Effect.provideService(PlainSink, sink))
    )
    return runs
  }
})

const concurrent = async (stores: Stores) => {
  const agent = threeTurnAgent(TOOL_MS)
  const configs: Array<Config<any>> = [
    plainConcurrent(CONCURRENT_RUNS),
    { ...memoryConfig("kernel, memory recorder", agent, CONCURRENT_RUNS, CONCURRENT), eventLoop: true },
    {
      name: "kernel, SQLite recorder",
      eventLoop: true,
      run: () => runMany(stores.sqlite, agent, CONCURRENT_RUNS, CONCURRENT)
    },
    {
      name: "kernel, Postgres recorder",
      eventLoop: true,
      run: () => runMany(stores.postgres, agent, CONCURRENT_RUNS, CONCURRENT)
    }
  ]
  return alternate(configs, { rounds: roundsFromEnv(3), warmup: 1, onRound: logRound("runs") })
}

const ms = (s: Measured["wall"]) => spread(s, 1, " ms")

/** The end-to-end sections. */
export const endToEnd = async (): Promise<ReadonlyArray<BenchSection>> => {
  const stores = await openStores()
  try {
    const seq = await sequential(stores)
    const memory = seq["memory recorder"]!
    const seqRows = Object.values(seq).map((m) => {
      const r = costRatio(m, memory)
      return [
        m.name,
        ms(m.wall),
        ms(m.cpu),
        m === memory ? "1 (baseline)" : ratioText(r.wall),
        m === memory ? "" : ratioText(r.cpu)
      ]
    })

    const con = await concurrent(stores)
    const plain = con["plain Effect, no recording"]!
    const conRows = Object.values(con).map((m) => {
      const l = m.loop!
      return [
        m.name,
        spread(m.rate),
        m === plain ? "1 (baseline)" : ratioText(rateRatio(m, plain)),
        ms(m.cpu),
        spread(l.p99Ms, 1, " ms"),
        `${sig(l.maxMs.median)} ms`,
        `${num(100 * l.stalledShare.median, 0)}%`
      ]
    })
    const sqliteCon = con["kernel, SQLite recorder"]!
    const pgCon = con["kernel, Postgres recorder"]!
    const memCon = con["kernel, memory recorder"]!
    const figures: Array<Figure> = [
      costFigure(seq["SQLite recorder"]!, memory, {
        name: "sqlite run vs memory run",
        unit: "ms wall per sequential 3-turn run",
        baseline: "the same run on the memory recorder",
        target: { of: "ratio", max: 1.5 }
      }),
      costFigure(seq["Postgres recorder"]!, memory, {
        name: "postgres run vs memory run",
        unit: "ms wall per sequential 3-turn run",
        baseline: "the same run on the memory recorder"
      }),
      ...([
        ["throughput 100 concurrent vs plain Effect", sqliteCon, { of: "ratio", min: 0.6 } as const],
        ["throughput 100 concurrent postgres vs plain Effect", pgCon, undefined],
        ["throughput 100 concurrent memory vs plain Effect", memCon, undefined]
      ] as const).map(([name, m, target]) =>
        rateFigure(m, plain, {
          name,
          unit: "runs/s at 100 concurrent runs, 20 ms tools",
          baseline: "plain-Effect loop doing the same awaited steps without recording",
          ...(target === undefined ? {} : { target })
        })
      ),
      ...([
        ["event loop p99 ms sqlite 100 concurrent", sqliteCon, { of: "value", max: 50 } as const],
        ["event loop p99 ms postgres 100 concurrent", pgCon, undefined],
        ["event loop p99 ms memory 100 concurrent", memCon, undefined]
      ] as const).map(([name, m, target]): Figure => ({
        name,
        value: m.loop!.p99Ms.median,
        unit: "ms (monitorEventLoopDelay p99)",
        ratio: null,
        spread: [m.loop!.p99Ms.min, m.loop!.p99Ms.max],
        ...(target === undefined ? {} : { target })
      }))
    ]
    return [
      {
        title: "Runs: a 3-turn, 2-tool run recorded to SQLite vs the memory recorder, sequential",
        markdown: [
          `${SEQUENTIAL_RUNS} sequential runs a round of the 3-turn, 2-tool agent (weather, then a conversion, then the ` +
          "answer; 18 recorded events) with instant tools and a stateless scripted model, on the memory recorder (the " +
          "baseline), the SQLite recorder (WAL, NORMAL) and the Postgres recorder. " +
          `${roundsFromEnv(7)} rounds after a warm-up, alternating; per run, medians (min–max).`,
          "",
          table(
            ["recorder", "wall per run", "CPU per run", "wall vs memory", "CPU vs memory"],
            seqRows,
            "|---|---:|---:|---:|---:|"
          )
        ].join("\n"),
        figures: figures.slice(0, 2)
      },
      {
        title: "Runs: one process at 100 concurrent runs (20 ms tools)",
        markdown: [
          `${CONCURRENT_RUNS} runs a round of the same agent, ${CONCURRENT} at a time, each tool call waiting ` +
          `${TOOL_MS} ms (two per run), against the baseline: a plain-Effect loop (\`bench/plainLoop.ts\`) doing the ` +
          "same awaited steps (model service call, the tools' 20 ms waits, per-event stamping) without recording. " +
          `${roundsFromEnv(3)} rounds after a warm-up, alternating. Event-loop delay from ` +
          "`perf_hooks.monitorEventLoopDelay` (5 ms resolution) over each round; stalled = share of the round's wall " +
          "time in event-loop stalls over 50 ms.",
          "",
          table(
            ["configuration", "runs/s", "vs plain Effect", "CPU per run", "loop delay p99", "max", "stalled"],
            conRows,
            "|---|---:|---:|---:|---:|---:|---:|"
          )
        ].join("\n"),
        figures: figures.slice(2)
      }
    ]
  } finally {
    await stores.close()
  }
}
