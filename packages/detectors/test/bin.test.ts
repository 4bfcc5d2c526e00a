import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { createTempDir } from "../../../test-support/databases.js"
import { backfillArgs, detectCli, loop, runAgent, stack } from "./support.js"

const source = fileURLToPath(new URL("../src/bin/detect.ts", import.meta.url))
describe("sextant-detect", () => {
  it("backfills a database from its URL, idempotently; bad arguments and configurations are refused", async () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"))
    expect(pkg.bin).toEqual({ "sextant-detect": "./dist/bin/detect.js" })
    expect(readFileSync(source, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true)
    const dir = createTempDir()
    try {
      const url = `sqlite:${join(dir.path, "d.db")}`
      await Effect.runPromise(
        Effect.provide(runAgent("looper", loop("search", 5)), stack(url)).pipe(
          Logger.withMinimumLogLevel(LogLevel.None)
        )
      )
      const run = () => {
        const out = detectCli(backfillArgs(url))
        expect(out.status, out.stderr).toBe(0)
        return out.stdout
      }
      expect(run()).toContain("evaluated 1 run(s), 1 signal(s) stored")
      expect(run()).toContain("evaluated 1 run(s), 1 signal(s) stored")
      const usage = detectCli([url])
      expect(usage.status).toBe(2)
      expect(usage.stderr).toContain("usage: sextant-detect")
      const file = join(dir.path, "bad.json")
      writeFileSync(file, JSON.stringify({ agents: { looper: { TOOL_LOOP: { windw: 3 } } } }))
      const bad = detectCli([url, "--since", "2000-01-01T00:00:00Z", "--config", file])
      expect(bad.status).toBe(1)
      expect(bad.stderr).toContain("agents.looper.TOOL_LOOP.windw")
    } finally {
      dir.remove()
    }
  }, 60_000)
})
