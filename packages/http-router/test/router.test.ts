import { Tool } from "@sextant/runtime"
import type { RunStoreClient } from "@sextant/store"
import { Deferred, Effect, Fiber, Schema, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouter, toWebHandler } from "../src/index.js"
import {
  bearerAuthorize,
  freshDatabase,
  getJson,
  hosts,
  openStore,
  recorderRuntime,
  run,
  script,
  sseFrames
} from "./support.js"

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const PREFIX = "/api/sextant"

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`read router on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let recorder: ReturnType<typeof recorderRuntime>
    let store: RunStoreClient
    let router: ReadRouter
    const ids: Record<string, string> = {}

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      recorder = recorderRuntime(db.url)
      ids.acme1 =
        (await recorder.runPromise(run("weather", script("sunny"), { tenantId: "acme", metadata: { team: "red" } })))
          .runId
      ids.acme2 =
        (await recorder.runPromise(run("weather", script("rainy"), { tenantId: "acme", metadata: { team: "blue" } })))
          .runId
      ids.globex = (await recorder.runPromise(run("support", script("hi"), { tenantId: "globex" }))).runId
      ids.child =
        (await recorder.runPromise(run("helper", script("ok"), { tenantId: "acme", parentRunId: ids.acme1 }))).runId
      store = await openStore(db.url)
      router = makeReadRouter({ store, authorize: bearerAuthorize, keepAliveMs: 100, pollIntervalMs: 20 })
    })
    afterAll(async () => {
      await router?.dispose()
      await store?.close()
      await recorder?.dispose()
      await db?.drop()
    })

    for (const host of hosts) {
      describe(host.name, () => {
        let base: string
        let close: () => Promise<void>
        beforeAll(async () => {
          ;({ base, close } = await host.start(router, PREFIX))
        })
        afterAll(() => close())

        const get = (path: string, token: string | null = "admin", headers: Record<string, string> = {}) =>
          getJson(base, path, token, headers)

        it("serves /health and /openapi.json without authorization; OpenAPI lists every route", async () => {
          expect(await get("/health", null)).toMatchObject({ status: 200, body: { status: "ok" } })
          const doc = await get("/openapi.json", null)
          expect(doc.status).toBe(200)
          expect(Object.keys(doc.body.paths).sort()).toEqual([
            "/export",
            "/health",
            "/openapi.json",
            "/run-rows",
            "/runs",
            "/runs/{runId}",
            "/runs/{runId}/events",
            "/runs/{runId}/events/stream",
            "/runs/{runId}/llm-calls",
            "/runs/{runId}/pauses",
            "/runs/{runId}/signals",
            "/runs/{runId}/streams",
            "/runs/{runId}/streams/{streamId}/chunks",
            "/runs/{runId}/timeline",
            "/runs/{runId}/tool-calls",
            "/runs/{runId}/traces",
            "/runs/{runId}/tree",
            "/signals",
            "/threads",
            "/threads/{threadId}",
            "/usage",
            "/waiting"
          ])
          const params = doc.body.paths["/runs"].get.parameters.map((p: { name: string }) => p.name)
          expect(params).toEqual(
            expect.arrayContaining(["status", "limit", "cursor", "metadata", "createdAfter", "search"])
          )
        })

        it("rejects missing or bad credentials with 401 JSON and refused ones with 403 JSON", async () => {
          expect(await get("/runs", null)).toMatchObject({ status: 401, body: { _tag: "Unauthorized" } })
          expect(await get("/runs", "wrong")).toMatchObject({
            status: 401,
            body: { _tag: "Unauthorized", message: "A valid bearer token is required." }
          })
          expect(await get(`/runs/${ids.acme1}/events`, "nobody")).toMatchObject({
            status: 403,
            body: { _tag: "Forbidden" }
          })
          expect((await get("/runs", null)).type).toContain("application/json")
        })

        it("lists runs with filters, cursors and the tenant scope of the principal", async () => {
          const all = await get("/runs")
          expect(all.status).toBe(200)
          expect(all.body.total).toBe(4)
          expect(all.body.items.map((r: { id: string }) => r.id)).toEqual([ids.child, ids.globex, ids.acme2, ids.acme1])
          for (const r of all.body.items) expect(r.createdAt).toMatch(RFC3339)
          const acme = await get("/runs", "acme")
          expect(acme.body.items.every((r: { tenantId: string }) => r.tenantId === "acme")).toBe(true)
          expect(acme.body.total).toBe(3)
          expect((await get("/runs?tenantId=globex", "acme")).body.total).toBe(0)
          const red = await get(`/runs?metadata=${encodeURIComponent(JSON.stringify({ team: "red" }))}`)
          expect(red.body.items.map((r: { id: string }) => r.id)).toEqual([ids.acme1])
          const two = await get("/runs?status=success&status=error&agentName=weather&limit=1")
          expect(two.body.items.map((r: { id: string }) => r.id)).toEqual([ids.acme2])
          const next = await get(`/runs?status=success&agentName=weather&limit=1&cursor=${two.body.nextCursor}`)
          expect(next.body).toMatchObject({ items: [{ id: ids.acme1 }], nextCursor: null, total: 2 })
          expect((await get(`/runs?createdAfter=${encodeURIComponent("2000-01-01T00:00:00+02:00")}`)).body.total).toBe(
            4
          )
        })

        it("counts as includeTotal asks: exact by default, not at all, or an estimate", async () => {
          expect((await get("/runs?limit=1")).body).toMatchObject({ total: 4 })
          const none = (await get("/runs?limit=1&includeTotal=false")).body
          expect(none.items).toHaveLength(1)
          expect(none).not.toHaveProperty("total")
          expect(none).not.toHaveProperty("estimatedTotal")
          const estimate = (await get("/runs?includeTotal=estimate&tenantId=acme")).body
          expect(estimate).not.toHaveProperty("total")
          expect(estimate.estimatedTotal).toBe(3)
          expect((await get("/runs?includeTotal=estimate", "acme")).body.estimatedTotal).toBe(3)
          expect((await get("/runs?includeTotal=true", "globex")).body.total).toBe(1)
        })

        it("answers every malformed parameter with 400 naming it", async () => {
          const cases: ReadonlyArray<readonly [string, string]> = [
            ["/runs?limit=0", "limit"],
            ["/runs?limit=1001", "limit"],
            ["/runs?limit=abc", "limit"],
            ["/runs?status=done", "status"],
            ["/runs?cursor=nonsense", "cursor"],
            ["/runs?createdAfter=yesterday", "createdAfter"],
            ["/runs?createdBefore=2026-01-01T00:00:00", "createdBefore"],
            ["/runs?metadata=notjson", "metadata"],
            [`/runs?metadata=${encodeURIComponent("{\"bad key\":1}")}`, "metadata"],
            ["/runs?agentName=", "agentName"],
            ["/runs?includeTotal=maybe", "includeTotal"],
            [`/runs/${ids.acme1}/events?after=-1`, "after"],
            [`/runs/${ids.acme1}/events?limit=5000`, "limit"],
            [`/runs/${ids.acme1}/events/stream?follow=maybe`, "follow"],
            [`/runs/${ids.acme1}/llm-calls?iteration=x`, "iteration"],
            [`/runs/${ids.acme1}/tool-calls?iteration=-3`, "iteration"],
            [`/runs/${ids.acme1}/traces?iteration=1.5`, "iteration"],
            ["/usage?groupBy=week", "groupBy"],
            ["/usage?from=soon", "from"],
            ["/export?status=nope", "status"]
          ]
          for (const [path, parameter] of cases) {
            const res = await get(path)
            expect({ path, status: res.status, body: res.body }).toMatchObject({
              path,
              status: 400,
              body: { _tag: "InvalidParameter", parameter }
            })
            expect(res.body.message).toContain(parameter)
          }
          const header = await get(`/runs/${ids.acme1}/events/stream`, "admin", { "last-event-id": "abc" })
          expect(header).toMatchObject({ status: 400, body: { _tag: "InvalidParameter", parameter: "last-event-id" } })
        })

        it("answers a NUL or a lone surrogate in any text parameter with 400 naming it, never a 500", async () => {
          const nul = "%00"
          const json = (value: unknown) => encodeURIComponent(JSON.stringify(value))
          const cursor = (id: string) =>
            Buffer.from(JSON.stringify(["r1", "2026-01-01T00:00:00.000Z", id])).toString("base64url")
          const cases: ReadonlyArray<readonly [string, string]> = [
            ...["", "/events", "/events/stream", "/traces", "/tool-calls", "/llm-calls", "/pauses", "/tree"].map((
              route
            ) => [`/runs/a${nul}b${route}`, "runId"] as const),
            ...["/runs", "/export"].flatMap((route) => [
              [`${route}?agentName=a${nul}`, "agentName"] as const,
              [`${route}?tenantId=${nul}`, "tenantId"] as const,
              [`${route}?parentRunId=x${nul}`, "parentRunId"] as const,
              [`${route}?search=${nul}`, "search"] as const,
              [`${route}?metadata=${json({ team: "red\u0000" })}`, "metadata"] as const,
              [`${route}?metadata=${encodeURIComponent("{\"team\":\"\\ud800\"}")}`, "metadata"] as const,
              [`${route}?createdAfter=2026-01-01T00:00:00Z${nul}`, "createdAfter"] as const,
              [`${route}?createdBefore=0000-06-01T00:00:00Z`, "createdBefore"] as const
            ]),
            [`/runs?cursor=${cursor("a\u0000")}`, "cursor"],
            [`/usage?tenantId=${nul}`, "tenantId"],
            [`/usage?from=${nul}`, "from"],
            [`/runs/${ids.acme1}/events?after=2147483648`, "after"],
            [`/runs/${ids.acme1}/traces?iteration=99999999999`, "iteration"]
          ]
          for (const [path, parameter] of cases) {
            const res = await get(path)
            expect({ path, status: res.status, body: res.body }).toMatchObject({
              path,
              status: 400,
              body: { _tag: "InvalidParameter", parameter }
            })
            expect(res.body.message).toContain(parameter)
          }
          const header = await get(`/runs/${ids.acme1}/events/stream`, "admin", { "last-event-id": "2147483648" })
          expect(header).toMatchObject({ status: 400, body: { _tag: "InvalidParameter", parameter: "last-event-id" } })
          // On SQLite a NUL once cut the search pattern short, so `search=%00` listed every run.
          expect((await get("/runs?search=%00")).status).toBe(400)
          const metadata = await get(`/runs?metadata=${json({ team: "red\u0000" })}`)
          expect(metadata.body.message).toMatch(/^metadata\.team: must not contain a NUL/)
        })

        it("serves a run and its parts; unknown runs, other tenants' runs and unknown routes are 404 JSON", async () => {
          const detail = await get(`/runs/${ids.acme1}`)
          expect(detail).toMatchObject({
            status: 200,
            body: { id: ids.acme1, status: "success", answer: "sunny", tenantId: "acme" }
          })
          expect(detail.body).not.toHaveProperty("pauseState")
          expect(detail.body.createdAt).toMatch(RFC3339)
          const events = await get(`/runs/${ids.acme1}/events?limit=3`)
          expect(events.body.items.map((e: { sequenceIndex: number }) => e.sequenceIndex)).toEqual([0, 1, 2])
          expect(events.body.nextAfter).toBe(2)
          const traces = await get(`/runs/${ids.acme1}/traces`)
          expect(traces.body.items.map((t: { role: string }) => t.role)).toEqual([
            "user",
            "assistant",
            "tool",
            "assistant"
          ])
          const tools = await get(`/runs/${ids.acme1}/tool-calls`)
          expect(tools.body.items).toMatchObject([{
            toolName: "get_weather",
            success: true,
            params: { city: "Lisbon" }
          }])
          const llm = await get(`/runs/${ids.acme1}/llm-calls?iteration=2`)
          expect(llm.body.items).toMatchObject([{ iteration: 2, inputTokens: 80 }])
          expect(await get(`/runs/${ids.acme1}/pauses`)).toMatchObject({ status: 200, body: { items: [] } })
          const tree = await get(`/runs/${ids.acme1}/tree`)
          expect(tree.body.children.map((c: { run: { id: string } }) => c.run.id)).toEqual([ids.child])
          expect(tree.body.subtreeTotals).toMatchObject({ runCount: 2, inputTokens: 260, modelCallCount: 4 })
          const usage = await get("/usage?groupBy=tenant,agent", "acme")
          // One shape for the Promise client and HTTP: every list that can grow is `{ items }`.
          expect(traces.body).toEqual(await store.getTraces(ids.acme1))
          expect(tools.body).toEqual(await store.getToolCalls(ids.acme1))
          expect(llm.body).toEqual(await store.getLlmCalls(ids.acme1, { iteration: 2 }))
          expect(usage.body).toEqual(await store.usage({ groupBy: ["tenant", "agent"], scope: { tenantId: "acme" } }))
          expect(usage.body.items).toEqual([
            expect.objectContaining({ tenantId: "acme", agentName: "helper", runCount: 1, modelCallCount: 2 }),
            expect.objectContaining({ tenantId: "acme", agentName: "weather", runCount: 2, inputTokens: 260 })
          ])
          for (
            const path of ["", "/events", "/events/stream", "/traces", "/tool-calls", "/llm-calls", "/pauses", "/tree"]
          ) {
            expect(await get(`/runs/nope${path}`)).toMatchObject({
              status: 404,
              body: { _tag: "RunNotFound", runId: "nope" }
            })
            const cross = await get(`/runs/${ids.acme1}${path}`, "globex")
            expect({ path, status: cross.status, body: cross.body }).toMatchObject({
              path,
              status: 404,
              body: { _tag: "RunNotFound", runId: ids.acme1 }
            })
          }
          expect(await get("/nowhere")).toMatchObject({ status: 404, body: { _tag: "RouteNotFound" } })
          expect(await get("/runs/a/b/c")).toMatchObject({ status: 404, body: { _tag: "RouteNotFound" } })
        })

        it("answers a store failure with a 500 JSON body", async () => {
          const broken = await openStore(db.url)
          await broken.close()
          const failing = makeReadRouter({ store: broken })
          const started = await host.start(failing, PREFIX)
          try {
            const res = await fetch(`${started.base}/runs`)
            expect(res.status).toBe(500)
            expect(await res.json()).toMatchObject({ _tag: "InternalError" })
          } finally {
            await started.close()
            await failing.dispose()
          }
        })

        it("exports NDJSON, one line per visible run", async () => {
          const res = await get("/export", "acme")
          expect(res.status).toBe(200)
          expect(res.type).toContain("application/x-ndjson")
          const lines = res.text.trim().split("\n").map((l) => JSON.parse(l))
          expect(lines.map((l) => l.run.id)).toEqual([ids.child, ids.acme2, ids.acme1])
          expect(lines[2].events.length).toBeGreaterThan(5)
          expect(lines[2].run).toEqual((await get(`/runs/${ids.acme1}`)).body)
        })
      })
    }

    // After every host's route tests, so the runs these add do not change the counts above.
    for (const host of hosts) {
      describe(`${host.name} SSE`, () => {
        let base: string
        let close: () => Promise<void>
        beforeAll(async () => {
          ;({ base, close } = await host.start(router, PREFIX))
        })
        afterAll(() => close())
        const get = (path: string, token: string) => getJson(base, path, token)

        it("streams a run in progress over SSE; Last-Event-ID resumes with no gap or repeat", async () => {
          const gate = await recorder.runPromise(Deferred.make<void>())
          const wait = Tool.make("wait", {
            description: "waits for the gate",
            parameters: Schema.Struct({}),
            handler: () => Effect.as(Deferred.await(gate), { ok: true })
          })
          const runId = `sse-${host.name}-${Date.now()}`.replace(":", "")
          const fiber = recorder.runFork(
            run("slow", [{ toolCalls: [{ name: "wait", arguments: {} }] }, { text: "done" }], {
              runId,
              tenantId: "acme"
            }, [wait])
          )
          // The run row exists once run.started is durable.
          for (let i = 0; i < 500 && (await get(`/runs/${runId}`, "acme")).status !== 200; i++) {
            await new Promise((r) => setTimeout(r, 10))
          }

          const first = await fetch(`${base}/runs/${runId}/events/stream`, {
            headers: { authorization: "Bearer acme" }
          })
          expect(first.status).toBe(200)
          expect(first.headers.get("content-type")).toContain("text/event-stream")
          const a = sseFrames(first)
          const received: Array<number> = []
          let lastType = ""
          let sawKeepAlive = false
          // Read until the run is blocked in its tool (tool.started) and the idle tail has sent a keepalive.
          while (!(lastType === "tool.started" && sawKeepAlive)) {
            const frame = await a.next()
            if (frame === undefined) throw new Error("stream ended early")
            if (frame.comment === "keepalive") sawKeepAlive = lastType === "tool.started"
            if (frame.id === undefined || frame.data === undefined) continue
            const event = JSON.parse(frame.data)
            expect(event.sequenceIndex).toBe(Number(frame.id))
            received.push(event.sequenceIndex)
            lastType = event.eventType
          }
          expect(sawKeepAlive).toBe(true)
          // The run is still waiting on its tool: these events arrived live.
          expect((await get(`/runs/${runId}`, "acme")).body.status).toBe("running")
          await a.close()

          const resumeFrom = received.at(-1)!
          const second = await fetch(`${base}/runs/${runId}/events/stream`, {
            headers: { authorization: "Bearer acme", "last-event-id": String(resumeFrom) }
          })
          await recorder.runPromise(Deferred.succeed(gate, undefined))
          await recorder.runPromise(Fiber.join(fiber))
          const b = sseFrames(second)
          const resumed: Array<number> = []
          let last: any
          const frames: Array<unknown> = []
          for (let frame = await b.next(); frame !== undefined; frame = await b.next()) {
            frames.push(frame)
            if (frame.data === undefined) continue
            last = JSON.parse(frame.data)
            resumed.push(last.sequenceIndex)
          }
          // On failure, every frame the resumed tail sent (and the recorded events) say where it ended.
          const recorded = (await get(`/runs/${runId}/events?after=${resumeFrom}`, "acme")).body
          expect(last?.eventType, JSON.stringify({ resumeFrom, frames, recorded })).toBe("run.completed")
          const all = [...received, ...resumed]
          expect(all).toEqual(all.map((_, i) => i))
        })

        it("a client that leaves an SSE tail ends the server's tail (no polling forever)", async () => {
          let ended = 0
          const service = store.service
          const tracked = {
            ...service,
            streamEvents: (id: string, o?: Parameters<typeof service.streamEvents>[1]) =>
              service.streamEvents(id, o).pipe(Stream.ensuring(Effect.sync(() => ended++)))
          }
          const own = makeReadRouter({
            store: tracked,
            authorize: bearerAuthorize,
            keepAliveMs: 50,
            pollIntervalMs: 20
          })
          const served = await host.start(own, PREFIX)
          const gate = await recorder.runPromise(Deferred.make<void>())
          const wait = Tool.make("wait", {
            description: "waits for the gate",
            parameters: Schema.Struct({}),
            handler: () => Effect.as(Deferred.await(gate), { ok: true })
          })
          const runId = `leave-${host.name}-${Date.now()}`.replace(":", "")
          const fiber = recorder.runFork(
            run("slow", [{ toolCalls: [{ name: "wait", arguments: {} }] }, { text: "done" }], {
              runId,
              tenantId: "acme"
            }, [wait])
          )
          for (let i = 0; i < 500 && (await get(`/runs/${runId}`, "acme")).status !== 200; i++) {
            await new Promise((r) => setTimeout(r, 10))
          }
          const controller = new AbortController()
          const res = await fetch(`${served.base}/runs/${runId}/events/stream`, {
            headers: { authorization: "Bearer acme" },
            signal: controller.signal
          })
          const frames = sseFrames(res)
          let frame = await frames.next()
          while (frame !== undefined && frame.data === undefined) frame = await frames.next()
          expect(frame?.data).toBeDefined()
          expect(ended).toBe(0)
          controller.abort()
          for (let i = 0; i < 500 && ended === 0; i++) await new Promise((r) => setTimeout(r, 10))
          expect(ended).toBe(1)
          await recorder.runPromise(Deferred.succeed(gate, undefined))
          await recorder.runPromise(Fiber.join(fiber))
          await served.close()
          await own.dispose()
        })
      })
    }
  })
}

describe("read router fault paths", () => {
  it("a value JSON cannot hold and a defect both become a logged 500 with a JSON body, never an empty one", async () => {
    const db = await freshDatabase("sqlite")
    const store = await openStore(db.url)
    const router = makeReadRouter({
      store: {
        ...store.service,
        getRun: () => Effect.succeed({ id: 1n } as never),
        getTraces: () => Effect.die(new Error("boom"))
      }
    })
    const handle = toWebHandler(router)
    try {
      for (const path of ["/runs/x", "/runs/x/traces"]) {
        const res = await handle(new Request(`http://host${path}`))
        expect(res.status).toBe(500)
        expect(await res.json()).toMatchObject({ _tag: "InternalError" })
      }
      const authFails = makeReadRouter({ store, authorize: () => Promise.reject(new Error("auth backend down")) })
      const res = await toWebHandler(authFails)(new Request("http://host/runs"))
      expect(res.status).toBe(500)
      expect(await res.json()).toMatchObject({ _tag: "InternalError" })
      await authFails.dispose()
      // A principal whose tenant no query can hold is the host's bug: a logged 500, not a 400 about a parameter.
      const badTenant = makeReadRouter({ store, authorize: () => ({ tenantId: "acme\u0000" }) })
      const refused = await toWebHandler(badTenant)(new Request("http://host/runs"))
      expect(refused.status).toBe(500)
      expect(await refused.json()).toMatchObject({ _tag: "InternalError" })
      await badTenant.dispose()
    } finally {
      await router.dispose()
      await store.close()
      await db.drop()
    }
  })
})
