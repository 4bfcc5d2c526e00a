import { Tool } from "@sextant/runtime"
import type { RunStoreClient } from "@sextant/store"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouter, toWebHandler } from "../src/index.js"
import { bearerAuthorize, freshDatabase, getJson, hosts, openStore, recorderRuntime, run, script } from "./support.js"

const PREFIX = "/api/sextant"

const confirm = Tool.make("confirm_payment", {
  description: "Asks the user to confirm",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`view routes on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let recorder: ReturnType<typeof recorderRuntime>
    let store: RunStoreClient
    let router: ReadRouter
    const ids: Record<string, string> = {}

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      recorder = recorderRuntime(db.url)
      ids.parent = (await recorder.runPromise(run("weather", script("sunny"), { tenantId: "acme" }))).runId
      ids.child =
        (await recorder.runPromise(run("helper", script("ok"), { tenantId: "acme", parentRunId: ids.parent }))).runId
      ids.globex = (await recorder.runPromise(run("support", script("hi"), { tenantId: "globex" }))).runId
      ids.waiting = (await recorder.runPromise(run(
        "checkout",
        [{
          toolCalls: [{ name: "confirm_payment", arguments: { amount: 12 } }],
          usage: { inputTokens: 5, outputTokens: 1 }
        }],
        { tenantId: "globex" },
        [confirm]
      ))).runId
      store = await openStore(db.url)
      router = makeReadRouter({ store, authorize: bearerAuthorize })
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

        const get = (path: string, token: string | null = "admin") => getJson(base, path, token)

        it("GET /run-rows is GET /runs with pause and child counts, same filters and cursors", async () => {
          const rows = await get("/run-rows")
          const plain = await get("/runs")
          expect(rows.status).toBe(200)
          expect(rows.body.items.map((r: { id: string }) => r.id)).toEqual(
            plain.body.items.map((r: { id: string }) => r.id)
          )
          const byId = new Map(rows.body.items.map((r: { id: string }) => [r.id, r]))
          expect(byId.get(ids.parent)).toMatchObject({ childCount: 1, pauseCount: 0 })
          expect(byId.get(ids.waiting)).toMatchObject({ childCount: 0, pauseCount: 1, durationMs: null })
          const page = await get("/run-rows?limit=1&agentName=weather&status=success")
          expect(page.body).toMatchObject({ items: [{ id: ids.parent }], total: 1, nextCursor: null })
          const acme = await get("/run-rows", "acme")
          expect(acme.body.total).toBe(2)
          expect(acme.body.items.every((r: { tenantId: string }) => r.tenantId === "acme")).toBe(true)
        })

        it("GET /waiting lists the waiting runs of the principal's tenant with their waits", async () => {
          const all = await get("/waiting")
          expect(all.status).toBe(200)
          expect(all.body).toMatchObject({
            total: 1,
            items: [{
              run: { id: ids.waiting },
              status: "waiting_client_tool",
              pendingCalls: [{ name: "confirm_payment", target: "client" }]
            }]
          })
          expect(all.body.items[0].waitMs).toBeGreaterThanOrEqual(0)
          expect((await get("/waiting", "acme")).body).toMatchObject({ total: 0, items: [] })
          expect((await get("/waiting?tenantId=globex", "globex")).body.total).toBe(1)
          expect((await get("/waiting?agentName=weather")).body.total).toBe(0)
        })

        it("GET /runs/:id/timeline gives the typed nodes; another tenant's run and an unknown run are 404", async () => {
          const t = await get(`/runs/${ids.parent}/timeline`, "acme")
          expect(t.status).toBe(200)
          expect(t.body.nodes.map((n: { _tag: string }) => n._tag)).toEqual([
            "segment",
            "llmCall",
            "toolCall",
            "llmCall",
            "end"
          ])
          const open = await get(`/runs/${ids.waiting}/timeline`)
          expect(open.body.nodes.at(-1)).toMatchObject({
            _tag: "pause",
            status: "waiting_client_tool",
            resumedAt: null
          })
          expect(await get(`/runs/${ids.globex}/timeline`, "acme")).toMatchObject({
            status: 404,
            body: { _tag: "RunNotFound" }
          })
          expect(await get("/runs/nope/timeline")).toMatchObject({ status: 404, body: { _tag: "RunNotFound" } })
          expect(await get(`/runs/${ids.parent}/timeline`, null)).toMatchObject({
            status: 401,
            body: { _tag: "Unauthorized" }
          })
          expect(await get("/run-rows", "nobody")).toMatchObject({ status: 403, body: { _tag: "Forbidden" } })
        })

        it("answers every malformed parameter of the view routes with 400 naming it", async () => {
          const cases: ReadonlyArray<readonly [string, string]> = [
            ["/run-rows?limit=0", "limit"],
            ["/run-rows?limit=x", "limit"],
            ["/run-rows?status=done", "status"],
            ["/run-rows?cursor=nonsense", "cursor"],
            ["/run-rows?search=%00", "search"],
            ["/run-rows?createdAfter=yesterday", "createdAfter"],
            ["/run-rows?metadata=notjson", "metadata"],
            ["/waiting?limit=1001", "limit"],
            ["/waiting?agentName=", "agentName"],
            ["/waiting?tenantId=%00", "tenantId"],
            ["/runs/a%00b/timeline", "runId"]
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
        })

        it("answers a store failure on the view routes with a 500 JSON body", async () => {
          const broken = await openStore(db.url)
          await broken.close()
          const failing = makeReadRouter({ store: broken })
          const started = await host.start(failing, PREFIX)
          try {
            for (const path of ["/run-rows", "/waiting", `/runs/${ids.parent}/timeline`]) {
              const res = await fetch(`${started.base}${path}`)
              expect({ path, status: res.status }).toEqual({ path, status: 500 })
              expect(await res.json()).toMatchObject({ _tag: "InternalError" })
            }
          } finally {
            await started.close()
            await failing.dispose()
          }
        })

        it("serves the API reference at /docs behind authorize, over the same document", async () => {
          expect(await fetch(`${base}/docs`).then((r) => r.status)).toBe(401)
          const refused = await fetch(`${base}/docs`, { headers: { authorization: "Bearer nobody" } })
          expect(refused.status).toBe(403)
          expect(await refused.json()).toMatchObject({ _tag: "Forbidden" })
          const res = await fetch(`${base}/docs`, { headers: { authorization: "Bearer admin" } })
          expect(res.status).toBe(200)
          expect(res.headers.get("content-type")).toContain("text/html")
          const html = await res.text()
          expect(html).toContain("Sextant read API")
          // The page embeds the document: every view route is in it, with the bearer scheme.
          for (const path of ["/run-rows", "/waiting", "/runs/{runId}/timeline"]) expect(html).toContain(`"${path}"`)
          expect(html).toContain("\"bearer\"")
          // No script or font comes from elsewhere.
          expect(html).not.toMatch(/<script[^>]+src=/)
        })
      })
    }
  })
}

describe("extra routes", () => {
  it("serves public GET routes beside the API's, refuses one that is the API's, a throw is a JSON 500", async () => {
    const db = await freshDatabase("sqlite")
    const store = await openStore(db.url)
    for (const path of ["/runs", "/docs", "/runs/{runId}/timeline", "ui"] as const) {
      expect(() => makeReadRouter({ store, routes: [{ path: path as "/x", handle: () => new Response("") }] }))
        .toThrow(/routes\[0\]\.path/)
    }
    const router = makeReadRouter({
      store,
      authorize: bearerAuthorize,
      routes: [
        { path: "/ui/*", handle: (request) => new Response(`ui ${new URL(request.url).pathname}`) },
        {
          path: "/boom",
          handle: () => {
            throw new Error("boom")
          }
        }
      ]
    })
    const handle = toWebHandler(router, { prefix: PREFIX })
    try {
      const ui = await handle(new Request(`http://host${PREFIX}/ui/runs/abc`))
      expect(ui.status).toBe(200)
      expect(await ui.text()).toBe("ui /ui/runs/abc")
      const api = await handle(new Request(`http://host${PREFIX}/runs`))
      expect(api.status).toBe(401)
      const boom = await handle(new Request(`http://host${PREFIX}/boom`))
      expect(boom.status).toBe(500)
      expect(await boom.json()).toMatchObject({ _tag: "InternalError" })
    } finally {
      await router.dispose()
      await store.close()
      await db.drop()
    }
  })
})
