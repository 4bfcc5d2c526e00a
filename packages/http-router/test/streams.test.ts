/**
 * Streams on the SQL record, end to end on SQLite and Postgres: a streamed run whose tool streams thousands of
 * chunks is recorded by the SqlRecorder (one aggregate row per stream, sampled chunks in `stream_chunks`, no
 * chunk in `run_events`), read back through the RunStore and served by the read router.
 */
import { Agent, Ids, ScriptedModel, Tool } from "@sextant/runtime"
import type { RunStoreClient } from "@sextant/store"
import { Effect, Schema, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouter, toWebHandler } from "../src/index.js"
import { freshDatabase, getJson, hosts, openStore, recorderRuntime } from "./support.js"

const PREFIX = "/api/sextant"

/** A tool streaming `count` text chunks (one in a hundred sampled), then one binary frame. */
const frames = (count: number) =>
  Tool.make("frames", {
    description: "Streams frames",
    parameters: Schema.Struct({}),
    stream: { sampleRate: 0.01 },
    handler: (_args, { stream }) => {
      for (let i = 0; i < count; i++) stream.chunk(i === 99 ? "nul \u0000 and 😀" : `frame ${i}`)
      stream.chunk(new Uint8Array(99).fill(7))
      return { sent: count }
    }
  })

const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  { toolCalls: [{ name: "frames", arguments: {} }], usage: { inputTokens: 5, outputTokens: 2 } },
  { text: "all frames sent", usage: { inputTokens: 9, outputTokens: 3 } }
]

/** Streams a run (so the model calls stream too) with a tool sending `count` chunks; returns its id. */
const streamedRun = (count: number) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "frames", instructions: "", tools: [frames(count)] })
    const runId = Ids.make()
    yield* Stream.runDrain(agent.stream("send", { runId }).pipe(Stream.provideSomeLayer(ScriptedModel.layer(script))))
    return runId
  })

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`streams on ${dialect}`, () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>
    let recorder: ReturnType<typeof recorderRuntime>
    let store: RunStoreClient
    let router: ReadRouter
    let big: string
    let small: string

    beforeAll(async () => {
      db = await freshDatabase(dialect)
      recorder = recorderRuntime(db.url)
      big = await recorder.runPromise(streamedRun(2_999))
      small = await recorder.runPromise(streamedRun(9))
      store = await openStore(db.url)
      router = makeReadRouter({ store })
    })
    afterAll(async () => {
      await router?.dispose()
      await store?.close()
      await recorder?.dispose()
      await db?.drop()
    })

    it("one aggregate per stream, the sampled chunks apart, and the event log does not grow with the chunks", async () => {
      const streams = await store.getStreams(big)
      expect(streams.items.map((s) => [s.kind, s.name])).toEqual([
        ["model", "scripted"],
        ["tool", "frames"],
        ["model", "scripted"]
      ])
      const tool = streams.items[1]!
      const textBytes = Array.from({ length: 2_999 }, (_, i) => i === 99 ? 14 : `frame ${i}`.length)
        .reduce((a, b) => a + b, 0)
      expect(tool).toMatchObject({ chunkCount: 3_000, bytes: textBytes + 99, sampledCount: 30, iteration: 1 })
      expect(tool.timeToFirstChunkMs).toBeGreaterThanOrEqual(0)
      const model = streams.items[2]!
      expect(model.chunkCount).toBeGreaterThan(0)
      expect(model.bytes).toBe(Buffer.byteLength("all frames sent"))

      // The same run with 10 chunks instead of 3,000 has exactly as many recorded events: chunks are not events.
      const events = async (id: string) => (await store.getEvents(id, { limit: 1000 })).items
      const [bigEvents, smallEvents] = [await events(big), await events(small)]
      expect(bigEvents.map((e) => e.eventType)).toEqual(smallEvents.map((e) => e.eventType))
      const ended = bigEvents.find((e) => e.eventType === "stream.ended")!
      expect(ended.data).toMatchObject({ chunkCount: 3_000, sampledCount: 30 })
      expect(JSON.stringify(bigEvents)).not.toContain("frame 199")
      // Ordered on the record as the run emitted it: the aggregate just before its call's completion.
      const types = bigEvents.map((e) => e.eventType)
      expect(types.indexOf("stream.ended")).toBe(types.indexOf("tool.completed") - 1)
    })

    it("the sampled chunks read back in order, strings as written (NUL included), bytes as base64, paged", async () => {
      const id = (await store.getStreams(big)).items[1]!.id
      const chunks = await store.getStreamChunks(big, id)
      expect(chunks.items.map((c) => c.sequence)).toEqual(Array.from({ length: 30 }, (_, i) => 100 * i + 99))
      expect(chunks.items[0]).toMatchObject({ encoding: "json", data: "nul \u0000 and 😀", bytes: 14 })
      expect(chunks.items[1]!.data).toBe("frame 199")
      expect(chunks.items[29]).toMatchObject({ sequence: 2_999, encoding: "base64", bytes: 99 })
      expect(Buffer.from(chunks.items[29]!.data as string, "base64")).toEqual(Buffer.alloc(99, 7))
      const page = await store.getStreamChunks(big, id, { after: 199, limit: 2 })
      expect(page.items.map((c) => c.sequence)).toEqual([299, 399])
      // A model stream keeps no chunks; another run's stream id gives nothing; a bad page size is refused.
      expect((await store.getStreamChunks(big, (await store.getStreams(big)).items[0]!.id)).items).toEqual([])
      expect((await store.getStreamChunks(small, id)).items).toEqual([])
      await expect(store.getStreamChunks(big, id, { limit: 0 })).rejects.toMatchObject({ _tag: "InvalidQuery" })
      await expect(store.getStreams("no-such-run")).rejects.toMatchObject({ _tag: "RunNotFound" })
    })

    it("the router serves a run's streams and chunks, with 404 and 400 for a missing run and a bad page", async () => {
      const host = hosts[0]!
      const { base, close } = await host.start(router, PREFIX)
      try {
        const get = (path: string) => getJson(base, path, null)
        const streams = await get(`/runs/${big}/streams`)
        expect(streams.status).toBe(200)
        expect(streams.body).toEqual(JSON.parse(JSON.stringify(await store.getStreams(big))))
        const id = streams.body.items[1].id
        const chunks = await get(`/runs/${big}/streams/${id}/chunks?after=2899`)
        expect(chunks.body.items.map((c: { sequence: number }) => c.sequence)).toEqual([2_999])
        expect((await get(`/runs/${big}/streams?iteration=2`)).body.items.map((s: { kind: string }) => s.kind))
          .toEqual(["model"])
        expect((await get(`/runs/nope/streams`)).status).toBe(404)
        expect((await get(`/runs/${big}/streams/${id}/chunks?limit=5000`)).status).toBe(400)
      } finally {
        await close()
      }
      // The Web handler serves the same route.
      const web = toWebHandler(router, { prefix: PREFIX })
      const res = await web(new Request(`http://x${PREFIX}/runs/${small}/streams`))
      expect(((await res.json()) as any).items[1]).toMatchObject({ kind: "tool", chunkCount: 10, sampledCount: 0 })
    })
  })
}
