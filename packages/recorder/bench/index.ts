/**
 * The SQL recorder's write path, on SQLite (WAL, synchronous NORMAL and FULL) and Postgres, at 1, 10 and 100
 * concurrent runs, each run replaying the 18 events of a scripted 3-turn, 2-tool run and awaiting every write
 * before the next (as the loop does), against the baselines of `raw.ts`: the raw driver writing the same rows
 * including serialising the events (batched as the concurrency allows: one transaction per wave of one event
 * of each concurrent run), the same with the serialisation done beforehand (precompiled), and the naive
 * commit-per-event through @effect/sql. Then the end-to-end runs of `runs.ts`, and a CPU profile of the writer.
 */
import { SqlClient } from "@effect/sql"
import { HookEvent, MemoryRecorder, Recorder } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime } from "effect"
import { join } from "node:path"
import pg from "pg"
import {
  alternate,
  type Config,
  costRatio,
  logRound,
  type Measured,
  rateRatio,
  ratioText,
  roundsFromEnv,
  sig,
  spread,
  table
} from "../../../bench/measure.js"
import { cpuProfile, summarise, summaryMarkdown } from "../../../bench/profile.js"
import { type BenchSection, costFigure, type Figure, rateFigure } from "../../../bench/section.js"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { Database, Migrations, SqlRecorder } from "../src/index.js"
import { benchModel, threeTurnAgent } from "./model.js"
import { privacy } from "./privacy.js"
import { type Group, naiveWrite, openSqlite, pgWriter, type RawWriter, rowsOf, sqliteWriter } from "./raw.js"
import { endToEnd } from "./runs.js"
import { streamChunks } from "./streams.js"
import { threadStartup } from "./threads.js"

const ROUNDS = roundsFromEnv(4)

/** The 18 events of the 3-turn, 2-tool run, recorded once in memory. */
const template = async (): Promise<ReadonlyArray<HookEvent.HookEvent>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const result = yield* threeTurnAgent().run("What is the weather in Lisbon, in Fahrenheit?")
      return yield* (yield* MemoryRecorder).events(result.runId)
    }).pipe(Effect.provide(Layer.merge(benchModel(), Recorder.memory)))
  )

let counter = 0
/** `n` fresh copies of the template: new run ids (all the same length) and call ids unique to each run. */
const freshRuns = (events: ReadonlyArray<HookEvent.HookEvent>, n: number, tag: string) =>
  Array.from({ length: n }, () => {
    const runId = `${tag}-${String(counter++).padStart(8, "0")}`
    return events.map((e) => {
      const copy = { ...e, runId } as Record<string, unknown>
      if (typeof copy.correlationId === "string") copy.correlationId = `${copy.correlationId}-${runId}`
      return copy as unknown as HookEvent.HookEvent
    })
  })

/** Waves of `width` runs: the k-th events of `width` runs form one group (one transaction). */
const waves = <A>(runs: ReadonlyArray<ReadonlyArray<A>>, width: number): Array<Array<A>> => {
  const groups: Array<Array<A>> = []
  for (let i = 0; i < runs.length; i += width) {
    const wave = runs.slice(i, i + width)
    for (let k = 0; k < wave[0]!.length; k++) groups.push(wave.map((events) => events[k]!))
  }
  return groups
}

interface Target {
  readonly name: string
  readonly short: string
  readonly url: string
  readonly options: SqlRecorder.SqlRecorderOptions & { readonly database?: Database.DatabaseOptions }
  readonly raw: RawWriter
  /** Per-run aggregates of what was written, to check that the baseline writes the same rows. */
  readonly digest: (runId: string) => Promise<string>
  readonly close: () => Promise<void>
}

const DIGEST = (pgDialect: boolean) => {
  const t = (c: string) => (pgDialect ? `COALESCE(SUM(LENGTH(${c}::text)), 0)` : `COALESCE(SUM(LENGTH(${c})), 0)`)
  return [
    `SELECT status, iteration_count, total_input_tokens, total_output_tokens, total_cache_read_tokens, total_cost_usd,
      model_call_count, unpriced_call_count, last_sequence_index, answer, finished_at IS NOT NULL AS finished
      FROM agent_runs WHERE id = $1`,
    `SELECT COUNT(*) AS n, ${t("content")} AS content, ${
      t("tool_calls")
    } AS calls FROM react_traces WHERE agent_run_id = $1`,
    `SELECT COUNT(*) AS n, ${t("params")} AS params, ${t("result")} AS result, SUM(duration_ms) AS ms
      FROM tool_calls WHERE agent_run_id = $1`,
    `SELECT COUNT(*) AS n, ${t("semantic_request")} AS req, ${t("semantic_response")} AS res,
      ${t("provider_response")} AS pres, SUM(input_tokens) AS inp FROM llm_interactions WHERE agent_run_id = $1`,
    `SELECT COUNT(*) AS n, SUM(input_tokens) AS inp, MAX(agent_name) AS agent FROM token_usage WHERE agent_run_id = $1`,
    `SELECT COUNT(*) AS n, ${t("data")} AS data, MAX(sequence_index) AS last FROM run_events WHERE agent_run_id = $1`
  ]
}

