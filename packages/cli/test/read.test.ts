/**
 * The read commands run as the real binary against a real SQLite file and the real Postgres server, seeded by
 * recorded runs: tables and `--json` agree with the RunStore, `export` lines parse and match `getRun`, and
 * every bad input is one line on stderr with a non-zero exit, never a stack trace.
 */
import { RunStore, type RunStoreClient } from "@sextant/store"
import { copyFileSync, mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { freshDatabase, recorderOf, seed, type Seeded, sextant } from "./support.js"

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

describe("sextant: help, version, URL resolution", () => {
  it("prints its version and a help listing every command with an example", async () => {
    const version = await sextant(["--version"])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toBe(pkg.version)
    const help = await sextant(["--help"])
    expect(help.code).toBe(0)
    for (
      const command of [
        "runs",
        "show",
        "tail",
        "stats",
        "usage",
        "export",
        "view",
        "migrate",
        "sweep",
        "prune",
        "backup",
        "vacuum",
        "detect",
        "dashboard"
      ]
    ) {
      // Each command's line in the listing carries its description with an example.
      const line = help.stdout.split("\n").find((l) => l.trimStart().startsWith(`- ${command} `))
      expect(line, command).toMatch(new RegExp(`Example: sextant ${command}`))
    }
    const runsHelp = await sextant(["runs", "--help"])
    expect(runsHelp.code).toBe(0)
    expect(runsHelp.stdout).toContain("Example: sextant runs")
    expect(pkg.bin).toEqual({ sextant: "./dist/bin/sextant.js" })
  })
})

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`sextant read commands on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let seeded: Seeded
    let store: RunStoreClient
    const run = (...args: Array<string>) => sextant([...args, "--database-url", db.url])

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = recorderOf(db.url)
      seeded = await seed(recorder)
      await recorder.dispose()
      store = await RunStore.fromDatabaseUrl(db.url)
    }, 120_000)
    afterAll(async () => {
      await store?.close()
      await db?.drop()
    })

    it("runs: a table of the newest runs, --json the store's rows, filters by status, tenant and --limit", async () => {
      const table = await run("runs")
      expect(table.code).toBe(0)
      const lines = table.stdout.trim().split("\n")
      expect(lines[0]).toMatch(/^ID\s+AGENT\s+STATUS\s+ITER\s+TOKENS\s+COST\s+DURATION\s+CREATED$/)
      expect(lines).toHaveLength(8)
      expect(lines[1]).toContain(seeded.globex)
      expect(table.stdout).toContain("waiting_client_tool")
      const json = await run("runs", "--json")
      expect(JSON.parse(json.stdout)).toEqual(await store.listRunRows({ limit: 20 }))
      const failed = JSON.parse((await run("runs", "--json", "--status", "error")).stdout)
      expect(failed.items.map((r: { id: string }) => r.id)).toEqual([seeded.failed])
      const globex = JSON.parse((await run("runs", "--json", "--tenant", "globex")).stdout)
      expect(globex.items.map((r: { id: string }) => r.id)).toEqual([seeded.globex])
      const two = await run("runs", "--limit", "2")
      expect(two.stdout.trim().split("\n")).toHaveLength(3)
      expect(two.stderr).toContain("2 of 7 runs")
      const recent = JSON.parse((await run("runs", "--json", "--since", "1h")).stdout)
      expect(recent.items).toHaveLength(7)
      const future = JSON.parse((await run("runs", "--json", "--since", "9999-01-01")).stdout)
      expect(future.items).toHaveLength(0)
    })

    it("show: the header and timeline; --json the run and timeline; --payloads the provider payloads", async () => {
      const id = seeded.weather[0]!
      const shown = await run("show", id)
      expect(shown.code).toBe(0)
      expect(shown.stdout).toContain(`run ${id}  success`)
      expect(shown.stdout).toContain("agent weather  tenant acme  model weather-model")
      expect(shown.stdout).toMatch(
        /tool get_weather\(\{"city":"Lisbon"\}\) → \{"city":"Lisbon","tempC":21\}\s+succeeded/
      )
      expect(shown.stdout).toMatch(/model weather-model completed {2}50→12 tokens {2}\$0\.0010/)
      expect(shown.stdout).toContain("ended success")
      expect(shown.stdout).toContain("sunny 0")
      const json = JSON.parse((await run("show", id, "--json")).stdout)
      expect(json.run).toEqual(await store.getRun(id))
      expect(json.timeline).toEqual(await store.getTimeline(id))
      const payloads = await run("show", id, "--payloads")
      expect(payloads.stdout).toContain("provider payloads of")
      const pausedRun = await run("show", seeded.paused)
      expect(pausedRun.stdout).toContain("paused waiting_client_tool  still waiting")
      const failedRun = await run("show", seeded.failed)
      expect(failedRun.stdout).toContain("ended error")
    })

    it("stats: runs by status and agent, tokens by model, table sizes, oldest and newest", async () => {
      const json = JSON.parse((await run("stats", "--json")).stdout)
      expect(json.runs).toBe(7)
      expect(json.byStatus).toEqual([
        { status: "error", runs: 1 },
        { status: "success", runs: 5 },
        { status: "waiting_client_tool", runs: 1 }
      ])
      expect(json.byAgent).toEqual([
        { agent: "checkout", runs: 1 },
        { agent: "support", runs: 1 },
        { agent: "weather", runs: 5 }
      ])
      expect(json.byModel).toEqual((await store.usage({ groupBy: ["model"] })).items)
      expect(json.tables.map((t: { table: string }) => t.table)).toContain("run_events")
      expect(json.oldestRun <= json.newestRun).toBe(true)
      const text = await run("stats")
      expect(text.stdout).toContain("7 runs, oldest")
      expect(text.stdout).toContain("size by table")
    })

    it("usage: the billing rollup as a table, --json and --csv", async () => {
      const json = JSON.parse((await run("usage", "--group-by", "tenant,model", "--json")).stdout)
      expect(json).toEqual(await store.usage({ groupBy: ["tenant", "model"] }))
      const csv = (await run("usage", "--group-by", "tenant", "--csv")).stdout.trim().split("\n")
      expect(csv[0]).toBe(
        "tenant,modelCallCount,runCount,inputTokens,outputTokens,cacheReadTokens,cacheWriteTokens,reasoningTokens,costUsd,unpricedCallCount"
      )
      // Four weather runs of two calls and the paused run's one call; the failed run made none.
      expect(csv[1]).toMatch(/^acme,9,5,540,87,/)
      expect(csv[2]).toMatch(/^globex,2,1,130,21,0,0,0,0.003,0$/)
      const table = await run("usage", "--group-by", "tenant,day")
      expect(table.stdout).toMatch(/^TENANT\s+DAY\s+CALLS\s+RUNS/)
      const bad = await run("usage", "--group-by", "tenant,planet")
      expect(bad.code).toBe(2)
      expect(bad.stderr.trim()).toBe(
        "sextant: --group-by must be a comma list of distinct tenant, agent, model, day, got \"tenant,planet\""
      )
    })

    it("export: one JSON line per run matching getRun, progress on stderr", async () => {
      const result = await run("export")
      expect(result.code).toBe(0)
      const lines = result.stdout.trim().split("\n")
      expect(lines).toHaveLength(7)
      for (const line of lines) {
        const exported = JSON.parse(line)
        expect(exported.run).toEqual(await store.getRun(exported.run.id))
      }
      expect(result.stderr).toMatch(/exported: 7 runs/)
      const acme = await run("export", "--tenant", "globex")
      expect(acme.stdout.trim().split("\n").map((l) => JSON.parse(l).run.id)).toEqual([seeded.globex])
    })

    it("bad input: one line on stderr and a non-zero exit, never a stack trace (unless --verbose)", async () => {
      const cases: Array<[Array<string>, number, string | RegExp]> = [
        [["show", "no-such-run"], 1, "sextant: Run 'no-such-run' not found."],
        [["runs", "--since", "3x"], 2, /^sextant: --since must be a duration ago \(7d, 12h\).*got "3x"$/],
        [["runs", "--status", "done"], 2, /^sextant: --status must be one of running, success/],
        [["runs", "--limit", "0"], 2, "sextant: --limit must be from 1 to 1000, got 0"],
        [["prune", "--older-than", "3x"], 2, /^sextant: --older-than must be a duration like 30d/],
        [["prune"], 2, "sextant: prune needs --older-than (30d) or --max-bytes (2GB)"],
        [["prune", "--max-bytes", "lots"], 2, /^sextant: --max-bytes must be a size like 2GB/]
      ]
      for (const [args, code, message] of cases) {
        const r = await run(...args)
        expect(r.code, args.join(" ")).toBe(code)
        const lines = r.stderr.trim().split("\n")
        expect(lines, args.join(" ")).toHaveLength(1)
        if (typeof message === "string") expect(lines[0]).toBe(message)
        else expect(lines[0]).toMatch(message)
        expect(r.stdout).toBe("")
      }
      const unknown = await run("runs", "--colour")
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain("--colour")
      expect(unknown.stderr).not.toMatch(/\n\s+at /)
      const verbose = await run("show", "no-such-run", "--verbose")
      expect(verbose.code).toBe(1)
      expect(verbose.stderr.split("\n")[0]).toBe("sextant: Run 'no-such-run' not found.")
      expect(verbose.stderr.split("\n").length).toBeGreaterThan(2)
    })
  })
}

describe("sextant: database URL resolution and unusable databases", () => {
  it("takes SEXTANT_DATABASE_URL, a bare path, and the default ./.sextant/sextant.db", async () => {
    const db = await freshDatabase("sqlite")
    const dir = createTempDir()
    try {
      const recorder = recorderOf(db.url)
      const seeded = await seed(recorder)
      await recorder.dispose()
      const file = db.url.slice("sqlite:".length)
      const viaEnv = await sextant(["runs", "--json"], { env: { SEXTANT_DATABASE_URL: db.url } })
      expect(JSON.parse(viaEnv.stdout).items).toHaveLength(7)
      const bare = await sextant(["runs", "--json", "--database-url", file])
      expect(JSON.parse(bare.stdout).items).toHaveLength(7)
      mkdirSync(join(dir.path, ".sextant"))
      copyFileSync(file, join(dir.path, ".sextant", "sextant.db"))
      const byDefault = await sextant(["show", seeded.globex, "--json"], { cwd: dir.path })
      expect(byDefault.code).toBe(0)
      expect(JSON.parse(byDefault.stdout).run.id).toBe(seeded.globex)
      const missing = await sextant(["runs"], { cwd: join(dir.path, "..") })
      expect(missing.code).toBe(1)
      expect(missing.stderr.trim()).toBe(
        "sextant: no database at ./.sextant/sextant.db: pass --database-url (or set SEXTANT_DATABASE_URL), or record a run there first"
      )
    } finally {
      dir.remove()
      await db.drop()
    }
  }, 60_000)

  it("a bad URL, an unreachable server: one line, exit 2 and 1, the password never shown", async () => {
    const bad = await sextant(["runs", "--database-url", "mysql://u:pw@host/db"])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split("\n")).toHaveLength(1)
    expect(bad.stderr).toMatch(/^sextant: unsupported database URL: 'mysql:\/\/u:\*\*\*@host\/db'\. Accepted forms:/)
    const down = await sextant(["runs", "--database-url", "postgres://u:hunter2@127.0.0.1:1/audit"])
    expect(down.code).toBe(1)
    expect(down.stderr.trim().split("\n")).toHaveLength(1)
    expect(down.stderr).toContain("sextant: cannot connect to Postgres at 127.0.0.1:1")
    expect(down.stderr).not.toContain("hunter2")
  })
})
