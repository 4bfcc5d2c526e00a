/**
 * Failure signals through the RunStore and the read router: signals raised by the real detectors
 * (`Detectors.layer`) over runs recorded by the agent loop (scripted model, SqlRecorder), read back from
 * `failure_signals` on both dialects with filters, shadow modes, keyset pages, 400s and 404s.
 */
import { SqlClient } from "@effect/sql"
import { Detectors, Explain, Signal, Signals } from "@sextant/detectors"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Notifiers, ScriptedModel, Tool } from "@sextant/runtime"
import { type Records, type RunStoreClient } from "@sextant/store"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouter } from "../src/index.js"
import { bearerAuthorize, freshDatabase, getJson, hosts, openStore } from "./support.js"

const searchTool = Tool.make("search", {
  description: "Searches",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => ({ hits: [q] })
})
const payTool = Tool.make("pay", {
  description: "Pays",
  parameters: Schema.Struct({ amount: Schema.Number }),
  handler: () => Effect.fail("card declined")
})

/** Scripted turns: `n` calls of one tool, then an answer. */
const loop = (tool: string, n: number, args: object): ReadonlyArray<ScriptedModel.ScriptStep> => [
  ...Array.from({ length: n }, () => ({
    toolCalls: [{ name: tool, arguments: args as never }],
    usage: { inputTokens: 100, outputTokens: 5, costUsd: 0.001 }
  })),
  { text: "done", usage: { inputTokens: 100, outputTokens: 5, costUsd: 0.001 } }
]

/** The recorder with the detectors beside it (TOOL_LOOP and RETRY_STORM live, every other type in shadow). */
const detection = (url: string) =>
  ManagedRuntime.make(
    Layer.mergeAll(Detectors.layer({ live: ["TOOL_LOOP", "RETRY_STORM"] }), Signals.layer).pipe(
      Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
      Layer.orDie
    )
  )

/** Runs an agent with the detectors' notifier; resolves once the evaluation it triggered has finished. */
const runAgent = (name: string, script: ReadonlyArray<ScriptedModel.ScriptStep>, tenantId: string) =>
  Effect.gen(function*() {
    const detectors = yield* Detectors
    const agent = yield* Agent.make({ name, instructions: "", tools: [searchTool, payTool] })
    const result = yield* agent.run("find it", { tenantId }).pipe(
      Effect.provide(Layer.merge(ScriptedModel.layer(script), Notifiers.layer([detectors.notifier])))
    )
    yield* detectors.idle
    return result.runId
  })

const types = (items: ReadonlyArray<Records.SignalRecord>) => items.map((s) => s.type)
const withoutLabelledAt = (items: ReadonlyArray<Records.SignalRecord>) =>
  items.map(({ explanation: _e, labelledAt: _, ...rest }) => rest)
