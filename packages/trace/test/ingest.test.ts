import { SqlRecorder } from "@sextant/recorder"
import { HookEvent } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Effect } from "effect"
import { createServer, type Server } from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { Ingest, Remote, Trace } from "../src/index.js"
import { freshDatabase } from "./support.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

/** A second, raw connection to hold the database's write lock (the driver the recorder uses). */
const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new(file: string) => {
  exec: (sql: string) => void
  close: () => void
}

const keys = { "key-acme": "acme", "key-globex": "globex" }

/** An ingest endpoint on a loopback `node:http` server over the database at `url`. */
const serve = async (url: string, options: Partial<Ingest.IngestOptions> = {}) => {
  const ingest = await Ingest.fromLayer(
    SqlRecorder.layerFromUrl(url, {
      haltRuns: false,
      retry: { maxAttempts: 2, budget: "400 millis", baseDelay: "20 millis" }
    }),
    { authorize: Ingest.apiKeys(keys), ...options }
  )
  const server: Server = createServer(ingest.node)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let open = true
  const close = async () => {
    if (!open) return
    open = false
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await ingest.close()
  }
  cleanups.push(close)
  return { base, close }
}

const sqliteUrl = () => {
  const dir = createTempDir()
  cleanups.push(dir.remove)
  return { url: `sqlite:${join(dir.path, "ingest.db")}`, file: join(dir.path, "ingest.db") }
}

