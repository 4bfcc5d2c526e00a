/**
 * Billing at volume: `usage({ groupBy: ["tenant", "day"] })` over 1,000,000 runs (3 model calls each, so 3M
 * `token_usage` rows) against the same over 10,000 runs spread over the same 30 days and 20 tenants (the same
 * 600 groups: only the rows per group differ), and both against the same GROUP BY on the bare driver.
 *
 * The big database is seeded directly (prepared INSERTs, one transaction per 10,000 runs, not through the
 * agent loop) and cached in the temp directory under a key of the migrations' sources, so later runs reuse it
 * (`BENCH_USAGE_RUNS` changes the size; `BENCH_USAGE_FRESH=1` reseeds). Every answer is checked against the raw
 * sums first: a store that answered from somewhere else (a rollup) must agree with the rows.
 */
import { Database, Migrations } from "@sextant/recorder"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { isDeepStrictEqual } from "node:util"
import {
  alternate,
  type Config,
  costRatio,
  logRound,
  num,
  ratioText,
  roundsFromEnv,
  spread,
  table
} from "../../../bench/measure.js"
import { type BenchSection, costFigure, type Figure } from "../../../bench/section.js"
import { RunStore } from "../src/index.js"

const BIG = Number(process.env.BENCH_USAGE_RUNS ?? 1_000_000)
const SMALL = 10_000
const TENANTS = 20
const DAYS = 30
const CALLS = 3
const CHUNK = 10_000
const START = Date.UTC(2026, 0, 1)
const root = fileURLToPath(new URL("../../../", import.meta.url))

const require = createRequire(import.meta.url)
interface Statement {
  run: (...p: ReadonlyArray<unknown>) => unknown
  all: (...p: ReadonlyArray<unknown>) => Array<Record<string, unknown>>
}
interface Db {
  prepare: (s: string) => Statement
  pragma: (s: string) => unknown
  transaction: (f: () => void) => () => void
  close: () => void
}
const Sqlite = require("better-sqlite3") as new(file: string, options?: { readonly readonly?: boolean }) => Db

/** A key of the schema the seed was written under: the migrations' sources. */
const schemaKey = () => {
  const dir = `${root}packages/recorder/src/internal/migrations`
  const hash = createHash("sha256")
  for (const f of readdirSync(dir).sort()) hash.update(f).update(readFileSync(join(dir, f)))
  // The seed's own version: a seed that writes other columns is another database.
  hash.update("seed 2: cost_nanos, usage_daily")
  return hash.digest("hex").slice(0, 12)
}

