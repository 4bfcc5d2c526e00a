import { Agent, ScriptedModel } from "@sextant/runtime"
import { type RunStoreClient, ThreadNotFound } from "@sextant/store"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouter } from "../src/index.js"
import { bearerAuthorize, freshDatabase, getJson, hosts, openStore, recorderRuntime } from "./support.js"

const PREFIX = "/api/sextant"

/** A turn of a conversation on `threadId`, recorded by the ambient recorder. */
const turn = (input: string, answer: string, options: Agent.RunOptions) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "chat", instructions: "" })
    return yield* agent.run(input, options).pipe(
      Effect.provide(
        ScriptedModel.layer([{ text: answer, usage: { inputTokens: 10, outputTokens: 2, costUsd: 0.001 } }])
      )
    )
  })

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`threads in the store and the router on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let recorder: ReturnType<typeof recorderRuntime>
    let store: RunStoreClient
    let router: ReadRouter
    const runs: Array<string> = []

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      recorder = recorderRuntime(db.url)
      for (const [input, answer] of [["Hi, I am Ada.", "Hello Ada."], ["Who am I?", "Ada."], ["Bye.", "Bye!"]]) {
        runs.push((await recorder.runPromise(turn(input!, answer!, { threadId: "conv", tenantId: "acme" }))).runId)
      }
      await recorder.runPromise(turn("other", "x", { tenantId: "acme" }))
      await recorder.runPromise(turn("hola", "hola", { threadId: "conv-globex", tenantId: "globex" }))
      store = await openStore(db.url)
      router = makeReadRouter({ store, authorize: bearerAuthorize })
    })
    afterAll(async () => {
      await router?.dispose()
      await store?.close()
      await recorder?.dispose()
      await db?.drop()
    })

    it("getThread: its runs oldest first, every message in order with its run, its totals", async () => {
      const thread = await store.getThread("conv")
      expect(thread).toMatchObject({
        threadId: "conv",
        tenantId: "acme",
        runCount: 3,
        totals: { inputTokens: 30, outputTokens: 6 }
      })
      expect(thread.totals.costUsd).toBeCloseTo(0.003, 9)
      expect(thread.runs.map((r) => r.id)).toEqual(runs)
      expect(thread.runs.every((r) => r.threadId === "conv")).toBe(true)
      expect(thread.messages.map((m) => [m.runId, m.role, m.content])).toEqual([
        [runs[0], "user", "Hi, I am Ada."],
        [runs[0], "assistant", "Hello Ada."],
        [runs[1], "user", "Who am I?"],
        [runs[1], "assistant", "Ada."],
        [runs[2], "user", "Bye."],
        [runs[2], "assistant", "Bye!"]
      ])
      expect(thread.lastActivityAt).toBe(thread.runs[2]!.updatedAt)
    })

    it("listRuns({ threadId }) lists the thread's runs; a scope hides another tenant's thread", async () => {
      const page = await store.listRuns({ threadId: "conv" })
      expect(page.total).toBe(3)
      expect(page.items.map((r) => r.id).sort()).toEqual([...runs].sort())
      expect((await store.listRuns({ threadId: "conv", scope: { tenantId: "globex" } })).total).toBe(0)
      const hidden = await store.getThread("conv", { scope: { tenantId: "globex" } }).catch((e: unknown) => e)
      expect(hidden).toBeInstanceOf(ThreadNotFound)
      expect(hidden).toMatchObject({ threadId: "conv", message: "Thread 'conv' not found." })
      expect(await store.getThread("nope").catch((e: unknown) => e)).toBeInstanceOf(ThreadNotFound)
      expect(await store.getThread("a\u0000b").catch((e: unknown) => e)).toMatchObject({
        _tag: "InvalidQuery",
        field: "threadId"
      })
    })

    it("listThreads: latest activity first, tenant-scoped, keyset pages, with run count and totals", async () => {
      const all = await store.listThreads()
      expect(all.items.map((t) => [t.threadId, t.tenantId, t.runCount])).toEqual([
        ["conv-globex", "globex", 1],
        ["conv", "acme", 3]
      ])
      expect(all.items[1]!.totals).toMatchObject({ inputTokens: 30, outputTokens: 6 })
      expect(all.items[1]!.totals.costUsd).toBeCloseTo(0.003, 9)
      expect(all.nextCursor).toBeNull()
      const first = await store.listThreads({ limit: 1 })
      expect(first.items.map((t) => t.threadId)).toEqual(["conv-globex"])
      const second = await store.listThreads({ limit: 1, cursor: first.nextCursor! })
      expect(second).toMatchObject({ items: [{ threadId: "conv" }], nextCursor: null })
      expect((await store.listThreads({ scope: { tenantId: "acme" } })).items.map((t) => t.threadId)).toEqual(["conv"])
      expect((await store.listThreads({ tenantId: "globex" })).items.map((t) => t.threadId)).toEqual(["conv-globex"])
      expect(await store.listThreads({ limit: 0 }).catch((e: unknown) => e)).toMatchObject({
        _tag: "InvalidQuery",
        field: "limit"
      })
    })

    for (const host of hosts.slice(0, 2)) {
      describe(host.name, () => {
        let base: string
        let close: () => Promise<void>
        beforeAll(async () => {
          ;({ base, close } = await host.start(router, PREFIX))
        })
        afterAll(() => close())
        const get = (path: string, token = "admin") => getJson(base, path, token)

        it("GET /threads/:id serves the thread; another tenant's thread and an unknown one are 404 JSON", async () => {
          const ok = await get("/threads/conv", "acme")
          expect(ok.status).toBe(200)
          expect(ok.body.runs.map((r: { id: string }) => r.id)).toEqual(runs)
          expect(ok.body.messages).toHaveLength(6)
          expect(await get("/threads/conv", "globex")).toMatchObject({ status: 404, body: { _tag: "ThreadNotFound" } })
          expect(await get("/threads/none")).toMatchObject({ status: 404, body: { _tag: "ThreadNotFound" } })
          expect((await get("/threads/conv-globex", "globex")).body.runCount).toBe(1)
        })

        it("GET /threads lists the principal's tenant's threads; bad parameters are 400 naming them", async () => {
          const acme = await get("/threads", "acme")
          expect(acme.status).toBe(200)
          expect(acme.body.items.map((t: { threadId: string }) => t.threadId)).toEqual(["conv"])
          expect((await get("/threads")).body.items).toHaveLength(2)
          const page = await get("/threads?limit=1")
          expect((await get(`/threads?limit=1&cursor=${page.body.nextCursor}`)).body.items[0].threadId).toBe("conv")
          expect(await get("/threads?limit=0")).toMatchObject({ status: 400, body: { parameter: "limit" } })
          expect(await get("/threads?cursor=x")).toMatchObject({ status: 400, body: { parameter: "cursor" } })
          expect(await get("/threads?tenantId=%00")).toMatchObject({ status: 400, body: { parameter: "tenantId" } })
        })

        it("a bad thread id is a 400 naming the parameter; /runs?threadId= filters", async () => {
          expect(await get("/threads/a%00b")).toMatchObject({
            status: 400,
            body: { _tag: "InvalidParameter", parameter: "threadId" }
          })
          expect(await get("/runs?threadId=%00")).toMatchObject({
            status: 400,
            body: { _tag: "InvalidParameter", parameter: "threadId" }
          })
          const listed = await get("/runs?threadId=conv", "acme")
          expect(listed.body.total).toBe(3)
          expect((await get("/runs?threadId=conv", "globex")).body.total).toBe(0)
        })
      })
    }
  })
}
