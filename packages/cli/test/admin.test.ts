/**
 * The commands that change a database, run as the real binary: `migrate` and `migrate status` on a fresh
 * Postgres database, `prune` on both dialects (dry run, payload-only, batched deletes whose counts match an
 * independent SQL count; never a running or paused run), `backup` restored and compared table by table,
 * `sweep`, `tail` following a run recorded while it runs, and progress only on a (pseudo-)TTY or plain lines,
 * never in `--json` mode.
 */
import { Migrations } from "@sextant/recorder"
import { spawn, spawnSync } from "node:child_process"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import {
  bin,
  bulkSeed,
  counts,
  freshDatabase,
  query,
  recorderOf,
  root,
  runAgent,
  seed,
  type Seeded,
  sextant
} from "./support.js"

const tables = [
  "agent_runs",
  "run_events",
  "react_traces",
  "tool_calls",
  "llm_interactions",
  "token_usage",
  "usage_daily"
]
const orderBy: Record<string, string> = {
  agent_runs: "id",
  run_events: "agent_run_id, sequence_index",
  react_traces: "agent_run_id, order_index",
  tool_calls: "id",
  llm_interactions: "id",
  token_usage: "id",
  usage_daily: "day, tenant_id, agent_name, model"
}

/** Every row of every table (ids of run_events are the copy's own on a restore, so they are left out). */
const dump = async (url: string) => {
  const out: Record<string, unknown> = {}
  for (const t of tables) {
    const rows = await query<Record<string, unknown>>(url, `SELECT * FROM ${t} ORDER BY ${orderBy[t]}`)
    out[t] = rows
  }
  return out
}

const backdate = (url: string, ids: ReadonlyArray<string>, days: number) =>
  query(
    url,
    `UPDATE agent_runs SET created_at = '${new Date(Date.now() - days * 86_400_000).toISOString()}' WHERE id IN (${
      ids.map((id) => `'${id}'`).join(", ")
    })`
  )

const countsOf = async (url: string, ids: ReadonlyArray<string>) => {
  const list = ids.map((id) => `'${id}'`).join(", ")
  const out: Record<string, number> = {}
  for (const t of tables.slice(0, 6)) {
    const column = t === "agent_runs" ? "id" : "agent_run_id"
    out[t] = Number(
      (await query<{ n: number }>(url, `SELECT COUNT(*) AS n FROM ${t} WHERE ${column} IN (${list})`))[0]!.n
    )
  }
  return out
}

