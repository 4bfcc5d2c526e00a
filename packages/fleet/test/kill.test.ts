/**
 * The kill test: real runner child processes on a fresh Postgres database, one SIGKILLed while runs are in
 * flight; every run still ends as configured, with a gapless record and no step repeated. Then a submitter
 * killed right after `submit` returns, and every runner killed and replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Fleet } from "@sextant/fleet"
import { Database, Migrations } from "@sextant/recorder"
import { Agent } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import pg from "pg"
import { createPgDatabase } from "../../../test-support/databases.js"
import { createExecTable, makeAgent, model } from "./fixtures/agent.js"

/** Runs of the main phase, as the issue asks (about 11 s on two quiet cores). */
const RUNS = 300
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

interface Child {
  readonly process: ChildProcess
  readonly lines: Array<string>
  readonly waitFor: (prefix: string) => Promise<string>
}

const start = (script: string, args: ReadonlyArray<string>): Child => {
  const child = spawn(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", fixture(script), ...args], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const lines: Array<string> = []
  const waiters: Array<{ prefix: string; resolve: (line: string) => void }> = []
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (line === "") continue
      lines.push(line)
      for (const w of waiters.filter((w) => line.startsWith(w.prefix))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  }
  child.stdout!.on("data", onData)
  child.stderr!.on("data", onData)
  return {
    process: child,
    lines,
    waitFor: (prefix) => {
      const found = lines.find((l) => l.startsWith(prefix))
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        waiters.push({ prefix, resolve })
        child.once(
          "exit",
          (code) => reject(new Error(`${script} exited (${code}) before '${prefix}':\n${lines.join("\n")}`))
        )
      })
    }
  }
}

// No fixed port: the OS gives each runner a free one. A fixed port in the ephemeral range (where these tests once
// picked theirs) can be held at that moment by any outgoing connection as its local port: the runner then fails
// to listen (`FleetListenFailed`, formerly `FleetError: cluster: Open`).
const startRunner = (url: string) => start("runner.ts", [url, "-", "16"])

const kill = (child: Child) =>
  new Promise<void>((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) return resolve()
    child.process.once("exit", () => resolve())
    child.process.kill("SIGKILL")
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let db: { readonly url: string; readonly drop: () => Promise<void> }
let pool: pg.Pool
let runners: Array<Child> = []
let client: ManagedRuntime.ManagedRuntime<Fleet.Fleet, unknown>

const ended = async (ids: ReadonlyArray<string>) => {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT COUNT(*) AS n FROM agent_runs WHERE id = ANY($1) AND status <> 'running'",
    [ids]
  )
  return Number(rows[0]!.n)
}

/** Waits until `count` of the runs have ended (or paused); the bound is generous, nothing is timed. */
const waitEnded = async (ids: ReadonlyArray<string>, count = ids.length) => {
  for (let i = 0; i < 1500; i++) {
    if ((await ended(ids)) >= count) return
    await sleep(100)
  }
  const stuck = await pool.query(
    `SELECT r.id, (SELECT string_agg(e.event_type, ',' ORDER BY e.sequence_index) FROM run_events e
       WHERE e.agent_run_id = r.id) AS events FROM agent_runs r WHERE r.id = ANY($1) AND r.status = 'running' LIMIT 5`,
    [ids]
  )
  const logs = runners.map((r) => r.lines.slice(-15).join("\n")).join("\n---\n")
  throw new Error(
    `only ${await ended(ids)} of ${ids.length} runs ended; stuck: ${JSON.stringify(stuck.rows)}\n${logs}`
  )
}

const submitAll = (inputs: ReadonlyArray<string>) =>
  client.runPromise(
    Effect.flatMap(Fleet.Fleet, (f) => Effect.forEach(inputs, (input) => f.submit("fleet-test", input)))
  )

