/**
 * Fleet mode: runs/s of the scripted three-step run (two tool calls of 20-200 ms, three model calls) with 1 and
 * 2 runner processes (capacity 16 each) against the same runs in one process without the cluster (the agent
 * run directly, 16 at a time, recorded to the same Postgres), and the recovery time: from the SIGKILL of a
 * runner to the `custom.run.recovered` event of each of its in-flight runs on another runner. Wall time only:
 * the work happens in child processes, so this process's CPU time says nothing. Rounds alternate the
 * configurations; figures are medians with their spread. `BENCH_ROUNDS` (default 2) rounds.
 */
import { Fleet } from "@sextant/fleet"
import { Database, Migrations, SqlRecorder } from "@sextant/recorder"
import { Effect, Layer, ManagedRuntime } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { num, roundsFromEnv, stats, table } from "../../../bench/measure.js"
import type { BenchSection } from "../../../bench/section.js"
import { createPgDatabase } from "../../../test-support/databases.js"
import { createExecTable, makeAgent, model } from "../test/fixtures/agent.js"

const ROUNDS = roundsFromEnv(2)
const RUNS = 64
const runnerScript = fileURLToPath(new URL("../test/fixtures/runner.ts", import.meta.url))

const startRunner = (url: string) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@sextant/source", "--import", "tsx", runnerScript, url, "-", "16"],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child)
    })
    child.once("exit", (code) => reject(new Error(`runner exited (${code})`)))
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const waitEnded = async (pool: pg.Pool, ids: ReadonlyArray<string>) => {
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM agent_runs WHERE id = ANY($1) AND status <> 'running'",
      [ids]
    )
    if (Number(rows[0]!.n) >= ids.length) return
    await sleep(20)
  }
}

let round = 0
const inputs = () => Array.from({ length: RUNS }, (_, i) => `bench ${round++} ${i}`)

/** Runs/s of RUNS runs through the fleet with `n` runners (started and settled beforehand). */
const fleetRound = async (url: string, pool: pg.Pool, n: number) => {
  const runners = await Promise.all(Array.from({ length: n }, () => startRunner(url)))
  const client = ManagedRuntime.make(
    Fleet.layer({ databaseUrl: url, agents: [makeAgent(undefined)] }).pipe(Layer.provide(model))
  )
  try {
    await client.runPromise(Fleet.Fleet)
    // Let the runners take their shards before the clock starts.
    await sleep(3_000)
    const started = performance.now()
    const ids = await client.runPromise(
      Effect.flatMap(Fleet.Fleet, (f) => Effect.forEach(inputs(), (input) => f.submit("fleet-test", input)))
    )
    await waitEnded(pool, ids)
    return RUNS / ((performance.now() - started) / 1000)
  } finally {
    await client.dispose()
    await Promise.all(runners.map(stop))
  }
}

/** Runs/s of the same runs in this process, 16 at a time, recorded to the same database, no cluster. */
const localRound = async (url: string) => {
  const agent = makeAgent(undefined)
  const runtime = ManagedRuntime.make(Layer.merge(SqlRecorder.layerFromUrl(url), model))
  try {
    await runtime.runPromise(Effect.void)
    const started = performance.now()
    await runtime.runPromise(Effect.forEach(inputs(), (input) => agent.run(input), { concurrency: 16 }))
    return RUNS / ((performance.now() - started) / 1000)
  } finally {
    await runtime.dispose()
  }
}

/** Recovery delays (ms) of the in-flight runs of a runner SIGKILLed among three. */
const recoveryRound = async (url: string, pool: pg.Pool) => {
  const runners = await Promise.all([0, 1, 2].map(() => startRunner(url)))
  const client = ManagedRuntime.make(
    Fleet.layer({ databaseUrl: url, agents: [makeAgent(undefined)] }).pipe(Layer.provide(model))
  )
  try {
    await client.runPromise(Fleet.Fleet)
    await sleep(3_000)
    const ids = await client.runPromise(
      Effect.flatMap(Fleet.Fleet, (f) => Effect.forEach(inputs(), (input) => f.submit("fleet-test", input)))
    )
    await sleep(300)
    const killedAt = Date.now()
    await stop(runners[0]!)
    await waitEnded(pool, ids)
    const { rows } = await pool.query<{ at: Date }>(
      `SELECT MIN(created_at) AS at FROM run_events WHERE agent_run_id = ANY($1) AND event_type = 'custom.event'
         AND created_at > $2 GROUP BY agent_run_id`,
      [ids, new Date(killedAt)]
    )
    return rows.map((r) => new Date(r.at).getTime() - killedAt)
  } finally {
    await client.dispose()
    await Promise.all(runners.map(stop))
  }
}