/** Seeds `runs` runs (and `CALLS` usage rows each) over `DAYS` days into a migrated file; returns seconds. */
const seed = (file: string, runs: number): number => {
  const started = performance.now()
  const db = new Sqlite(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = OFF")
  const run = db.prepare(`INSERT INTO agent_runs (id, tenant_id, agent_name, status, input, instructions, answer, model,
    provider, delegation_level, iteration_count, total_input_tokens, total_output_tokens, total_cost_usd,
    model_call_count, unpriced_call_count, last_sequence_index, created_at, updated_at, last_progress_at, finished_at)
    VALUES (?, ?, ?, 'success', 'What is the weather?', 'Answer.', 'Sunny.', ?, 'openai', 0, 3, ?, ?, ?, 3, ?, 17, ?, ?, ?, ?)`)
  const usage = db.prepare(`INSERT INTO token_usage (id, agent_run_id, llm_interaction_id, tenant_id, agent_name,
    iteration, provider, model, input_tokens, output_tokens, cost_usd, cost_nanos, created_at)
    VALUES (?, ?, ?, ?, ?, ?, 'openai', ?, ?, ?, ?, ?, ?)`)
  const span = DAYS * 86_400_000
  for (let from = 0; from < runs; from += CHUNK) {
    db.transaction(() => {
      for (let i = from; i < Math.min(runs, from + CHUNK); i++) {
        const id = `run-${String(i).padStart(8, "0")}`
        const tenant = `t${i % TENANTS}`
        const agent = `agent-${i % 7}`
        const model = i % 2 === 0 ? "gpt-4.1-mini" : "gpt-4.1"
        const at = START + Math.floor((i * span) / runs)
        const iso = new Date(at).toISOString()
        const priced = i % 5 !== 0
        run.run(id, tenant, agent, model, 540, 48, priced ? 0.0009 : null, priced ? 0 : 3, iso, iso, iso, iso)
        for (let k = 0; k < CALLS; k++) {
          const uid = `${id}-u${k}`
          usage.run(
            uid,
            id,
            uid,
            tenant,
            agent,
            k + 1,
            model,
            120 + 60 * k,
            18 - 2 * k,
            priced ? 0.0003 : null,
            // What the recorder writes beside the USD column (migration 3): the sums read whole nano-dollars.
            priced ? 300_000 : null,
            new Date(at + k * 1000).toISOString()
          )
        }
      }
    })()
  }
  db.pragma("wal_checkpoint(TRUNCATE)")
  db.prepare("ANALYZE").run()
  db.close()
  return (performance.now() - started) / 1000
}

/** A migrated, seeded database of `runs` runs: cached in the temp directory when `cache` is set. */
const database = async (runs: number, cache: boolean) => {
  const key = `sextant-bench-usage-${runs}-${schemaKey()}`
  const file = join(tmpdir(), `${key}.db`)
  const meta = join(tmpdir(), `${key}.json`)
  const drop = () => {
    for (const f of [file, `${file}-wal`, `${file}-shm`, meta]) rmSync(f, { force: true })
  }
  if (cache && process.env.BENCH_USAGE_FRESH !== "1" && existsSync(file) && existsSync(meta)) {
    const { seconds } = JSON.parse(readFileSync(meta, "utf8")) as { seconds: number }
    return { file, seconds, cached: true, drop: () => undefined }
  }
  drop()
  const building = `${file}.building`
  for (const f of [building, `${building}-wal`, `${building}-shm`]) rmSync(f, { force: true })
  // The recorder's layer creates the file and applies the migrations; the seed then writes the rows.
  await Effect.runPromise(Effect.orDie(Effect.provide(Effect.void, Database.layerFromUrl(`sqlite:${building}`))))
  const seconds = seed(building, runs)
  // The seed writes around the recorder: the per-day rollup usage() reads is computed from its rows.
  await Effect.runPromise(
    Effect.orDie(Effect.provide(Migrations.rebuildUsageRollup, Database.layerFromUrl(`sqlite:${building}`)))
  )
  renameSync(building, file)
  for (const f of [`${building}-wal`, `${building}-shm`]) rmSync(f, { force: true })
  if (cache) writeFileSync(meta, JSON.stringify({ seconds, at: new Date().toISOString() }))
  return { file, seconds, cached: false, drop: cache ? () => undefined : drop }
}

const RAW = `SELECT tenant_id, substr(created_at, 1, 10) AS day,
  COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens,
  COALESCE(SUM(cost_usd), 0) AS cost_usd, COUNT(DISTINCT agent_run_id) AS run_count, COUNT(*) AS model_call_count,
  COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0) AS unpriced_call_count
  FROM token_usage GROUP BY tenant_id, substr(created_at, 1, 10) ORDER BY tenant_id, substr(created_at, 1, 10)`

type Groups = ReadonlyArray<Record<string, unknown>>

/** The raw sums in the store's shape, to check its answer. */
const rawGroups = (rows: Groups) =>
  rows.map((r) => ({
    tenantId: r.tenant_id,
    day: r.day,
    input: Number(r.input_tokens),
    output: Number(r.output_tokens),
    cost: Math.round(Number(r.cost_usd) * 1e9),
    runs: Number(r.run_count),
    calls: Number(r.model_call_count),
    unpriced: Number(r.unpriced_call_count)
  }))
const storeGroups = (items: ReadonlyArray<Record<string, any>>) =>
  items.map((g) => ({
    tenantId: g.tenantId,
    day: g.day,
    input: g.inputTokens,
    output: g.outputTokens,
    cost: Math.round(g.costUsd * 1e9),
    runs: g.runCount,
    calls: g.modelCallCount,
    unpriced: g.unpricedCallCount
  }))

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const big = await database(BIG, true)
  const small = await database(SMALL, false)
  console.log(`  usage: ${BIG} runs ${big.cached ? "cached" : `seeded in ${big.seconds.toFixed(1)} s`}`)
  const bigStore = await RunStore.fromDatabaseUrl(`sqlite:${big.file}`)
  const smallStore = await RunStore.fromDatabaseUrl(`sqlite:${small.file}`)
  const bigRaw = new Sqlite(big.file, { readonly: true })
  const smallRaw = new Sqlite(small.file, { readonly: true })
  try {
    const query = { groupBy: ["tenant", "day"] as Array<"tenant" | "day"> }
    const bigRawQ = bigRaw.prepare(RAW)
    const smallRawQ = smallRaw.prepare(RAW)
    const checks = [
      isDeepStrictEqual(storeGroups((await bigStore.usage(query)).items), rawGroups(bigRawQ.all())),
      isDeepStrictEqual(storeGroups((await smallStore.usage(query)).items), rawGroups(smallRawQ.all()))
    ]
    const groups = (await smallStore.usage(query)).items.length
    const times = (n: number, f: () => Promise<unknown>) => async () => {
      for (let i = 0; i < n; i++) await f()
      return n
    }
    const configs: Array<Config<undefined>> = [
      { name: "store, 1M", run: times(1, () => bigStore.usage(query)) },
      { name: "store, 10k", run: times(20, () => smallStore.usage(query)) },
      { name: "driver, 1M", run: times(1, async () => bigRawQ.all()) },
      { name: "driver, 10k", run: times(20, async () => smallRawQ.all()) }
    ]
    const m = await alternate(configs, { rounds: roundsFromEnv(3), warmup: 1, onRound: logRound("usage") })
    const sB = m["store, 1M"]!
    const sS = m["store, 10k"]!
    const dB = m["driver, 1M"]!
    const dS = m["driver, 10k"]!
    const label = BIG.toLocaleString("en-US")
    const figures: Array<Figure> = [costFigure(sB, sS, {
      name: "usage 1M vs 10k",
      unit: `ms per usage() by tenant and day over ${label} runs`,
      baseline: `the same call over ${SMALL.toLocaleString("en-US")} runs (same 30 days, same ${groups} groups)`,
      target: { of: "ratio", max: 3 }
    })]
    const row = (x: typeof sB, base: typeof sB | undefined) => [
      x.name,
      spread(x.wall, 1, " ms"),
      spread(x.cpu, 1, " ms"),
      base === undefined ? "" : ratioText(costRatio(x, base).wall, 1)
    ]
    return [{
      title: `Store: usage() by tenant and day over ${label} runs vs ${SMALL.toLocaleString("en-US")}`,
      markdown: [
        `\`usage({ groupBy: ["tenant", "day"] })\` unfiltered, over ${label} runs (${
          (BIG * CALLS).toLocaleString("en-US")
        } \`token_usage\` rows) and over ${
          SMALL.toLocaleString("en-US")
        } runs, both spread over the same ${DAYS} days ` +
        `and ${TENANTS} tenants (${groups} groups each). SQLite. The big database was ${
          big.cached
            ? `taken from the cache (seeded earlier in ${big.seconds.toFixed(0)} s)`
            : `seeded in ${big.seconds.toFixed(0)} s`
        } with prepared INSERTs, one transaction per ${CHUNK.toLocaleString("en-US")} runs (cached in the temp ` +
        "directory by the migrations' hash; `BENCH_USAGE_FRESH=1` reseeds). Driver = the same GROUP BY on " +
        `better-sqlite3. ${roundsFromEnv(3)} rounds alternating after a warm-up; per call, medians (min–max).`,
        "",
        table(
          ["configuration", "wall per call", "CPU per call", "vs the same over 10k"],
          [row(sB, sS), row(sS, undefined), row(dB, dS), row(dS, undefined)],
          "|---|---:|---:|---:|"
        ),
        "",
        `Store vs driver: ${num(sB.wall.median / dB.wall.median, 2)}× at ${label}, ${
          num(sS.wall.median / dS.wall.median, 2)
        }× at 10k. ` +
        (checks.every((c) => c)
          ? "Answers checked: the store's groups equal the raw sums on both databases."
          : `**Answers differ from the raw sums** (${label}: ${checks[0] ? "equal" : "differ"}, 10k: ${
            checks[1] ? "equal" : "differ"
          }): if \`usage()\` now reads a rollup, the seed must fill it (its migration should backfill from \`token_usage\`).`)
      ].join("\n"),
      figures
    }]
  } finally {
    bigRaw.close()
    smallRaw.close()
    await bigStore.close()
    await smallStore.close()
    small.drop()
    big.drop()
  }
}
