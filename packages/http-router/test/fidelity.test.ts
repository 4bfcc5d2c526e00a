/**
 * What was recorded is what HTTP serves: a NUL, lone surrogates and U+0010 in a run's input, the model's
 * text, tool arguments and results come back exactly in the JSON of every route and in the NDJSON export, on
 * both dialects, through the Node handler (which writes in-memory bodies itself) and the Web handler; and
 * costs summed in nano-dollars are the same number on both.
 */
import { Agent, Ids, ScriptedModel, Tool } from "@sextant/runtime"
import type { RunStoreClient } from "@sextant/store"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouter, toWebHandler } from "../src/index.js"
import { freshDatabase, hosts, openStore, recorderRuntime } from "./support.js"

const NASTY = "a\u0000b \ud800 c\udc00 d\u0010e \u00100 \u0010xd800 😀 end\ud83d"

const echo = Tool.make("echo", {
  description: "Returns its text",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => ({ echoed: text })
})

const steps: ReadonlyArray<ScriptedModel.ScriptStep> = [
  ...Array.from({ length: 9 }, (): ScriptedModel.ScriptStep => ({
    toolCalls: [{ name: "echo", arguments: { text: NASTY } }],
    usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.1 }
  })),
  { text: NASTY, usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.1 } }
]

const strings = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : Array.isArray(value)
    ? value.flatMap(strings)
    : value !== null && typeof value === "object"
    ? Object.values(value).flatMap(strings)
    : []

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`the router serves recorded strings and costs exactly on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let store: RunStoreClient
    let router: ReadRouter
    let runId: string

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      const recorder = recorderRuntime(db.url)
      try {
        runId = Ids.make()
        await recorder.runPromise(
          Effect.gen(function*() {
            const agent = yield* Agent.make({ name: "escapes", instructions: "Echo.", tools: [echo] })
            return yield* agent.run(NASTY, { runId, tenantId: "acme" })
          }).pipe(Effect.provide(ScriptedModel.layer(steps)))
        )
      } finally {
        await recorder.dispose()
      }
      store = await openStore(db.url)
      router = makeReadRouter({ store })
    })
    afterAll(async () => {
      await router?.dispose()
      await store?.close()
      await db?.drop()
    })

    const adapters: ReadonlyArray<readonly [string, (path: string) => Promise<Response>]> = [
      ["node", async (path) => {
        const server = await hosts[0]!.start(router, "/api")
        try {
          const res = await fetch(`${server.base}${path}`)
          return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers })
        } finally {
          await server.close()
        }
      }],
      ["web", (path) => toWebHandler(router, { prefix: "/api" })(new Request(`http://local/api${path}`))]
    ]

    for (const [name, fetchPath] of adapters) {
      it(`${name}: the run, its messages, tool calls, model calls, events and export hold the strings exactly`, async () => {
        const json = async (path: string) => {
          const res = await fetchPath(path)
          expect(res.status, path).toBe(200)
          return res.json() as Promise<any>
        }
        const run = await json(`/runs/${runId}`)
        expect([run.input, run.answer]).toEqual([NASTY, NASTY])
        expect(run.totals.costUsd).toBe(1)
        const traces = (await json(`/runs/${runId}/traces`)).items
        expect(traces[0].content).toBe(NASTY)
        const tools = (await json(`/runs/${runId}/tool-calls`)).items
        expect(tools).toHaveLength(9)
        for (const t of tools) expect([t.params, t.result]).toEqual([{ text: NASTY }, { echoed: NASTY }])
        expect(strings((await json(`/runs/${runId}/llm-calls`)).items)).toContain(NASTY)
        const events = (await json(`/runs/${runId}/events?limit=1000`)).items
        expect(strings(events.map((e: { data: unknown }) => e.data))).toContain(NASTY)
        const [usage] = (await json("/usage?groupBy=tenant")).items
        expect(usage).toMatchObject({ tenantId: "acme", costUsd: 1, modelCallCount: 10 })
        expect((await json("/runs")).items[0].totals.costUsd).toBe(1)
        const exported = (await (await fetchPath("/export")).text()).trim().split("\n").map((l) => JSON.parse(l))
        expect(exported).toHaveLength(1)
        expect(exported[0].run).toEqual(run)
        expect(exported[0].toolCalls).toEqual(tools)
        expect(exported[0].events).toEqual(events)
      })
    }
  })
}