/** The fleet section of `npm run bench`. */
export default async (): Promise<ReadonlyArray<BenchSection>> => {
  const db = await createPgDatabase()
  const pool = new pg.Pool({ connectionString: db.url, max: 4 })
  pool.on("error", () => undefined)
  try {
    await Effect.runPromise(Effect.provide(Migrations.run, Database.layerFromUrl(db.url)))
    await createExecTable(db.url)
    const local: Array<number> = []
    const one: Array<number> = []
    const two: Array<number> = []
    const recovery: Array<number> = []
    for (let r = 0; r < ROUNDS; r++) {
      local.push(await localRound(db.url))
      console.log(`fleet round ${r}: local done`)
      one.push(await fleetRound(db.url, pool, 1))
      console.log(`fleet round ${r}: 1 runner done`)
      two.push(await fleetRound(db.url, pool, 2))
      console.log(`fleet round ${r}: 2 runners done`)
      recovery.push(...await recoveryRound(db.url, pool))
      console.log(
        `fleet round ${r}: local ${num(local[r]!)} runs/s, 1 runner ${num(one[r]!)}, 2 runners ${num(two[r]!)}`
      )
    }
    const [l, o, t, rec] = [stats(local), stats(one), stats(two), stats(recovery)]
    const p99 = [...recovery].sort((a, b) => a - b)[Math.max(0, Math.ceil(recovery.length * 0.99) - 1)] ?? NaN
    const markdown = [
      `${RUNS} runs of the three-step scripted run per round, ${ROUNDS} rounds; capacity 16 per runner, 16 at a time`,
      "in the single process. Wall time from the first submit to the last run ended (read from the record).",
      "",
      table(["configuration", "runs/s (median)", "min–max", "× single process"], [
        ["one process, no cluster", num(l.median), `${num(l.min)}–${num(l.max)}`, "1.00"],
        ["fleet, 1 runner", num(o.median), `${num(o.min)}–${num(o.max)}`, num(o.median / l.median, 2)],
        ["fleet, 2 runners", num(t.median), `${num(t.min)}–${num(t.max)}`, num(t.median / l.median, 2)]
      ]),
      "",
      `Recovery (SIGKILL of one runner of three, ${recovery.length} in-flight runs moved): median ${
        num(rec.median, 0)
      } ms, p99 ${num(p99, 0)} ms (kill to the run's \`custom.run.recovered\` on another runner; bounded by the`,
      "shard-lock expiry of 6 s and the 1 s health check and assignment refresh)."
    ].join("\n")
    return [{
      title: "fleet: runners on @effect/cluster",
      markdown,
      figures: [
        { name: "fleet.local.runsPerSecond", value: l.median, unit: "runs/s", ratio: null, spread: [l.min, l.max] },
        {
          name: "fleet.runner1.runsPerSecond",
          value: o.median,
          unit: "runs/s",
          ratio: o.median / l.median,
          baseline: "one process, no cluster",
          spread: [o.min, o.max]
        },
        {
          name: "fleet.runner2.runsPerSecond",
          value: t.median,
          unit: "runs/s",
          ratio: t.median / l.median,
          baseline: "one process, no cluster",
          spread: [t.min, t.max]
        },
        { name: "fleet.recovery.medianMs", value: rec.median, unit: "ms", ratio: null, spread: [rec.min, rec.max] },
        { name: "fleet.recovery.p99Ms", value: p99, unit: "ms", ratio: null }
      ]
    }]
  } finally {
    await pool.end()
    await db.drop()
  }
}