const sqliteTarget = async (synchronous: "normal" | "full"): Promise<Target> => {
  const dir = createTempDir()
  const file = join(dir.path, "bench.db")
  const url = `sqlite:${file}`
  // The recorder's own layer creates and migrates the file; the baselines then open it too.
  await Effect.runPromise(Effect.provide(Effect.void, Database.layerFromUrl(url, { synchronous })))
  const raw = sqliteWriter(file, synchronous)
  const reader = openSqlite(file)
  const queries = DIGEST(false).map((q) => reader.prepare(q.replaceAll("$1", "?")))
  return {
    name: `SQLite (WAL, synchronous=${synchronous.toUpperCase()})`,
    short: synchronous === "normal" ? "sqlite" : "sqlite full",
    url,
    options: { database: { synchronous } },
    raw,
    digest: async (runId) => JSON.stringify(queries.map((q) => q.all(runId))),
    close: async () => {
      await raw.close()
      reader.close()
      dir.remove()
    }
  }
}

const pgTarget = async (): Promise<Target> => {
  const db = await createPgDatabase()
  await Effect.runPromise(Effect.asVoid(Migrations.run).pipe(Effect.provide(Database.layerFromUrl(db.url))))
  const client = new pg.Client({ connectionString: db.url })
  // Dropping the database (WITH FORCE) ends this connection if it is still open: expected, not a crash.
  client.on("error", () => undefined)
  await client.connect()
  return {
    name: "Postgres",
    short: "postgres",
    url: db.url,
    options: {},
    raw: pgWriter(client),
    digest: async (runId) => {
      const out: Array<unknown> = []
      for (const q of DIGEST(true)) out.push((await client.query(q, [runId])).rows)
      return JSON.stringify(out)
    },
    close: async () => {
      await client.end()
      await db.drop()
    }
  }
}

type Rt = ManagedRuntime.ManagedRuntime<SqlClient.SqlClient | Recorder, unknown>

const replay = (
  rt: Rt,
  write: (e: HookEvent.HookEvent) => Effect.Effect<void, unknown, SqlClient.SqlClient | Recorder>,
  runs: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>,
  concurrency: number
) =>
  rt.runPromise(
    Effect.forEach(runs, (events) => Effect.forEach(events, write, { discard: true }), { concurrency, discard: true })
  )

const recorded = (e: HookEvent.HookEvent) => Effect.flatMap(Recorder, (r) => r.record(e))

interface Level {
  readonly concurrency: number
  readonly recorder: Measured
  readonly raw: Measured
  readonly naive: Measured
  readonly precompiled?: Measured
}

const measureTarget = async (
  target: Target,
  events: ReadonlyArray<HookEvent.HookEvent>,
  levels: ReadonlyArray<number>
): Promise<{ levels: ReadonlyArray<Level>; same: boolean; diff: string }> => {
  const rt: Rt = ManagedRuntime.make(SqlRecorder.layerFromUrl(target.url, target.options))
  try {
    // The baseline must write what the recorder writes: one run each way, compared table by table.
    const [viaRecorder] = freshRuns(events, 1, "chk")
    const [viaRaw] = freshRuns(events, 1, "chk")
    await replay(rt, recorded, [viaRecorder!], 1)
    await target.raw.write(waves([viaRaw!], 1))
    const a = await target.digest(viaRecorder![0]!.runId)
    const b = await target.digest(viaRaw![0]!.runId)
    const out: Array<Level> = []
    const tag = target.short.slice(0, 2)
    for (const concurrency of levels) {
      const count = concurrency === 100 ? 200 : concurrency === 10 ? 40 : 20
      // Committing each event costs the most; half as many runs measure its rate as well.
      const naiveCount = concurrency === 100 ? 100 : count
      const configs: Array<Config<any>> = [
        {
          name: "recorder",
          prepare: () => freshRuns(events, count, tag),
          run: async (runs: ReturnType<typeof freshRuns>) => {
            await replay(rt, recorded, runs, concurrency)
            return runs.length * events.length
          }
        },
        {
          name: "raw",
          prepare: () => freshRuns(events, count, tag),
          run: async (runs: ReturnType<typeof freshRuns>) => {
            await target.raw.write(waves(runs, concurrency))
            return runs.length * events.length
          }
        },
        {
          name: "naive",
          prepare: () => freshRuns(events, naiveCount, tag),
          run: async (runs: ReturnType<typeof freshRuns>) => {
            await replay(rt, naiveWrite, runs, concurrency)
            return runs.length * events.length
          }
        },
        ...(concurrency === 100
          ? [{
            name: "precompiled",
            prepare: () => waves(freshRuns(events, count, tag), concurrency).map((g): Group => g.map(rowsOf)),
            run: async (groups: ReadonlyArray<Group>) => {
              await target.raw.writePrecompiled(groups)
              return groups.reduce((n, g) => n + g.length, 0)
            }
          }]
          : [])
      ]
      console.log(`  ${target.name}, ${concurrency} concurrent runs`)
      const m = await alternate(configs, { rounds: ROUNDS, warmup: 1, onRound: logRound("recorder") })
      out.push({
        concurrency,
        recorder: m.recorder!,
        raw: m.raw!,
        naive: m.naive!,
        ...(m.precompiled === undefined ? {} : { precompiled: m.precompiled })
      })
    }
    return { levels: out, same: a === b, diff: a === b ? "" : `recorder ${a}\nbaseline ${b}` }
  } finally {
    await rt.dispose()
  }
}

