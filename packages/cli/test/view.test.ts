/**
 * `sextant view FILE.jsonl [-f]` as the real binary over a file written by the real JsonlFileNotifier while the
 * same runs were recorded in SQLite: `view` prints each run exactly as `show` does, `--json` gives the run
 * and timeline, a bad line is named and skipped, and `-f` picks up a run appended after it started, printing
 * a call only once it has settled; SIGINT ends it with 130 and no stack.
 */
import { JsonlFileNotifier } from "@sextant/notifiers"
import { SqlRecorder } from "@sextant/recorder"
import { Notifiers } from "@sextant/runtime"
import { Layer, ManagedRuntime } from "effect"
import { spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, freshDatabase, root, runAgent, sextant } from "./support.js"

const weatherScript = (answer: string) => [
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 50, outputTokens: 12, costUsd: 0.001 }
  },
  { text: answer, usage: { inputTokens: 80, outputTokens: 9, costUsd: 0.002 } }
]

/** Records runs into the database and, through the notifier, into `path`; resolves once both are written. */
const record = async (url: string, path: string, scripts: ReadonlyArray<ReadonlyArray<object>>) => {
  const runtime = ManagedRuntime.make(
    Layer.merge(SqlRecorder.layerFromUrl(url), Notifiers.layer([JsonlFileNotifier.make({ path })])).pipe(Layer.orDie)
  )
  const ids: Array<string> = []
  for (const script of scripts) {
    ids.push((await runtime.runPromise(runAgent("weather", script as never, { tenantId: "acme" }))).runId)
  }
  // Releasing the dispatcher drains the notifier's mailbox.
  await runtime.dispose()
  return ids
}

describe("sextant view", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let file: string
  let ids: Array<string>
  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    file = join(db.dir!, "events.jsonl")
    ids = await record(db.url, file, [
      weatherScript("sunny"),
      [{
        toolCalls: [{ name: "confirm_payment", arguments: { amount: 12 } }],
        usage: { inputTokens: 20, outputTokens: 3 }
      }]
    ])
  }, 120_000)
  afterAll(() => db?.drop())

  it("prints every run of the file as `show` prints it; --json has run and timeline", async () => {
    const viewed = await sextant(["view", file])
    expect(viewed.code, viewed.stderr).toBe(0)
    expect(viewed.stderr).toBe("")
    const shown = await Promise.all(ids.map((id) => sextant(["show", id, "--database-url", db.url])))
    expect(viewed.stdout).toBe(shown.map((s) => s.stdout).join("\n"))
    expect(viewed.stdout).toContain("tool get_weather(")
    expect(viewed.stdout).toContain("paused waiting_client_tool")

    const asJson = await sextant(["view", file, "--json"])
    const parsed = JSON.parse(asJson.stdout)
    const stored = await Promise.all(ids.map((id) => sextant(["show", id, "--json", "--database-url", db.url])))
    expect(parsed.runs).toEqual(stored.map((s) => JSON.parse(s.stdout)))
  }, 120_000)

  it("bad input: a missing file and a bad line are named", async () => {
    const missing = await sextant(["view", join(db.dir!, "nope.jsonl")])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim()).toBe(
      `sextant: no file at ${join(db.dir!, "nope.jsonl")}: pass the path JsonlFileNotifier writes to (-f waits for it)`
    )
    const bad = join(db.dir!, "bad.jsonl")
    const lines = readFileSync(file, "utf8").trimEnd().split("\n")
    writeFileSync(bad, [lines[0], "{not json", ...lines.slice(1)].join("\n") + "\n")
    const viewed = await sextant(["view", bad])
    expect(viewed.code).toBe(0)
    expect(viewed.stderr).toMatch(
      /^sextant: .*bad\.jsonl line 2: not a JsonlFileNotifier line \(version 1\): .*\(skipped\)\n$/
    )
    expect(viewed.stdout).toContain(`run ${ids[0]}`)
  }, 60_000)

  it("-f follows the file as it grows; SIGINT ends it cleanly", async () => {
    const followed = join(db.dir!, "follow.jsonl")
    writeFileSync(followed, readFileSync(file, "utf8"))
    const child = spawn(process.execPath, [
      "--conditions=@sextant/source",
      "--import",
      "tsx",
      bin,
      "view",
      "-f",
      "--interval",
      "50",
      followed
    ], { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    while (!stderr.includes("following")) await new Promise((r) => setTimeout(r, 50))
    expect(stdout).toContain(`run ${ids[0]}`)
    const before = stdout
    // A new run recorded after the viewer started, appended by the notifier as it runs.
    const [late] = await record(db.url, followed, [weatherScript("cloudy")])
    const deadline = Date.now() + 30_000
    while (!stdout.includes("cloudy") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    child.kill("SIGINT")
    expect(await exited).toBe(130)
    const added = stdout.slice(before.length)
    const shown = await sextant(["show", late!, "--database-url", db.url])
    // The appended run: a one-line header when it was running when first seen (or, when the viewer's first look
    // came after it had finished, the header `show` prints), then its timeline exactly as `show` prints it
    // (each node once, a call once it has settled).
    const split = shown.stdout.indexOf("\n\n")
    const timeline = shown.stdout.slice(split + 2)
    expect([
      `\nrun ${late}  agent weather  tenant acme  input What's the weather in Lisbon?\n\n${timeline}`,
      `\n${shown.stdout.slice(0, split)}\n\n${timeline}`
    ]).toContain(added)
    expect(stderr.trim()).toBe(`following ${followed} (Ctrl-C stops)`)
  }, 120_000)
})
