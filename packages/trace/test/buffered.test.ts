import { SqlRecorder } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { Effect } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { afterEach, describe, expect, it, vi } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { Ingest, Remote, Trace } from "../src/index.js"
import { freshDatabase } from "./support.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

const keys = { "key-acme": "acme", "key-globex": "globex" }

/** A real ingest endpoint on loopback over the SQLite database at `url` (on `port`, or a free one). */
const serve = async (url: string, port = 0) => {
  const ingest = await Ingest.fromLayer(SqlRecorder.layerFromUrl(url, { haltRuns: false }), {
    authorize: Ingest.apiKeys(keys)
  })
  const server: Server = createServer(ingest.node)
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let open = true
  const close = async () => {
    if (!open) return
    open = false
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await ingest.close()
  }
  cleanups.push(close)
  return { base, port: (server.address() as AddressInfo).port, close }
}

const database = () => {
  const dir = createTempDir()
  cleanups.push(dir.remove)
  return `sqlite:${join(dir.path, "ingest.db")}`
}

const sequencesOf = async (url: string, runId: string) => {
  const store = await RunStore.fromDatabaseUrl(url)
  try {
    return (await store.getEvents(runId, { limit: 1000 })).items.map((e) => e.sequenceIndex)
  } catch (error) {
    if ((error as { _tag?: unknown })._tag === "RunNotFound") return []
    throw error
  } finally {
    await store.close()
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** A `fetch` that counts its requests. */
const counting = () => {
  const counter = { requests: 0 }
  const fetcher: typeof fetch = (input, init) => {
    counter.requests++
    return fetch(input, init)
  }
  return { counter, fetcher }
}

/** Traces a run of `ticks` custom events (run.started + ticks + run.completed events in all). */
const tick = (tracer: Trace.Tracer, runId: string, ticks: number) =>
  tracer.run("buffered-bot", { tenantId: "acme", runId }, async (run) => {
    for (let i = 0; i < ticks; i++) await run.event("tick", { i })
    await run.final("done")
  })

describe("Remote.buffered against a real ingest endpoint", () => {
  it("batches by time and flush() makes every event durable; the counters add up", async () => {
    const url = database()
    const { base } = await serve(url)
    const { counter, fetcher } = counting()
    const tracer = Trace.remote({
      url: base,
      apiKey: "key-acme",
      batchSize: 8,
      batchInterval: "1 hour",
      fetch: fetcher
    })
    cleanups.push(() => tracer.close())
    await tick(tracer, "run-a", 10)
    await tick(tracer, "run-b", 10)
    const stats = await tracer.flush()
    expect(stats).toMatchObject({ offered: 24, sent: 24, duplicates: 0, droppedTotal: 0, pending: 0, failedBatches: 0 })
    // Batched: fewer requests than events, one per batch (no retries were needed).
    expect(stats.batches).toBeLessThan(24)
    expect(stats.attempts).toBe(stats.batches)
    expect(counter.requests).toBe(stats.batches)
    expect(await sequencesOf(url, "run-a")).toEqual(range(12))
    expect(await sequencesOf(url, "run-b")).toEqual(range(12))
    // A second flush with nothing new sends nothing.
    expect((await tracer.flush()).batches).toBe(stats.batches)
  })

  it("a full batch is sent without waiting for the interval or a flush", async () => {
    const url = database()
    const { base } = await serve(url)
    const tracer = Trace.remote({ url: base, apiKey: "key-acme", batchSize: 4, batchInterval: "1 hour" })
    cleanups.push(() => tracer.close())
    await tick(tracer, "run-size", 6) // 8 events: two full batches
    await vi.waitFor(async () => expect((await tracer.stats()).sent).toBe(8), { timeout: 10_000, interval: 20 })
    expect(await sequencesOf(url, "run-size")).toEqual(range(8))
  })

  it("shutdown() and the Effect layer's release flush what is still buffered", async () => {
    const url = database()
    const { base } = await serve(url)
    const tracer = Trace.remote({ url: base, apiKey: "key-acme", batchSize: 100, batchInterval: "1 hour" })
    await tick(tracer, "run-shutdown", 5)
    const stats = await tracer.shutdown()
    expect(stats).toMatchObject({ offered: 7, sent: 7, droppedTotal: 0, pending: 0 })
    expect(await sequencesOf(url, "run-shutdown")).toEqual(range(7))
    expect((await tracer.stats()).sent).toBe(7) // the counters stay readable after shutdown
    // The Effect layer flushes on release too (here when `Effect.provide`'s scope closes).
    await Effect.runPromise(Effect.orDie(
      Trace.run("effect-bot", { tenantId: "acme", runId: "run-effect" }, (run) =>
        Effect.gen(function*() {
          yield* run.event("one")
          yield* run.event("two")
        })).pipe(Effect.provide(Remote.buffered({ url: base, apiKey: "key-acme", batchInterval: "1 hour" })))
    ))
    expect(await sequencesOf(url, "run-effect")).toEqual(range(4))
  })

  it("a full buffer blocks up to blockFor, then drops and counts; the run's later events are dropped as a gap", async () => {
    const url = database()
    const { base } = await serve(url)
    let inFlight!: () => void
    const firstRequest = new Promise<void>((resolve) => {
      inFlight = resolve
    })
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    // The real endpoint, reached only once the gate opens: the first batch stays in flight meanwhile.
    const gated: typeof fetch = async (input, init) => {
      inFlight()
      await gate
      return fetch(input, init)
    }
    const reports: Array<Remote.DropReport> = []
    const tracer = Trace.remote({
      url: base,
      apiKey: "key-acme",
      capacity: 2,
      batchSize: 1,
      batchInterval: "1 millis",
      blockFor: "5 millis",
      fetch: gated,
      onDrop: (drop) => reports.push(drop)
    })
    cleanups.push(() => tracer.close())
    // run.started (seq 0) is in flight; seq 1 and 2 fill the buffer; seq 3 waits 5 ms and is dropped (full);
    // seq 4.. (the 3 remaining ticks and run.completed) are dropped at once as a gap.
    await tracer.run("blocked-bot", { tenantId: "acme", runId: "run-full" }, async (run) => {
      await firstRequest
      for (let i = 0; i < 6; i++) await run.event("tick", { i })
      await run.final("done")
    })
    expect(await tracer.stats()).toMatchObject({ offered: 8, sent: 0, pending: 3, dropped: { full: 1, gap: 4 } })
    open()
    const stats = await tracer.flush()
    expect(stats).toMatchObject({
      offered: 8,
      sent: 3,
      pending: 0,
      droppedTotal: 5,
      dropped: { full: 1, gap: 4, refused: 0, unavailable: 0, shutdown: 0 }
    })
    expect(await sequencesOf(url, "run-full")).toEqual([0, 1, 2])
    expect(reports.map((r) => [r.reason, r.events, r.runIds])).toEqual([
      ["full", 1, ["run-full"]],
      ["gap", 1, ["run-full"]],
      ["gap", 1, ["run-full"]],
      ["gap", 1, ["run-full"]],
      ["gap", 1, ["run-full"]]
    ])
    // The run's terminal event ended the gap: a new run is recorded whole.
    await tick(tracer, "run-after", 1)
    expect((await tracer.flush()).sent).toBe(6)
    expect(await sequencesOf(url, "run-after")).toEqual(range(3))
  })

  it("the endpoint down: writes do not hang, and every event is either sent or dropped, counted and reported", async () => {
    const url = database()
    const { base, close } = await serve(url)
    await close() // nothing listens on the port any more
    const reports: Array<Remote.DropReport> = []
    const tracer = Trace.remote({
      url: base,
      apiKey: "key-acme",
      capacity: 4,
      batchSize: 2,
      batchInterval: "1 millis",
      blockFor: "1 millis",
      retry: { maxAttempts: 2, baseDelay: "5 millis", budget: "200 millis" },
      onDrop: (drop) => reports.push(drop)
    })
    cleanups.push(() => tracer.close())
    await tick(tracer, "run-down", 20) // the agent is not failed: it never waits for the endpoint
    const stats = await tracer.flush()
    expect(stats.sent).toBe(0)
    expect(stats.pending).toBe(0)
    expect(stats.offered).toBe(22)
    expect(stats.droppedTotal).toBe(22)
    expect(stats.dropped.unavailable).toBeGreaterThanOrEqual(1)
    expect(stats.dropped.refused + stats.dropped.shutdown).toBe(0)
    expect(stats.attempts).toBeGreaterThanOrEqual(2 * stats.failedBatches) // each failed batch was retried
    expect(stats.lastError).toMatch(/could not reach the ingest endpoint/)
    expect(reports.reduce((n, r) => n + r.events, 0)).toBe(22)
    expect(reports.find((r) => r.reason === "unavailable")?.error).toMatch(/could not reach/)
  })

  it("the endpoint down, then back: the buffered batches are retried and land exactly once", async () => {
    const url = database()
    const first = await serve(url)
    await first.close()
    let restarted: Promise<unknown> | undefined
    let failures = 0
    // When the first attempt fails (connection refused), the endpoint comes back on the same port.
    const watching: typeof fetch = async (input, init) => {
      try {
        return await fetch(input, init)
      } catch (error) {
        failures++
        restarted ??= serve(url, first.port)
        await restarted
        throw error
      }
    }
    const tracer = Trace.remote({
      url: first.base,
      apiKey: "key-acme",
      batchSize: 5,
      batchInterval: "1 millis",
      fetch: watching,
      retry: { baseDelay: "10 millis" }
    })
    cleanups.push(() => tracer.close())
    await tick(tracer, "run-back", 10)
    const stats = await tracer.flush()
    expect(failures).toBeGreaterThanOrEqual(1)
    expect(stats).toMatchObject({ offered: 12, sent: 12, droppedTotal: 0, pending: 0, failedBatches: 0 })
    expect(stats.attempts).toBeGreaterThan(stats.batches)
    expect(await sequencesOf(url, "run-back")).toEqual(range(12))
  })

  it("a refused batch (another tenant's key) is dropped as refused, and the run's later events as a gap", async () => {
    const url = database()
    const { base } = await serve(url)
    const reports: Array<Remote.DropReport> = []
    const tracer = Trace.remote({
      url: base,
      apiKey: "key-globex",
      batchSize: 1,
      batchInterval: "1 millis",
      onDrop: (drop) => reports.push(drop)
    })
    cleanups.push(() => tracer.close())
    await tracer.run("foreign-bot", { tenantId: "acme", runId: "run-foreign" }, async (run) => {
      await tracer.flush() // run.started is refused before the next event is written
      await run.event("tick")
      await run.final("done")
    })
    const stats = await tracer.flush()
    expect(stats).toMatchObject({ offered: 3, sent: 0, dropped: { refused: 1, gap: 2 }, failedBatches: 1 })
    expect(reports[0]).toMatchObject({ reason: "refused", events: 1, runIds: ["run-foreign"] })
    expect(reports[0]?.error).toMatch(/403/)
    expect(await sequencesOf(url, "run-foreign")).toEqual([])
  })

  it("20 concurrent exporters x 1,000 events on Postgres lose and duplicate nothing", async () => {
    const db = await freshDatabase("postgres")
    cleanups.push(db.drop)
    const { base } = await serve(db.url)
    const exporters = 20
    const ticks = 998 // + run.started + run.completed = 1,000 events each
    const all = await Promise.all(Array.from({ length: exporters }, async (_, s) => {
      // A generous retry budget: on a loaded machine the endpoint may answer 503 for a while.
      const tracer = Trace.remote({
        url: base,
        apiKey: "key-acme",
        batchSize: 250,
        batchInterval: "5 millis",
        retry: { maxAttempts: 100, budget: "100 seconds", attemptTimeout: "60 seconds" }
      })
      await tick(tracer, `run-many-${s}`, ticks)
      return tracer.shutdown()
    }))
    for (const stats of all) {
      expect(stats, JSON.stringify(stats)).toMatchObject({ offered: 1000, sent: 1000, droppedTotal: 0, pending: 0 })
    }
    for (let s = 0; s < exporters; s++) expect(await sequencesOf(db.url, `run-many-${s}`)).toEqual(range(1000))
  }, 240_000)

  it("malformed options are refused when the exporter is made", () => {
    expect(() => Remote.buffered({ url: "http://127.0.0.1:1", apiKey: "k", capacity: 0 })).toThrow(/capacity/)
    expect(() => Remote.buffered({ url: "http://127.0.0.1:1", apiKey: "k", batchSize: 1.5 })).toThrow(/batchSize/)
  })
})
