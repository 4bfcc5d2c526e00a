/**
 * Prune at scale, as the real binary: 50,000 finished runs (seeded by bulk SQL, not the agent loop) are pruned
 * in batches while 10 agent runs record concurrently; every concurrent write lands, the counts per table are
 * what SQL says, progress lines reach stderr, and the process's peak RSS stays bounded (read from
 * /proc/<pid>/status VmHWM while it runs). Running and paused runs older than the cutoff are never pruned.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, bulkSeed, counts, freshDatabase, query, recorderOf, root, runAgent } from "./support.js"

const RUNS = 50_000

/** Runs the binary, sampling its peak RSS (VmHWM, KiB) until it exits. */
const sextantMeasured = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string; peakRssMb: number }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@sextant/source", "--import", "tsx", bin, ...args],
      { cwd: root, env: { ...process.env, SEXTANT_DATABASE_URL: "", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    let peakKb = 0
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))
        if (m !== null) peakKb = Math.max(peakKb, Number(m[1]))
      } catch {
        // exited between samples
      }
    }
    const timer = setInterval(sample, 100)
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => {
      stderr += String(d)
      sample()
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      clearInterval(timer)
      resolve({ code, stdout, stderr, peakRssMb: Math.round(peakKb / 1024) })
    })
  })

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`sextant prune of ${RUNS.toLocaleString("en-US")} runs on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    beforeAll(async () => {
      db = await freshDatabase(dialect)
      await bulkSeed(db.url, RUNS)
      // Old runs that are running and paused: never pruned.
      await query(db.url, `UPDATE agent_runs SET status = 'running' WHERE id = 'bulk_7'`)
      await query(db.url, `UPDATE agent_runs SET status = 'waiting_for_client' WHERE id = 'bulk_8'`)
    }, 120_000)
    afterAll(() => db?.drop())

    it("batched, bounded memory, progress on stderr, concurrent runs keep recording", async () => {
      const before = await counts(db.url)
      const recorder = recorderOf(db.url)
      let pruneDone = false
      const pruning = sextantMeasured(["prune", "--older-than", "30d", "--database-url", db.url]).then((r) => {
        pruneDone = true
        return r
      })
      // 10 agent runs recording while the prune runs (and at least one round of them after it started).
      const live: Array<string> = []
      do {
        const results = await recorder.runPromise(Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i),
          (i) => runAgent("live", [{ text: `hi ${i}`, usage: { inputTokens: 1, outputTokens: 1 } }]),
          { concurrency: "unbounded" }
        ))
        for (const r of results) {
          expect(r.status).toBe("success")
          live.push(r.runId)
        }
      } while (!pruneDone && live.length < 200)
      await recorder.dispose()
      const result = await pruning
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(new RegExp(`^pruned ${(RUNS - 2).toLocaleString("en-US")} runs created before`))
      const lines = result.stderr.trim().split("\n")
      expect(lines.at(-1)).toMatch(new RegExp(`^pruned: ${(RUNS - 2).toLocaleString("en-US")} runs \\(`))
      const after = await counts(db.url)
      // Two bulk runs stay (running, paused) with their children, plus every live run.
      const liveCounts = await query<{ n: number }>(
        db.url,
        `SELECT COUNT(*) AS n FROM agent_runs WHERE agent_name = 'live' AND status = 'success'`
      )
      expect(Number(liveCounts[0]!.n)).toBe(live.length)
      expect(after.agent_runs).toBe(2 + live.length)
      expect(
        (await query<{ id: string }>(db.url, `SELECT id FROM agent_runs WHERE agent_name = 'bulk' ORDER BY id`))
          .map((r) => r.id)
      ).toEqual(["bulk_7", "bulk_8"])
      expect(after.run_events).toBe(
        8 + Number(
          (await query<{ n: number }>(
            db.url,
            `SELECT COUNT(*) AS n FROM run_events e JOIN agent_runs r ON r.id = e.agent_run_id WHERE r.agent_name = 'live'`
          ))[0]!.n
        )
      )
      expect(before.agent_runs).toBe(RUNS)
      // Bounded: a node process with the CLI loaded is ~100-150 MB; 50,000 runs must not add to it in proportion.
      console.log(`${dialect}: pruned ${RUNS} runs, peak RSS ${result.peakRssMb} MB, ${live.length} live runs`)
      expect(result.peakRssMb).toBeLessThan(400)
    }, 300_000)
  })
}
