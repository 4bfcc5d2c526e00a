import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter } from "../src/index.js"
import { freshDatabase, hosts, openStore, sseFrames } from "./support.js"

const child = fileURLToPath(new URL("./fixtures/record-child.ts", import.meta.url))
const root = fileURLToPath(new URL("../../..", import.meta.url))

/** The recording process: resolves `paused` once its run waits, `go()` resumes it, `done` once it exits. */
const recorder = (url: string, runId: string) => {
  let paused!: () => void
  const isPaused = new Promise<void>((resolve) => (paused = resolve))
  const proc = spawn(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", child, url, runId], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"]
  })
  const done = new Promise<void>((resolve, reject) => {
    let stdout = ""
    let stderr = ""
    proc.stderr.on("data", (d) => (stderr += String(d)))
    proc.stdout.on("data", (d) => {
      stdout += String(d)
      if (stdout.includes("PAUSED")) paused()
    })
    proc.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`recorder exited ${code}: ${stderr}`))))
  })
  return { paused: isPaused, go: () => proc.stdin.end("go\n"), done }
}

describe("postgres: a live SSE tail of a run recorded by another process", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let store: Awaited<ReturnType<typeof openStore>>
  beforeAll(async () => {
    db = await freshDatabase("postgres")
    store = await openStore(db.url)
  })
  afterAll(async () => {
    await store.close()
    await db.drop()
  })

  it("is woken by the recorder's NOTIFY: every event once, in order, with a 60 s poll interval", async () => {
    // Polling once a minute: a tail that relied on it would outlast the test's timeout at its first idle wait.
    const router = makeReadRouter({ store, pollIntervalMs: 60_000, keepAliveMs: 60_000 })
    const served = await hosts[0]!.start(router, "/api")
    const runId = `live-${Date.now()}`
    const proc = recorder(db.url, runId)
    await proc.paused
    const res = await fetch(`${served.base}/runs/${runId}/events/stream`)
    expect(res.status).toBe(200)
    const frames = sseFrames(res)
    const events: Array<{ sequenceIndex: number; eventType: string }> = []
    // What was recorded before the tail began, up to the pause; then the tail is idle.
    while (events.at(-1)?.eventType !== "run.paused") {
      const frame = await frames.next()
      if (frame === undefined) throw new Error("stream ended early")
      if (frame.data !== undefined) events.push(JSON.parse(frame.data))
    }
    proc.go()
    for (let frame = await frames.next(); frame !== undefined; frame = await frames.next()) {
      if (frame.data !== undefined) events.push(JSON.parse(frame.data))
    }
    await proc.done
    expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))
    expect(events.at(-1)!.eventType).toBe("run.completed")
    expect(events.map((e) => e.eventType)).toContain("run.resumed")
    // Every recorded event, none missing at the end.
    const recorded = await store.getEvents(runId, { limit: 1000 })
    expect(recorded.items.map((e) => e.sequenceIndex)).toEqual(events.map((e) => e.sequenceIndex))
    await served.close()
    await router.dispose()
  }, 30_000)
})
