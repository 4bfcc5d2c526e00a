/**
 * `sextant detect` as the real binary on both dialects, over runs recorded by the agent loop: it evaluates the
 * ended runs, stores their signals, and a second run changes nothing (idempotent); `--json` agrees with an
 * independent count of `failure_signals`; a bad `--since` or configuration is one line and exit 2.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { freshDatabase, query, recorderOf, seed, sextant } from "./support.js"

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`sextant detect on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = recorderOf(db.url)
      await seed(recorder)
      await recorder.dispose()
    }, 120_000)
    afterAll(() => db?.drop())

    it("backfills the ended runs, idempotently; --json matches SQL; bad input exits 2", async () => {
      const args = ["--database-url", db.url]
      const first = await sextant(["detect", "--since", "1d", "--json", ...args])
      expect(first.code, first.stderr).toBe(0)
      const result = JSON.parse(first.stdout)
      // Seven runs are seeded; the paused one has not ended and is skipped.
      expect(result).toMatchObject({ runs: 6, detectorFailures: 0 })
      const stored = async () => (await query<{ id: string; run_id: string; signal_type: string }>(
        db.url,
        "SELECT id, run_id, signal_type FROM failure_signals ORDER BY run_id, signal_type"
      ))
      const rows = await stored()
      expect(rows.length).toBeGreaterThan(0)
      expect(result.signals).toBe(rows.length)
      expect(result.signalsSince).toBe(rows.length)
      const again = await sextant(["detect", "--since", "1d", "--json", ...args])
      expect({ ...JSON.parse(again.stdout), since: undefined }).toEqual({ ...result, since: undefined })
      expect((await stored()).map((r) => [r.run_id, r.signal_type])).toEqual(rows.map((r) => [r.run_id, r.signal_type]))

      const text = await sextant(["detect", "--since", "1d", ...args])
      expect(text.stdout).toMatch(/^evaluated 6 runs created since .*: \d+ signals stored/)

      const badSince = await sextant(["detect", "--since", "3x", ...args])
      expect(badSince.code).toBe(2)
      expect(badSince.stderr.trim()).toMatch(/^sextant: --since must be a duration ago/)
      const dir = createTempDir()
      try {
        const config = join(dir.path, "detectors.json")
        writeFileSync(config, JSON.stringify({ stallTimeoutMs: 0 }))
        const badConfig = await sextant(["detect", "--config", config, ...args])
        expect(badConfig.code).toBe(2)
        expect(badConfig.stderr.trim().split("\n")).toHaveLength(1)
        expect(badConfig.stderr).toMatch(/^sextant: detector configuration: .*stallTimeoutMs/)
      } finally {
        dir.remove()
      }
    }, 120_000)
  })
}