const failure = (p: Promise<unknown>) => p.then(() => "resolved", (e: unknown) => e)

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`failure signals in the store and the router on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let runtime: ReturnType<typeof detection>
    let store: RunStoreClient
    let router: ReadRouter
    let looper: string
    let payer: string
    let clean: string
    const detected = new Map<string, ReadonlyArray<Signal.Signal>>()

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      runtime = detection(db.url)
      looper = await runtime.runPromise(runAgent("looper", loop("search", 5, { q: "same" }), "acme"))
      payer = await runtime.runPromise(runAgent("payer", loop("pay", 3, { amount: 5 }), "globex"))
      clean = await runtime.runPromise(runAgent("clean", loop("search", 1, { q: "once" }), "acme"))
      for (const id of [looper, payer, clean]) {
        const stored = await runtime.runPromise(Effect.flatMap(Signals, (s) => s.forRun(id)))
        detected.set(id, stored.map((s) => s.signal))
      }
      store = await openStore(db.url)
      router = makeReadRouter({ store, authorize: bearerAuthorize })
    })
    afterAll(async () => {
      await router?.dispose()
      await store?.close()
      await runtime?.dispose()
      await db?.drop()
    })

    it("getRunSignals: a run that loops on one tool shows TOOL_LOOP, as the detectors stored it, explained", async () => {
      const live = await store.getRunSignals(looper)
      expect(types(live.items)).toEqual(["TOOL_LOOP"])
      const loopSignal = live.items[0]!
      expect(loopSignal).toMatchObject({
        runId: looper,
        tenantId: "acme",
        agentName: "looper",
        severity: "HIGH",
        confidence: 0.95,
        shadow: false,
        label: null,
        labelledAt: null,
        evidence: { tool: "search", count: 5, distinctArguments: 1 }
      })
      expect(loopSignal.detectedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      // The record carries its explanation inline: the detectors' own words for their signal.
      expect(loopSignal.explanation).toEqual(
        Explain.explain(detected.get(looper)!.find((s) => s.type === "TOOL_LOOP")!)
      )
      expect(loopSignal.explanation.title).toBe("Tool loop")
      expect(loopSignal.explanation.what).toMatch(/called 'search' 5 times/)
      expect(loopSignal.explanation.whyItMatters).toMatch(/cost \$0\.00[45]/)
      expect(loopSignal.explanation.fixes.length).toBeGreaterThanOrEqual(1)
      for (const s of (await store.listSignals({ shadow: "include" })).items) {
        expect(s.explanation.title, s.type).not.toMatch(/^Signal /)
      }
      // Every signal of every run, shadow included, equals what the detectors read back themselves.
      for (const id of [looper, payer, clean]) {
        const all = await store.getRunSignals(id, { shadow: "include" })
        expect(withoutLabelledAt(all.items)).toEqual(detected.get(id))
        const only = await store.getRunSignals(id, { shadow: "only" })
        expect(only.items.map((s) => s.id)).toEqual(all.items.filter((s) => s.shadow).map((s) => s.id))
      }
      const payerLive = await store.getRunSignals(payer)
      expect(types(payerLive.items)).toEqual(["RETRY_STORM"])
      expect(payerLive.items[0]!.evidence).toEqual({
        tool: "pay",
        attempts: 3,
        identicalArguments: true,
        identicalErrors: true
      })
      expect(types((await store.getRunSignals(payer, { shadow: "only" })).items)).toContain("FIRST_STEP_FAILURE")
    })

    it("getRunSignals: an unknown run, another tenant's run and a bad argument fail by name", async () => {
      expect(await failure(store.getRunSignals("no-such-run"))).toMatchObject({
        _tag: "RunNotFound",
        runId: "no-such-run"
      })
      expect(await failure(store.getRunSignals(looper, { scope: { tenantId: "globex" } }))).toMatchObject({
        _tag: "RunNotFound"
      })
      expect(await failure(store.getRunSignals("a\u0000b"))).toMatchObject({ _tag: "InvalidQuery", field: "runId" })
      expect(await failure(store.getRunSignals(looper, { shadow: "yes" as never }))).toMatchObject({
        _tag: "InvalidQuery",
        field: "shadow"
      })
    })

    it("listSignals: live only by default, newest first, each filter narrows, the scope hides other tenants", async () => {
      const all = await store.listSignals({ shadow: "include" })
      const everything = [...detected.values()].flat()
      expect(all.items.map((s) => s.id).sort()).toEqual(everything.map((s) => s.id).sort())
      expect(all.nextCursor).toBeNull()
      const order = all.items.map((s) => [s.detectedAt, s.id] as const)
      expect(order).toEqual(
        [...order].sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? 1 : -1) : a[0] < b[0] ? 1 : -1))
      )
      const live = await store.listSignals()
      expect(types(live.items).sort()).toEqual(["RETRY_STORM", "TOOL_LOOP"])
      expect(live.items.every((s) => !s.shadow)).toBe(true)
      expect((await store.listSignals({ shadow: "only" })).items.every((s) => s.shadow)).toBe(true)
      expect(types((await store.listSignals({ agentName: "looper" })).items)).toEqual(["TOOL_LOOP"])
      expect((await store.listSignals({ type: "RETRY_STORM" })).items.map((s) => s.runId)).toEqual([payer])
      const high = await store.listSignals({ severity: "HIGH", shadow: "include" })
      expect(high.items.map((s) => s.id)).toEqual(all.items.filter((s) => s.severity === "HIGH").map((s) => s.id))
      expect(high.items.map((s) => s.type)).toContain("TOOL_LOOP")
      const acme = await store.listSignals({ tenantId: "acme", shadow: "include" })
      expect(new Set(acme.items.map((s) => s.runId))).toEqual(
        new Set(everything.filter((s) => s.tenantId === "acme").map((s) => s.runId))
      )
      const globex = await store.listSignals({ scope: { tenantId: "globex" }, shadow: "include" })
      expect(globex.items.length).toBeGreaterThan(0)
      expect(globex.items.every((s) => s.runId === payer)).toBe(true)
      const newest = all.items[0]!.detectedAt
      const oldest = all.items[all.items.length - 1]!.detectedAt
      expect((await store.listSignals({ since: "9999-01-01T00:00:00Z", shadow: "include" })).items).toEqual([])
      expect((await store.listSignals({ until: "2000-01-01T00:00:00Z", shadow: "include" })).items).toEqual([])
      expect((await store.listSignals({ since: oldest, until: new Date(Date.parse(newest) + 1), shadow: "include" }))
        .items.map((s) => s.id)).toEqual(all.items.map((s) => s.id))
      expect((await store.listSignals({ since: newest, shadow: "include" })).items.map((s) => s.id)).toEqual(
        all.items.filter((s) => s.detectedAt === newest).map((s) => s.id)
      )
    })

    it("listSignals: keyset pages visit every signal once, in order", async () => {
      const all = await store.listSignals({ shadow: "include" })
      const seen: Array<string> = []
      let cursor: string | undefined
      for (let page = 0; page < 100; page++) {
        const next = await store.listSignals({ shadow: "include", limit: 1, ...(cursor ? { cursor } : {}) })
        seen.push(...next.items.map((s) => s.id))
        if (next.nextCursor === null) break
        cursor = next.nextCursor
      }
      expect(seen).toEqual(all.items.map((s) => s.id))
    })

    it("listSignals: a bad filter is InvalidQuery naming it", async () => {
      const bad: Array<[Parameters<RunStoreClient["listSignals"]>[0], string]> = [
        [{ type: "NOT_A_TYPE" as never }, "type"],
        [{ severity: "high" as never }, "severity"],
        [{ since: "yesterday" }, "since"],
        [{ until: "2026-13-01T00:00:00Z" }, "until"],
        [{ shadow: true as never }, "shadow"],
        [{ agentName: "" }, "agentName"],
        [{ tenantId: "a\u0000" }, "tenantId"],
        [{ limit: 0 }, "limit"],
        [{ cursor: "not a cursor" }, "cursor"]
      ]
      for (const [options, field] of bad) {
        expect({ field, e: await failure(store.listSignals(options)) }).toMatchObject({
          field,
          e: { _tag: "InvalidQuery", field }
        })
      }
      const type = await failure(store.listSignals({ type: "NOT_A_TYPE" as never }))
      expect((type as Error).message).toContain("TOOL_LOOP")
    })

    const host = hosts[0]!
    describe(host.name, () => {
      let base: string
      let close: () => Promise<void>
      beforeAll(async () => {
        ;({ base, close } = await host.start(router, "/api"))
      })
      afterAll(() => close())
      const get = (path: string, token = "admin") => getJson(base, path, token)

      it("GET /runs/{runId}/signals serves the run's signals; unknown or foreign runs are 404", async () => {
        const live = await get(`/runs/${looper}/signals`)
        expect(live.status).toBe(200)
        expect(live.body).toEqual(await store.getRunSignals(looper))
        expect(live.body.items[0].explanation).toMatchObject({ title: "Tool loop", fixes: expect.any(Array) })
        expect(live.body.items.map((s: { type: string }) => s.type)).toEqual(["TOOL_LOOP"])
        expect((await get(`/runs/${payer}/signals?shadow=include`)).body).toEqual(
          await store.getRunSignals(payer, { shadow: "include" })
        )
        expect((await get(`/runs/${looper}/signals`, "acme")).status).toBe(200)
        expect(await get(`/runs/${looper}/signals`, "globex")).toMatchObject({
          status: 404,
          body: { _tag: "RunNotFound" }
        })
        expect(await get("/runs/no-such-run/signals")).toMatchObject({ status: 404, body: { _tag: "RunNotFound" } })
        expect(await get(`/runs/${looper}/signals?shadow=yes`)).toMatchObject({
          status: 400,
          body: { _tag: "InvalidParameter", parameter: "shadow" }
        })
        expect(await get("/runs/a%00b/signals")).toMatchObject({ status: 400, body: { parameter: "runId" } })
      })

      it("GET /signals lists with filters and pages, scoped to the principal's tenant", async () => {
        const live = await get("/signals")
        expect(live.status).toBe(200)
        expect(live.body).toEqual(await store.listSignals())
        expect(live.body.items.map((s: Records.SignalRecord) => s.explanation.title).sort()).toEqual([
          "Retry storm",
          "Tool loop"
        ])
        expect((await get("/signals?agentName=looper")).body.items.map((s: { type: string }) => s.type)).toEqual([
          "TOOL_LOOP"
        ])
        expect((await get("/signals?type=RETRY_STORM")).body.items.map((s: { runId: string }) => s.runId)).toEqual([
          payer
        ])
        expect((await get("/signals?severity=HIGH&shadow=include")).body).toEqual(
          await store.listSignals({ severity: "HIGH", shadow: "include" })
        )
        expect((await get("/signals?since=9999-01-01T00:00:00Z")).body.items).toEqual([])
        const globex = await get("/signals?shadow=include", "globex")
        expect(globex.body.items.every((s: { runId: string }) => s.runId === payer)).toBe(true)
        expect((await get("/signals?tenantId=acme", "globex")).body.items).toEqual([])
        const first = await get("/signals?shadow=include&limit=1")
        expect(first.body.nextCursor).toEqual(expect.any(String))
        const second = await get(`/signals?shadow=include&limit=1&cursor=${first.body.nextCursor}`)
        const all = await store.listSignals({ shadow: "include" })
        expect([first.body.items[0].id, second.body.items[0].id]).toEqual(all.items.slice(0, 2).map((s) => s.id))
      })

      it("the OpenAPI document lists both routes, the catalogue's types and the shadow modes", async () => {
        const doc = (await get("/openapi.json")).body
        const param = (path: string, name: string) =>
          doc.paths[path].get.parameters.find((p: { name: string }) => p.name === name)
        expect(param("/signals", "type").schema.enum).toEqual([...Signal.signalTypes])
        expect(param("/signals", "severity").schema.enum).toEqual(["LOW", "MEDIUM", "HIGH", "CRITICAL"])
        expect(param("/signals", "shadow").schema.enum).toEqual(["exclude", "include", "only"])
        expect(param("/runs/{runId}/signals", "shadow").schema.enum).toEqual(["exclude", "include", "only"])
        expect(doc.paths["/runs/{runId}/signals"].get.responses["404"].content["application/json"].schema).toEqual({
          $ref: "#/components/schemas/RunNotFound"
        })
        expect(doc.paths["/signals"].get.responses["200"].content["application/json"].schema).toEqual({
          $ref: "#/components/schemas/SignalPage"
        })
      })

      it("GET /signals with a bad parameter is a 400 naming it", async () => {
        for (
          const [query, parameter] of [
            ["type=NOT_A_TYPE", "type"],
            ["severity=high", "severity"],
            ["since=yesterday", "since"],
            ["until=2026-02-30", "until"],
            ["shadow=yes", "shadow"],
            ["limit=0", "limit"],
            ["limit=abc", "limit"],
            ["cursor=x!", "cursor"],
            ["agentName=%00", "agentName"]
          ] as const
        ) {
          expect({ query, r: await get(`/signals?${query}`) }).toMatchObject({
            query,
            r: { status: 400, body: { _tag: "InvalidParameter", parameter } }
          })
        }
      })
    })
  })
}

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`failure signals when the database fails on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let recorder: ReturnType<typeof detection>
    let store: RunStoreClient
    let router: ReadRouter
    let runId: string

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      recorder = detection(db.url)
      runId = await recorder.runPromise(runAgent("looper", loop("search", 5, { q: "same" }), "acme"))
      store = await openStore(db.url)
      router = makeReadRouter({ store })
    })
    afterAll(async () => {
      await router?.dispose()
      await store?.close()
      await recorder?.dispose()
      await db?.drop()
    })

    it("a read that fails in the database is StoreError in the store and a 500 without the cause over HTTP", async () => {
      expect((await store.getRunSignals(runId)).items.map((s) => s.type)).toEqual(["TOOL_LOOP"])
      await recorder.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP TABLE failure_signals`))
      expect(await failure(store.listSignals())).toMatchObject({ _tag: "StoreError" })
      expect(await failure(store.getRunSignals(runId))).toMatchObject({ _tag: "StoreError" })
      const { base, close } = await hosts[0]!.start(router, "/api")
      try {
        for (const path of ["/signals", `/runs/${runId}/signals`]) {
          const res = await fetch(base + path)
          const body = await res.json() as Record<string, unknown>
          expect({ path, status: res.status, body }).toEqual({
            path,
            status: 500,
            body: { _tag: "InternalError", message: "The run store failed; the cause is in the server log." }
          })
        }
        // An unknown run is still a 404: the run is looked up before its signals.
        expect((await fetch(`${base}/runs/no-such-run/signals`)).status).toBe(404)
      } finally {
        await close()
      }
    })
  })
}