/** The record's invariants for these runs: gapless events, each completed call once, executions bounded. */
const checkRecord = async (ids: ReadonlyArray<string>) => {
  const gaps = await pool.query(
    `SELECT agent_run_id, COUNT(*) AS n, COUNT(DISTINCT sequence_index) AS d, MIN(sequence_index) AS lo,
            MAX(sequence_index) AS hi
       FROM run_events WHERE agent_run_id = ANY($1) GROUP BY agent_run_id`,
    [ids]
  )
  expect(gaps.rows).toHaveLength(ids.length)
  for (const r of gaps.rows) {
    expect({ run: r.agent_run_id, n: Number(r.n), d: Number(r.d), lo: Number(r.lo) }).toEqual({
      run: r.agent_run_id,
      n: Number(r.hi) + 1,
      d: Number(r.hi) + 1,
      lo: 0
    })
  }
  const completedTwice = await pool.query(
    `SELECT correlation_id, event_type, COUNT(*) AS n FROM run_events
      WHERE agent_run_id = ANY($1) AND event_type IN ('llm.completed', 'tool.completed')
      GROUP BY correlation_id, event_type HAVING COUNT(*) > 1`,
    [ids]
  )
  expect(completedTwice.rows).toEqual([])
  const executions = await pool.query<{ tool: string; n: string }>(
    "SELECT tool, call_id, COUNT(*) AS n FROM fleet_test_exec WHERE run_id = ANY($1) GROUP BY tool, call_id",
    [ids]
  )
  for (const e of executions.rows) expect(Number(e.n)).toBeLessThanOrEqual(e.tool === "lookup" ? 2 : 1)
  const runs = await pool.query<{ id: string; status: string; input: string; llm: string; error: string | null }>(
    `SELECT r.id, r.status, r.input, r.error_message AS error,
            (SELECT COUNT(*) FROM run_events e WHERE e.agent_run_id = r.id AND e.event_type = 'llm.completed') AS llm
       FROM agent_runs r WHERE r.id = ANY($1)`,
    [ids]
  )
  for (const run of runs.rows) {
    if (run.status === "success") {
      // Three model calls, each completed once; each tool call completed once.
      expect(Number(run.llm)).toBe(3)
      continue
    }
    // Only a run whose non-idempotent tool was in flight may pause, with the reason recorded.
    expect({ id: run.id, status: run.status, charge: run.input.startsWith("charge"), error: run.error }).toEqual({
      id: run.id,
      status: "waiting_approval",
      charge: true,
      error: null
    })
    const paused = await pool.query(
      "SELECT data FROM run_events WHERE agent_run_id = $1 AND event_type = 'run.paused'",
      [run.id]
    )
    const data = paused.rows[0].data
    expect((typeof data === "string" ? JSON.parse(data) : data).prompt).toBe(Agent.INTERRUPTED_PROMPT)
  }
  return runs.rows
}