const us = (s: Measured["wall"]) => spread(s, 1000, " µs")

const levelRows = (level: Level) => {
  const row = (label: string, m: Measured, vs: string) => [
    String(level.concurrency),
    label,
    spread(m.rate),
    us(m.cpu),
    us(m.wall),
    vs
  ]
  const rows = [row("**recorder** (group commit)", level.recorder, "")]
  const against = (label: string, m: Measured) => rows.push(row(label, m, ratioText(rateRatio(level.recorder, m))))
  against("raw driver incl. serialisation", level.raw)
  if (level.precompiled !== undefined) against("raw driver, precompiled", level.precompiled)
  against("naive: @effect/sql, commit per event", level.naive)
  return rows
}

const profileRecorder = async (events: ReadonlyArray<HookEvent.HookEvent>) => {
  const target = await sqliteTarget("normal")
  const rt: Rt = ManagedRuntime.make(SqlRecorder.layerFromUrl(target.url, target.options))
  try {
    await replay(rt, recorded, freshRuns(events, 100, "pw"), 100)
    const runs = freshRuns(events, 300, "pr")
    return summarise(await cpuProfile("recorder", () => replay(rt, recorded, runs, 100)), [
      ["`plan()` (`plan.ts`: rows and JSON of an event)", /plan\.ts/],
      ["batch statements (`batch.ts`: multi-row VALUES, CASTs)", /batch\.ts/],
      ["@effect/sql (statement building and compiling, the client)", /@effect\/sql\//],
      ["@effect/sql-sqlite-node (driver adapter)", /@effect\/sql-sqlite-node/],
      ["better-sqlite3 (JS wrapper)", /better-sqlite3/],
      ["the recorder's JSON check (`json.ts`: `JSON.stringify` with a replacer)", /recorder\/src\/internal\/json\.ts/],
      ["`Deferred` (one per recorded event)", /[dD]eferred/],
      ["writer (`writer.ts`: queue, Deferred, record)", /writer\.ts/],
      ["retry and timeout (`write.ts`: `withRetry`, `timeoutFail`, transact)", /write\.ts/]
    ])
  } finally {
    await rt.dispose()
    await target.close()
  }
}

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const events = await template()
  const sections: Array<BenchSection> = []
  const figures: Array<Figure> = []
  const plans: ReadonlyArray<readonly [() => Promise<Target>, ReadonlyArray<number>]> = [
    [() => sqliteTarget("normal"), [1, 10, 100]],
    [() => sqliteTarget("full"), [100]],
    [pgTarget, [1, 100]]
  ]
  for (const [make, levels] of plans) {
    const target = await make()
    try {
      const { diff, levels: measured, same } = await measureTarget(target, events, levels)
      const at = (c: number) => measured.find((l) => l.concurrency === c)
      const top = at(100)!
      // Not every target measures concurrency 1 (SQLite FULL only measures 100 concurrent runs).
      const one = at(1)
      const latency = one === undefined ? undefined : costRatio(one.recorder, one.raw)
      const suffix = target.short === "sqlite" ? "sqlite" : target.short
      figures.push(
        rateFigure(top.recorder, top.raw, {
          name: `recorder ${suffix} vs raw incl. serialisation`,
          unit: "events/s at 100 concurrent runs",
          baseline: "raw driver writing the same rows incl. serialisation, one transaction per wave of 100 events",
          ...(target.short === "sqlite full" ? {} : { target: { of: "ratio", min: 0.75 } as const })
        }),
        rateFigure(top.recorder, top.naive, {
          name: target.short === "sqlite" ? "recorder vs naive" : `recorder ${suffix} vs naive`,
          unit: "events/s at 100 concurrent runs",
          baseline: "the same rows through @effect/sql, each event in its own transaction, 100 runs concurrent",
          ...(target.short === "sqlite" ? { target: { of: "ratio", min: 8 } as const } : {})
        }),
        rateFigure(top.recorder, top.precompiled!, {
          name: `recorder ${suffix} vs raw precompiled`,
          unit: "events/s at 100 concurrent runs",
          baseline: "raw driver executing statements built beforehand (serialisation not timed)"
        }),
        ...(one === undefined ? [] : [
          costFigure(one.recorder, one.raw, {
            name: target.short === "sqlite" ? "event latency vs raw commit" : `event latency vs raw commit ${suffix}`,
            scale: 1000,
            unit: "µs per recorded event at concurrency 1",
            baseline: "raw driver serialising and committing that event alone",
            ...(target.short === "sqlite" ? { target: { of: "ratio", max: 1.5 } as const } : {})
          })
        ])
      )
      sections.push({
        title: `Recorder: durable events, ${target.name}`,
        markdown: [
          table(
            [
              "concurrent runs",
              "configuration",
              "events/s",
              "CPU per event",
              "wall per event",
              "recorder vs this (events/s)"
            ],
            measured.flatMap(levelRows),
            "|---:|---|---:|---:|---:|---:|"
          ),
          "",
          ...(one === undefined || latency === undefined ? [] : [
            `**Latency at concurrency 1**: a recorded event costs ${
              sig(one.recorder.wall.median * 1000)
            } µs awaited, ` +
            `the raw driver serialising and committing that event alone ${sig(one.raw.wall.median * 1000)} µs: ` +
            `**${ratioText(latency.wall)}** (added ${
              sig((one.recorder.wall.median - one.raw.wall.median) * 1000)
            } µs per event; by CPU ${ratioText(latency.cpu)}).`,
            ""
          ]),
          same
            ? "Rows check: one run written by the recorder and one by the baseline give the same per-table counts, " +
              "totals and text lengths."
            : `**Rows check failed**: the baseline does not write what the recorder writes:\n\n\`\`\`\n${diff}\n\`\`\``,
          ...(target.short === "postgres"
            ? [
              "",
              "CPU is this process's only: the Postgres server's own CPU is not counted (it runs as other processes)."
            ]
            : [])
        ].join("\n")
      })
    } finally {
      await target.close()
    }
  }
  const profiled = await profileRecorder(events)
  sections.push(
    {
      title: "Recorder: what the rows mean",
      markdown: [
        `Each run replays the ${events.length} events of a scripted 3-turn, 2-tool run (recorded once on the memory ` +
        "recorder, then given fresh run and call ids), awaiting each write before the next as the loop does; N runs " +
        `at once. ${ROUNDS} measured rounds after a warm-up, configurations alternating (order rotated each round), ` +
        "a young-generation GC before each; medians (min–max of the rounds); ratios of the medians of events/s (min–max of the " +
        "round-by-round ratios); CPU is `process.cpuUsage` per event.",
        "",
        "- **recorder**: `SqlRecorder.layerFromUrl`, `Recorder.record` per event (group commit across the concurrent runs).",
        "- **raw driver incl. serialisation** (the baseline, `bench/raw.ts` in this package): the same events turned " +
        "into the same rows of the same tables (JSON text, ISO timestamps, the compare-and-swap on the run's row, " +
        "usage rows copying tenant and agent) by hand, timed with the writes. SQLite: better-sqlite3, a statement " +
        "per table and shape prepared once, executed row by row; Postgres: node-postgres, one named `unnest` " +
        "statement per shape and group. One transaction per wave (the k-th events of N concurrent runs), i.e. the " +
        "batching N concurrent runs allow; at 1 run, a commit per event.",
        "- **raw driver, precompiled**: the same with the rows built before the clock starts (the database's and " +
        "driver's share alone).",
        "- **naive**: the same single-row statements through @effect/sql, each event in its own transaction, N " +
        "runs concurrent (what committing per event costs through the library the recorder is built on).",
        "",
        "A rows check writes one run each way and compares per-table counts, totals and text lengths."
      ].join("\n"),
      figures
    },
    {
      title: "Recorder: where the writer's time goes (CPU profile)",
      markdown: [
        "300 runs replayed at 100 concurrent runs on SQLite (NORMAL), sampled in-process (`bench/profile.ts`).",
        "",
        summaryMarkdown(profiled)
      ].join("\n")
    }
  )
  sections.push(...(await endToEnd()))
  sections.push(...(await threadStartup()))
  sections.push(...(await streamChunks()))
  sections.push(...(await privacy()))
  return sections
}