const post = (base: string, body: unknown, key = "key-acme") =>
  fetch(`${base}${Ingest.path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

/** A small run's events, as a remote agent would send them. */
const runEvents = (runId: string, tenantId: string | undefined): Array<HookEvent.HookEvent> => {
  const t = Date.now()
  const base = { runId, iteration: 0, timestamp: t }
  return [
    {
      ...base,
      _tag: "RunStarted",
      sequenceIndex: 0,
      agentName: "py-agent",
      instructions: "",
      input: "hello",
      delegationLevel: 0,
      tools: [],
      ...(tenantId === undefined ? {} : { tenantId })
    },
    { ...base, _tag: "CustomEvent", sequenceIndex: 1, name: "custom.step", data: { n: 1 } },
    {
      ...base,
      _tag: "RunCompleted",
      sequenceIndex: 2,
      status: "success",
      answer: "bye",
      iterations: 0,
      usage: { inputTokens: 0, outputTokens: 0 }
    }
  ]
}

const batch = (events: ReadonlyArray<HookEvent.HookEvent>) => ({ version: 1, events })

const eventsOf = async (url: string, runId: string) => {
  const store = await RunStore.fromDatabaseUrl(url)
  try {
    return (await store.getEvents(runId, { limit: 1000 })).items
  } catch (error) {
    if ((error as { _tag?: unknown })._tag === "RunNotFound") return []
    throw error
  } finally {
    await store.close()
  }
}

describe("Ingest over loopback HTTP", () => {
  it("a traced run sent through Remote is durable when the 200s arrive (server closed, database reopened)", async () => {
    const { url } = sqliteUrl()
    const { base, close } = await serve(url)
    const tracer = Trace.make(Remote.layer({ url: base, apiKey: "key-acme" }))
    const runId = await tracer.run("remote-bot", { tenantId: "acme", input: "hi" }, async (run) => {
      await run.llm({ model: "m", provider: "p", text: "ok", usage: { inputTokens: 2, outputTokens: 1 } })
      await run.tool("lookup", { id: 1 }, () => ({ found: true }))
      await run.final("done")
      return run.runId
    })
    await tracer.close()
    await close()
    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    expect(await store.getRun(runId)).toMatchObject({ status: "success", tenantId: "acme", answer: "done" })
    const types = (await store.getEvents(runId)).items.map((e) => e.eventType)
    expect(types).toEqual([
      "run.started",
      "message.appended",
      "llm.started",
      "llm.completed",
      "message.appended",
      "tool.started",
      "tool.completed",
      "message.appended",
      "run.completed"
    ])
  })

  it("a retried batch adds nothing; another tenant's key is 403; no key is 401", async () => {
    const { url } = sqliteUrl()
    const { base } = await serve(url)
    const events = runEvents("run-retry", "acme")
    const send = Remote.send({ url: base, apiKey: "key-acme" })
    expect(await Effect.runPromise(send(events))).toEqual({ committed: 3, duplicates: 0 })
    expect(await Effect.runPromise(send(events))).toEqual({ committed: 0, duplicates: 3 })
    expect(await Effect.runPromise(send(events.slice(1)))).toEqual({ committed: 0, duplicates: 2 })
    expect((await eventsOf(url, "run-retry")).length).toBe(3)

    const foreign = await post(base, batch(runEvents("run-foreign", "acme")), "key-globex")
    expect(foreign.status).toBe(403)
    expect(await foreign.json()).toMatchObject({ error: "Forbidden", runId: "run-foreign", index: 0 })
    // Appending to an existing run of another tenant is refused too.
    const append = await post(base, batch([{ ...events[1]!, sequenceIndex: 3 }]), "key-globex")
    expect(append.status).toBe(403)
    const untenanted = await post(base, batch(runEvents("run-none", undefined)))
    expect(untenanted.status).toBe(403)
    const anonymous = await post(base, batch(events), "nope")
    expect(anonymous.status).toBe(401)
    expect((await eventsOf(url, "run-foreign")).length).toBe(0)
  })

  it("a bad event is a 400 naming its index and field, and nothing of the batch is written", async () => {
    const { url } = sqliteUrl()
    const { base } = await serve(url, { maxBodyBytes: 4096, holdFor: "20 millis" })
    const good = runEvents("run-good", "acme")
    const bad = [...runEvents("run-bad", "acme")]
    bad[1] = { ...bad[1]!, sequenceIndex: -1 } as HookEvent.HookEvent
    const response = await post(base, batch([...good, ...bad]))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error: "InvalidBatch", index: 4, field: "events.4.sequenceIndex" })
    expect((await eventsOf(url, "run-good")).length).toBe(0)

    const unknownTag = await post(base, batch([{ ...good[0], _tag: "Nope" } as unknown as HookEvent.HookEvent]))
    expect(await unknownTag.json()).toMatchObject({ error: "InvalidBatch", index: 0 })
    const version = await post(base, { version: 2, events: [] })
    expect(await version.json()).toMatchObject({ error: "InvalidBatch", field: "version" })
    const notJson = await post(base, "{oops")
    expect(notJson.status).toBe(400)
    expect(await notJson.json()).toMatchObject({ field: "body" })
    const huge = await post(base, { version: 1, events: [], pad: "x".repeat(5000) })
    expect(huge.status).toBe(413)
    // A gap that does not fill while held is a 409 naming the first missing event; the run's events before it
    // are unaffected.
    expect((await post(base, batch(good.slice(0, 1)))).status).toBe(200)
    const gap = await post(base, batch(good.slice(2)))
    expect(gap.status).toBe(409)
    expect(await gap.json()).toMatchObject({ error: "Conflict", runId: "run-good", field: "events.0.sequenceIndex" })
    const orphan = await post(base, batch(runEvents("run-orphan", "acme").slice(1)))
    expect(orphan.status).toBe(409)
  })

  it("a batch that arrives before its predecessor is held until the predecessor commits, then both are 200", async () => {
    const { url } = sqliteUrl()
    const { base } = await serve(url, { holdFor: "30 seconds" })
    const events = runEvents("run-late", "acme")
    let settled = false
    const early = post(base, batch(events.slice(1))).then((r) => {
      settled = true
      return r
    })
    // Another request's full round trip: the early batch reached the server meanwhile, and waits.
    expect((await post(base, batch(runEvents("run-other", "acme")))).status).toBe(200)
    expect(settled).toBe(false)
    const first = await post(base, batch(events.slice(0, 1)))
    expect(first.status).toBe(200)
    const held = await early
    expect(held.status).toBe(200)
    expect(await held.json()).toEqual({ committed: 2, duplicates: 0 })
    expect((await eventsOf(url, "run-late")).map((e) => e.sequenceIndex)).toEqual([0, 1, 2])

    // Two exporters racing, each batch sent in reverse order: everything lands exactly once.
    const runs = Array.from({ length: 4 }, (_, r) => runEvents(`run-race-${r}`, "acme"))
    const answers = await Promise.all(
      runs.flatMap((ev) => [ev.slice(2), ev.slice(1, 2), ev.slice(0, 1)]).map((b) => post(base, batch(b)))
    )
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
    for (let r = 0; r < runs.length; r++) {
      expect((await eventsOf(url, `run-race-${r}`)).map((e) => e.sequenceIndex)).toEqual([0, 1, 2])
    }
  })

  it("a held batch whose gap never fills is a 409 once the hold runs out; above the held-events bound at once", async () => {
    const { url } = sqliteUrl()
    const { base } = await serve(url, { holdFor: "50 millis", maxHeldEvents: 2 })
    const events = runEvents("run-hole", "acme")
    expect((await post(base, batch(events.slice(0, 1)))).status).toBe(200)
    const expired = await post(base, batch(events.slice(2)))
    expect(expired.status).toBe(409)
    const body = (await expired.json()) as Ingest.Refusal
    expect(body).toMatchObject({ error: "Conflict", runId: "run-hole", field: "events.0.sequenceIndex" })
    expect(body.message).toContain("expects #1 next")
    expect(body.message).toContain("never arrived")
    // Three events would exceed the bound of two held: refused without waiting.
    const orphan = runEvents("run-orphan", "acme")
    const tooMany = await post(base, batch([...orphan.slice(1), { ...orphan[2]!, sequenceIndex: 3 }]))
    expect(tooMany.status).toBe(409)
    expect(((await tooMany.json()) as Ingest.Refusal).message).toContain("not held")
    // A hole inside the batch itself can never fill: refused at once.
    const inner = await post(base, batch([events[1]!, { ...events[2]!, sequenceIndex: 3 }]))
    expect(inner.status).toBe(409)
    expect(((await inner.json()) as Ingest.Refusal).message).toContain("expects #2 next")
    expect((await eventsOf(url, "run-hole")).map((e) => e.sequenceIndex)).toEqual([0])
  })

  it("an event resent at a recorded (run, sequence) with other content is a 409 naming it, not a duplicate", async () => {
    const { url } = sqliteUrl()
    const { base } = await serve(url)
    const events = runEvents("run-changed", "acme")
    expect(await (await post(base, batch(events))).json()).toEqual({ committed: 3, duplicates: 0 })
    const changed = [...events]
    changed[1] = { ...events[1]!, data: { n: 2 } } as HookEvent.HookEvent
    const response = await post(base, batch(changed))
    expect(response.status).toBe(409)
    const body = (await response.json()) as Ingest.Refusal
    expect(body).toMatchObject({ error: "Conflict", runId: "run-changed", index: 1, field: "events.1" })
    expect(body.message).toContain("other content")
    // The faithful resend is still a duplicate (its fields in another order too), and the record is the original.
    expect(await (await post(base, batch(events))).json()).toEqual({ committed: 0, duplicates: 3 })
    const reordered = events.map((e) =>
      Object.fromEntries(Object.entries(e).reverse()) as unknown as HookEvent.HookEvent
    )
    expect(await (await post(base, batch(reordered))).json()).toEqual({ committed: 0, duplicates: 3 })
    const stored = await eventsOf(url, "run-changed")
    expect(stored.map((e) => e.sequenceIndex)).toEqual([0, 1, 2])
    expect(JSON.stringify(stored[1])).toContain("{\"n\":1}")
  })

  it("the database down is a 503 with Retry-After; once it is back the sender's retries land exactly once", async () => {
    const { file, url } = sqliteUrl()
    const { base } = await serve(url, { retryAfterSeconds: 0 })
    const events = runEvents("run-down", "acme")
    // Create the run first, then hold the database's write lock from another connection.
    expect((await post(base, batch(events.slice(0, 1)))).status).toBe(200)
    const blocker = new Sqlite(file)
    cleanups.push(() => void blocker.close())
    blocker.exec("BEGIN EXCLUSIVE")
    const direct = await post(base, batch(events.slice(1)))
    expect(direct.status).toBe(503)
    expect(direct.headers.get("retry-after")).toBe("0")
    expect(await direct.json()).toMatchObject({ error: "Unavailable" })

    const statuses: Array<number> = []
    let released = false
    const watching: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      statuses.push(response.status)
      if (response.status === 503 && !released) {
        released = true
        blocker.exec("COMMIT")
      }
      return response
    }
    const send = Remote.send({ url: base, apiKey: "key-acme", fetch: watching, retry: { baseDelay: "10 millis" } })
    expect(await Effect.runPromise(send(events))).toEqual({ committed: 2, duplicates: 1 })
    expect(statuses[0]).toBe(503)
    expect(statuses.at(-1)).toBe(200)
    const stored = await eventsOf(url, "run-down")
    expect(stored.map((e) => e.sequenceIndex)).toEqual([0, 1, 2])
  })

  it("concurrent senders on Postgres lose and duplicate nothing", async () => {
    const db = await freshDatabase("postgres")
    cleanups.push(db.drop)
    const { base } = await serve(db.url)
    const senders = 8
    const perSender = 50
    await Promise.all(Array.from({ length: senders }, async (_, s) => {
      const tracer = Trace.make(Remote.layer({ url: base, apiKey: "key-acme" }))
      try {
        await tracer.run(`sender-${s}`, { tenantId: "acme", runId: `run-pg-${s}` }, async (run) => {
          for (let i = 0; i < perSender; i++) await run.event("tick", { i })
        })
      } finally {
        await tracer.close()
      }
    }))
    for (let s = 0; s < senders; s++) {
      const events = await eventsOf(db.url, `run-pg-${s}`)
      expect(events.map((e) => e.sequenceIndex)).toEqual(Array.from({ length: perSender + 2 }, (_, i) => i))
    }
  })
})