describe("a fleet of runners", () => {
  beforeAll(async () => {
    db = await createPgDatabase()
    await Effect.runPromise(Effect.provide(Migrations.run, Database.layerFromUrl(db.url)))
    await createExecTable(db.url)
    pool = new pg.Pool({ connectionString: db.url, max: 4 })
    // The database is dropped WITH (FORCE) at the end: a connection still closing then is no test failure.
    pool.on("error", () => undefined)
    runners = [0, 1, 2].map(() => startRunner(db.url))
    client = ManagedRuntime.make(
      Fleet.layer({ databaseUrl: db.url, agents: [makeAgent(undefined)] }).pipe(Layer.provide(model))
    )
    await Promise.all([...runners.map((r) => r.waitFor("ready")), client.runPromise(Fleet.Fleet)])
  }, 60_000)

  afterAll(async () => {
    await Promise.all(runners.map(kill))
    await client?.dispose()
    await pool?.end()
    await db?.drop()
  }, 30_000)

  it("a runner SIGKILLed mid-way: its runs continue on the others, each step once, the record gapless", async () => {
    const inputs = Array.from({ length: RUNS }, (_, i) => (i % 6 === 0 ? `charge ${i}` : `run ${i}`))
    const ids = await submitAll(inputs)
    // Every run exists before its submit returned.
    expect(await ended(ids)).toBeLessThan(RUNS)
    const queued = await pool.query("SELECT COUNT(*) AS n FROM agent_runs WHERE id = ANY($1)", [ids])
    expect(Number(queued.rows[0].n)).toBe(RUNS)
    await waitEnded(ids, Math.floor(RUNS / 3))
    await kill(runners[0]!)
    await waitEnded(ids)
    const runs = await checkRecord(ids)
    expect(runs.filter((r) => r.status === "success").length).toBeGreaterThan(0)
    const recovered = await pool.query(
      `SELECT COUNT(*) AS n FROM run_events WHERE agent_run_id = ANY($1) AND event_type = 'custom.event'
         AND data::text LIKE '%${Agent.RECOVERED_EVENT}%'`,
      [ids]
    )
    expect(Number(recovered.rows[0].n)).toBeGreaterThan(0)
  }, 180_000)

  it("the submitter killed right after submit returns: the run still executes", async () => {
    const submitter = start("submitter.ts", [db.url, "orphan"])
    const line = await submitter.waitFor("submitted")
    await kill(submitter)
    const runId = line.split(" ")[1]!
    const result = await client.runPromise(Effect.flatMap(Fleet.Fleet, (f) => f.result(runId)))
    expect(result.status).toBe("success")
    await checkRecord([runId])
    // Streamed from this process (not the runner's): the whole record, gapless, ending with run.completed.
    const events = await client.runPromise(
      Effect.flatMap(Fleet.Fleet, (f) => Stream.runCollect(f.stream(runId)))
    )
    const list = [...events]
    expect(list.map((e) => e.sequenceIndex)).toEqual(list.map((_, i) => i))
    expect(list.at(-1)!._tag).toBe("RunCompleted")
  }, 60_000)

  it("cancel from another process: a run executing on a runner stops at its next step", async () => {
    const [runId] = await submitAll(["slow cancel"])
    for (let i = 0; i < 600; i++) {
      const { rows } = await pool.query(
        "SELECT 1 FROM run_events WHERE agent_run_id = $1 AND event_type = 'tool.started'",
        [runId]
      )
      if (rows.length > 0) break
      await sleep(50)
    }
    const cancel = await client.runPromise(Effect.flatMap(Fleet.Fleet, (f) => f.cancel(runId!)))
    // Flagged in the record: the runner stops the run at its next step.
    expect(cancel.runId).toBe(runId)
    const result = await client.runPromise(Effect.flatMap(Fleet.Fleet, (f) => f.result(runId!)))
    expect(result.status).toBe("cancelled")
    // The tool call in flight completed; no model call was made after it.
    const events = await pool.query<{ event_type: string }>(
      "SELECT event_type FROM run_events WHERE agent_run_id = $1 ORDER BY sequence_index",
      [runId]
    )
    expect(events.rows.map((e) => e.event_type).filter((t) => t === "llm.started")).toHaveLength(1)
    expect(events.rows.at(-1)!.event_type).toBe("run.cancelled")
  }, 60_000)

  it("every runner killed and new ones started: queued and in-flight runs continue", async () => {
    const ids = await submitAll(Array.from({ length: 12 }, (_, i) => `again ${i}`))
    await Promise.all(runners.map(kill))
    runners = [3, 4].map(() => startRunner(db.url))
    await Promise.all(runners.map((r) => r.waitFor("ready")))
    await waitEnded(ids)
    const runs = await checkRecord(ids)
    expect(runs.map((r) => r.status)).toEqual(ids.map(() => "success"))
    // Two runner processes started under tsx, the shards taken over, twelve runs: 17-28 s on a quiet machine,
    // 38-77 s with two busy loops on its two cores (measured), so 90 s was too tight a bound.
  }, 180_000)
})