describe("sextant migrate", () => {
  it(
    "postgres: status lists the pending migrations, reads refuse with the command to run, migrate applies them",
    async () => {
      const db = await createPgDatabase()
      try {
        const args = ["--database-url", db.url]
        const before = await sextant(["migrate", "status", "--json", ...args])
        expect(before.code).toBe(0)
        expect(JSON.parse(before.stdout)).toMatchObject({
          applied: 0,
          latest: Migrations.latest,
          pending: Array.from({ length: Migrations.latest }, (_, i) => i + 1)
        })
        const refused = await sextant(["runs", ...args])
        expect(refused.code).toBe(1)
        expect(refused.stderr.trim().split("\n")).toHaveLength(1)
        expect(refused.stderr).toContain(`npx sextant migrate --database-url ${db.url}`)
        const pruneRefused = await sextant(["prune", "--older-than", "30d", ...args])
        expect(pruneRefused.code).toBe(1)
        expect(pruneRefused.stderr.trim()).toBe(
          `sextant: this database has no Sextant schema (this version needs ${Migrations.latest}): run \`npx sextant migrate --database-url ${db.url}\``
        )
        const migrated = await sextant(["migrate", ...args])
        expect(migrated.code).toBe(0)
        expect(migrated.stderr).toMatch(/^migrating .*: \d+ pending \(1, 2/)
        expect(migrated.stderr.trim().split("\n").at(-1)).toMatch(/^migrated: \d+ migrations \(/)
        expect(migrated.stdout).toContain("applied migration 1")
        expect(migrated.stdout).toContain(`applied migration ${Migrations.latest}`)
        const again = await sextant(["migrate", ...args])
        expect(again.stdout).toContain(`up to date (migration ${Migrations.latest})`)
        const after = await sextant(["migrate", "status", ...args])
        expect(after.stdout).toContain(`at migration ${Migrations.latest} of ${Migrations.latest}; nothing pending`)
      } finally {
        await db.drop()
      }
    },
    60_000
  )
})

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`sextant prune on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let seeded: Seeded
    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = recorderOf(db.url)
      seeded = await seed(recorder)
      await recorder.dispose()
    }, 120_000)
    afterAll(() => db?.drop())

    it("dry run, payload-only, then batched deletes whose counts match SQL; paused runs stay", async () => {
      const args = ["--database-url", db.url]
      const old = [...seeded.weather, seeded.failed]
      await backdate(db.url, [...old, seeded.paused], 40)
      const expected = await countsOf(db.url, old)
      const before = await counts(db.url)
      const usageBefore = (await sextant(["usage", "--json", "--group-by", "tenant,model,day", ...args])).stdout

      const dry = await sextant(["prune", "--older-than", "30d", "--dry-run", "--json", ...args])
      expect(dry.code).toBe(0)
      expect(dry.stderr).toBe("")
      const dryResult = JSON.parse(dry.stdout)
      expect(dryResult).toMatchObject({ dryRun: true, runs: 5 })
      const { usage_daily: _, ...dryDeleted } = dryResult.deleted
      expect(dryDeleted).toEqual(expected)
      expect(await counts(db.url)).toEqual(before)
      const dryText = await sextant(["prune", "--older-than", "30d", "--dry-run", ...args])
      expect(dryText.stdout).toMatch(/^would prune 5 runs created before/)

      const slim = await sextant(["prune", "--older-than", "30d", "--payloads-only", "--json", ...args])
      expect(slim.code).toBe(0)
      expect(JSON.parse(slim.stdout).payloadsCleared.llm_interactions).toBeGreaterThan(0)
      expect(await counts(db.url)).toEqual(before)
      const heavy = await query<{ n: number }>(
        db.url,
        `SELECT COUNT(*) AS n FROM llm_interactions WHERE provider_request IS NOT NULL AND agent_run_id IN (${
          old.map((id) => `'${id}'`).join(", ")
        })`
      )
      expect(Number(heavy[0]!.n)).toBe(0)
      expect((await sextant(["usage", "--json", "--group-by", "tenant,model,day", ...args])).stdout).toBe(usageBefore)

      const pruned = await sextant(["prune", "--older-than", "30d", "--batch-size", "2", ...args])
      expect(pruned.code).toBe(0)
      expect(pruned.stdout).toMatch(/^pruned 5 runs created before/)
      expect(pruned.stdout).toMatch(/run_events\s+[\d,]+/)
      // Not a TTY: plain progress lines on stderr, the last one the total.
      expect(pruned.stderr.trim().split("\n").at(-1)).toMatch(/^pruned: 5 runs \([\d,]+ runs\/s\)$/)
      const after = await counts(db.url)
      for (const t of Object.keys(before)) expect(after[t], t).toBe(before[t]! - expected[t]!)
      expect((await countsOf(db.url, [seeded.paused])).agent_runs).toBe(1)
      // The billing rollup of whole days is kept: the usage report is the same.
      expect((await sextant(["usage", "--json", "--group-by", "tenant,model,day", ...args])).stdout).toBe(usageBefore)

      const sizeBudget = await sextant(["prune", "--max-bytes", "1KB", "--dry-run", "--json", "--vacuum", ...args])
      expect(JSON.parse(sizeBudget.stdout).runs).toBe(1)
      const vacuumed = await sextant(["prune", "--older-than", "1d", "--vacuum", ...args])
      expect(vacuumed.code).toBe(0)
    }, 120_000)

    it("backup writes a copy that restores to the same rows in every table", async () => {
      const dir = createTempDir()
      try {
        const file = join(dir.path, dialect === "sqlite" ? "copy.db" : "copy.dump")
        const result = await sextant(["backup", file, "--database-url", db.url])
        expect(result.code, result.stderr).toBe(0)
        expect(result.stdout).toContain(`to ${file}`)
        // Not a TTY: plain progress lines on stderr, the last the copy's size.
        expect(result.stderr.trim().split("\n").at(-1)).toMatch(/^backed up: [\d.]+ [KM]?B \(/)
        const asJson = await sextant(["backup", `${file}.2`, "--json", "--database-url", db.url])
        expect(asJson.code, asJson.stderr).toBe(0)
        expect(asJson.stderr).toBe("")
        expect(JSON.parse(asJson.stdout)).toMatchObject({
          file: `${file}.2`,
          method: dialect === "sqlite" ? "sqlite-vacuum-into" : "pg_dump"
        })
        const vacuumed = await sextant(["vacuum", "--json", "--database-url", db.url])
        expect(vacuumed.code, vacuumed.stderr).toBe(0)
        expect(Object.keys(JSON.parse(vacuumed.stdout))).toEqual(["database", "bytesBefore", "bytesAfter"])
        const again = await sextant(["backup", file, "--database-url", db.url])
        expect(again.code).toBe(2)
        expect(again.stderr.trim()).toBe(`sextant: ${file} exists: backup never overwrites, pick a new file`)
        let restored: string
        let dropRestored = async () => {}
        if (dialect === "sqlite") restored = `sqlite:${file}`
        else {
          const target = await createPgDatabase()
          dropRestored = target.drop
          const r = spawnSync("pg_restore", ["--no-owner", "--dbname", target.url, file], { encoding: "utf8" })
          expect(r.status, r.stderr).toBe(0)
          restored = target.url
        }
        try {
          expect(await dump(restored)).toEqual(await dump(db.url))
        } finally {
          await dropRestored()
        }
      } finally {
        dir.remove()
      }
    }, 60_000)

    it(
      "--keep-usage keeps the pruned runs' token_usage and run rows; a running or a paused run is never pruned",
      async () => {
        const args = ["--database-url", db.url]
        await bulkSeed(db.url, 20, "keep")
        await query(db.url, `UPDATE agent_runs SET status = 'running' WHERE id = 'keep_3'`)
        await query(db.url, `UPDATE agent_runs SET status = 'waiting_for_approval' WHERE id = 'keep_4'`)
        const ids = Array.from({ length: 20 }, (_, i) => `keep_${i}`)
        const slimmed = ids.filter((id) => id !== "keep_3" && id !== "keep_4")
        const usageSum = async () =>
          (await query<{ n: number; t: number }>(
            db.url,
            `SELECT COUNT(*) AS n, SUM(input_tokens + output_tokens) AS t FROM token_usage WHERE agent_run_id LIKE 'keep_%'`
          )).map((r) => ({ n: Number(r.n), t: Number(r.t) }))[0]
        const usageBefore = await usageSum()
        const before = await countsOf(db.url, slimmed)

        const clash = await sextant(["prune", "--older-than", "30d", "--keep-usage", "--payloads-only", ...args])
        expect(clash.code).toBe(2)
        expect(clash.stderr.trim()).toBe(
          "sextant: --keep-usage and --payloads-only do not go together (--payloads-only keeps the usage rows anyway)"
        )

        const dry = await sextant(["prune", "--older-than", "30d", "--keep-usage", "--dry-run", "--json", ...args])
        expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, keepUsage: true, runs: 18 })
        expect(await countsOf(db.url, slimmed)).toEqual(before)

        const kept = await sextant(["prune", "--older-than", "30d", "--keep-usage", "--json", ...args])
        expect(kept.code, kept.stderr).toBe(0)
        const result = JSON.parse(kept.stdout)
        expect(result).toMatchObject({ keepUsage: true, runs: 18 })
        expect(result.deleted).toMatchObject({
          agent_runs: 0,
          token_usage: 0,
          run_events: before.run_events,
          llm_interactions: before.llm_interactions
        })
        expect(await countsOf(db.url, slimmed)).toEqual({
          agent_runs: 18,
          run_events: 0,
          react_traces: 0,
          tool_calls: 0,
          llm_interactions: 0,
          token_usage: 18
        })
        expect(await usageSum()).toEqual(usageBefore)
        // Untouched: the running and the paused run keep everything.
        expect((await countsOf(db.url, ["keep_3", "keep_4"])).run_events).toBe(8)
        // A slimmed run is not selected again; a plain prune then takes it with its usage rows.
        const again = await sextant(["prune", "--older-than", "30d", "--keep-usage", "--json", ...args])
        expect(JSON.parse(again.stdout).runs).toBe(0)
        const text = await sextant(["prune", "--older-than", "30d", ...args])
        expect(text.stdout).toMatch(/^pruned 18 runs created before/)
        expect(await countsOf(db.url, slimmed)).toMatchObject({ agent_runs: 0, token_usage: 0 })
        expect((await countsOf(db.url, ["keep_3", "keep_4"])).agent_runs).toBe(2)
      },
      60_000
    )
  })
}

describe("sextant sweep, tail and progress", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  beforeAll(async () => {
    db = await freshDatabase("sqlite")
  })
  afterAll(() => db?.drop())

  it("sweep abandons a run waiting longer than --abandon-after", async () => {
    const recorder = recorderOf(db.url)
    const seeded = await seed(recorder)
    await recorder.dispose()
    await query(
      db.url,
      `UPDATE agent_runs SET last_progress_at = '2020-01-01T00:00:00.000Z' WHERE id = '${seeded.paused}'`
    )
    const bad = await sextant(["sweep", "--abandon-after", "soon", "--database-url", db.url])
    expect(bad.code).toBe(2)
    const swept = await sextant(["sweep", "--abandon-after", "7d", "--json", "--database-url", db.url])
    expect(swept.code).toBe(0)
    expect(JSON.parse(swept.stdout)).toEqual({ interrupted: [], abandoned: [seeded.paused], handedBack: [] })
  }, 60_000)

  it("sweep leaves a stale fleet run to the fleet (never interrupts it) and interrupts a stale local one", async () => {
    const recorder = recorderOf(db.url)
    const { weather: [fleetRun, localRun] } = await seed(recorder)
    await recorder.dispose()
    const stale = (id: string, metadata: string) =>
      query(
        db.url,
        `UPDATE agent_runs SET status = 'running', metadata = '${metadata}',
         last_progress_at = '2020-01-01T00:00:00.000Z' WHERE id = '${id}'`
      )
    await stale(fleetRun!, `{"fleet":true}`)
    await stale(localRun!, `{"tier":"gold"}`)
    const swept = await sextant(["sweep", "--stale-after", "1h", "--json", "--database-url", db.url])
    expect(swept.code).toBe(0)
    const result = JSON.parse(swept.stdout)
    expect(result.handedBack).toEqual([fleetRun])
    expect(result.interrupted).toEqual([localRun])
    expect(await query(db.url, `SELECT status FROM agent_runs WHERE id = '${fleetRun}'`)).toEqual([
      { status: "running" }
    ])
  }, 60_000)

  it("tail follows every new event of a run recorded after it started; SIGINT ends it without a trace", async () => {
    const child = spawn(process.execPath, [
      "--conditions=@sextant/source",
      "--import",
      "tsx",
      bin,
      "tail",
      "--json",
      "--interval",
      "50",
      "--database-url",
      db.url
    ], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    // Wait until the tail says it follows (it has read the newest event id).
    while (!stderr.includes("following every new event")) await new Promise((r) => setTimeout(r, 50))
    const recorder = recorderOf(db.url)
    const result = await recorder.runPromise(
      runAgent("live", [{ text: "hello", usage: { inputTokens: 1, outputTokens: 1 } }])
    )
    await recorder.dispose()
    const deadline = Date.now() + 20_000
    while (!stdout.includes("run.completed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    child.kill("SIGINT")
    expect(await exited).toBe(130)
    const events = stdout.trim().split("\n").map((l) => JSON.parse(l))
    expect(events.every((e) => e.runId === result.runId)).toBe(true)
    expect(events[0].eventType).toBe("run.started")
    expect(events.at(-1).eventType).toBe("run.completed")
    expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))
    expect(stderr.trim()).toBe("following every new event of every run (Ctrl-C stops)")
  }, 60_000)

  it("progress redraws one line on a pseudo-TTY and is absent in --json mode", async () => {
    const command = [
      process.execPath,
      "--conditions=@sextant/source",
      "--import",
      "tsx",
      bin,
      "export",
      "--database-url",
      db.url
    ]
      .map((a) => `'${a}'`).join(" ")
    const tty = spawnSync("script", ["-qec", `${command} 2>&1 >/dev/null`, "/dev/null"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" }
    })
    expect(tty.status, tty.stderr).toBe(0)
    // eslint-disable-next-line no-control-regex
    expect(tty.stdout).toMatch(/\r\u001b\[2Kexported: \d+ runs \([\d,]+ runs\/s\)/)
    const json = await sextant(["prune", "--older-than", "0s", "--json", "--database-url", db.url])
    expect(json.code).toBe(0)
    expect(json.stderr).toBe("")
    expect(JSON.parse(json.stdout).runs).toBeGreaterThan(0)
  }, 60_000)
})
