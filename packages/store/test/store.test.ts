import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Stream } from "effect"
import { type ListRunsOptions, type Records, RunStore } from "../src/index.js"
import { dialects, runAgent, seededLayer, SeededRuns, toolThenAnswer } from "./support.js"

const ids = (items: ReadonlyArray<{ readonly id: string }>) => items.map((r) => r.id)

for (const dialect of dialects) {
  describe(`RunStore on ${dialect.name}`, () => {
    layer(seededLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("listRuns returns every run newest first with the total", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const seeded = yield* SeededRuns
          const page = yield* store.listRuns()
          expect(ids(page.items)).toEqual([...seeded.all].reverse())
          expect(page.total).toBe(seeded.all.length)
          expect(page.nextCursor).toBeNull()
          for (const r of page.items) expect(r.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
          const sorted = [...page.items].sort((a, b) =>
            a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1
          )
          expect(ids(sorted)).toEqual(ids(page.items))
        }))

      it.effect("listRuns filters by status, agent, tenant, parent, time, metadata and text", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const list = (o: ListRunsOptions) => Effect.map(store.listRuns(o), (p) => new Set(ids(p.items)))
          expect(yield* list({ status: "error" })).toEqual(new Set([s.failed]))
          expect((yield* list({ status: ["error", "success"] })).size).toBe(s.all.length)
          expect(yield* list({ status: [] })).toEqual(new Set())
          expect(yield* list({ agentName: "weather" })).toEqual(new Set([s.weather1, s.weather2, s.untenanted]))
          expect(yield* list({ tenantId: "globex" })).toEqual(new Set([s.failed]))
          expect(yield* list({ parentRunId: s.parent })).toEqual(new Set([s.child1, s.child2]))
          expect(yield* list({ metadata: { team: "red" } })).toEqual(new Set([s.weather1, s.failed]))
          expect(yield* list({ metadata: { team: "red", tier: 1, beta: true } })).toEqual(new Set([s.weather1]))
          expect(yield* list({ metadata: { tier: "1" } })).toEqual(new Set())
          expect(yield* list({ search: "WEATH" })).toEqual(new Set([s.weather1, s.weather2, s.untenanted]))
          expect(yield* list({ search: s.paused.slice(4, 20).toLowerCase() })).toEqual(new Set([s.paused]))
          expect(yield* list({ search: "%" })).toEqual(new Set())
          const all = (yield* store.listRuns()).items
          const pivot = all.find((r) => r.id === s.paused)!
          const after = yield* list({ createdAfter: pivot.createdAt })
          const before = yield* list({ createdBefore: pivot.createdAt })
          expect(after.has(s.paused) && !before.has(s.paused)).toBe(true)
          expect(after.size + before.size).toBe(s.all.length)
          // An offset other than Z means the same instant.
          const shifted = new Date(Date.parse(pivot.createdAt)).toISOString().replace("Z", "+00:00")
          expect(yield* list({ createdAfter: shifted })).toEqual(after)
          const counted = yield* store.listRuns({ tenantId: "acme", status: "success", limit: 2 })
          expect(counted.items.length).toBe(2)
          expect(counted.total).toBe(7)
        }))

      it.effect("listRuns rejects bad arguments naming the field", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const field = (o: ListRunsOptions) =>
            Effect.map(Effect.flip(store.listRuns(o)), (e) => (e._tag === "InvalidQuery" ? e.field : e._tag))
          expect(yield* field({ limit: 0 })).toBe("limit")
          expect(yield* field({ limit: 1001 })).toBe("limit")
          expect(yield* field({ limit: 1.5 })).toBe("limit")
          expect(yield* field({ cursor: "garbage!" })).toBe("cursor")
          expect(yield* field({ cursor: Buffer.from("[1,2]").toString("base64url") })).toBe("cursor")
          expect(yield* field({ status: "done" as never })).toBe("status")
          expect(yield* field({ createdAfter: "2026-01-01T00:00:00" })).toBe("createdAfter")
          expect(yield* field({ createdBefore: "yesterday" })).toBe("createdBefore")
          expect(yield* field({ metadata: { "bad key": 1 } })).toBe("metadata")
          expect(yield* field({ metadata: { nested: { a: 1 } } as never })).toBe("metadata.nested")
          expect(yield* field({ scope: { tenantId: "" } })).toBe("scope.tenantId")
        }))

      it.effect("cursors walk every page without skipping or repeating, even while new runs arrive", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const before = (yield* store.listRuns({ limit: 1000 })).items
          const seen: Array<string> = []
          let page = yield* store.listRuns({ limit: 2 })
          seen.push(...ids(page.items))
          let added = 0
          while (page.nextCursor !== null) {
            if (added < 2) {
              yield* runAgent("latecomer", toolThenAnswer("late"), { tenantId: "initech" })
              added++
            }
            page = yield* store.listRuns({ limit: 2, cursor: page.nextCursor })
            seen.push(...ids(page.items))
          }
          expect(seen).toEqual(ids(before))
          const now = yield* store.listRuns({ agentName: "latecomer" })
          expect(now.total).toBe(2)
        }))

      it.effect("getRun returns the detail, never the pause state, and RunNotFound for unknown ids", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const run = yield* store.getRun(s.weather1)
          expect(run).toMatchObject({
            id: s.weather1,
            agentName: "weather",
            status: "success",
            tenantId: "acme",
            input: "What's the weather in Lisbon?",
            instructions: "You are weather.",
            answer: "21 and sunny",
            error: null,
            failureReason: null,
            parentRunId: null,
            retryOfRunId: null,
            metadata: { team: "red", tier: 1, beta: true },
            model: "weather-model",
            iterationCount: 2,
            cancelRequested: false,
            totals: {
              inputTokens: 130,
              outputTokens: 21,
              cacheReadTokens: 30,
              cacheWriteTokens: 7,
              reasoningTokens: 4,
              costUsd: 0.003,
              modelCallCount: 2,
              unpricedCallCount: 0
            }
          })
          expect(Object.keys(run)).not.toContain("pauseState")
          expect(JSON.stringify(run)).not.toContain("pendingCalls")
          const failed = yield* store.getRun(s.failed)
          expect(failed.status).toBe("error")
          expect(failed.failureReason).toBe("model")
          expect(failed.error?.message).toContain("vendor down")
          const missing = yield* Effect.flip(store.getRun("nope"))
          expect(missing).toMatchObject({ _tag: "RunNotFound", runId: "nope" })
        }))

      it.effect("getEvents pages through events in sequence order", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const all = yield* store.getEvents(s.weather1, { limit: 1000 })
          expect(all.items.map((e) => e.sequenceIndex)).toEqual(all.items.map((_, i) => i))
          expect(all.items[0]!.eventType).toBe("run.started")
          expect(all.items.at(-1)!.eventType).toBe("run.completed")
          expect(all.items[0]!.data).toMatchObject({ agentName: "weather", tenantId: "acme" })
          expect(all.nextAfter).toBe(all.items.length - 1)
          const first = yield* store.getEvents(s.weather1, { limit: 3 })
          const rest = yield* store.getEvents(s.weather1, { after: first.nextAfter!, limit: 1000 })
          expect([...first.items, ...rest.items]).toEqual(all.items)
          const empty = yield* store.getEvents(s.weather1, { after: 10_000 })
          expect(empty).toEqual({ items: [], nextAfter: 10_000 })
          expect((yield* Effect.flip(store.getEvents(s.weather1, { after: -2 })))._tag).toBe("InvalidQuery")
          expect((yield* Effect.flip(store.getEvents("nope")))._tag).toBe("RunNotFound")
        }))

      it.effect("streamEvents of a finished run yields every event and ends after the terminal one", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const all = (yield* store.getEvents(s.weather2, { limit: 1000 })).items
          const streamed = Chunk.toArray(yield* Stream.runCollect(store.streamEvents(s.weather2)))
          expect(streamed).toEqual(all)
          const tail = Chunk.toArray(yield* Stream.runCollect(store.streamEvents(s.weather2, { after: 3 })))
          expect(tail).toEqual(all.slice(4))
          const nothing = Chunk.toArray(
            yield* Stream.runCollect(store.streamEvents(s.weather2, { after: all.length - 1 }))
          )
          expect(nothing).toEqual([])
          expect((yield* Effect.flip(Stream.runCollect(store.streamEvents("nope"))))._tag).toBe("RunNotFound")
        }))

      it.effect("traces, tool calls and model calls, filtered by iteration", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const traces = (yield* store.getTraces(s.weather1)).items
          expect(traces.map((t) => t.role)).toEqual(["user", "assistant", "tool", "assistant"])
          expect(traces.map((t) => t.orderIndex)).toEqual([0, 1, 2, 3])
          expect(traces[2]).toMatchObject({ toolName: "get_weather", isError: false })
          const tools = (yield* store.getToolCalls(s.weather1)).items
          expect(tools).toHaveLength(1)
          expect(tools[0]).toMatchObject({
            toolName: "get_weather",
            target: "server",
            params: { city: "Lisbon" },
            result: { city: "Lisbon", tempC: 21 },
            success: true,
            error: null
          })
          const llm = (yield* store.getLlmCalls(s.weather1)).items
          expect(llm.map((c) => [c.iteration, c.status, c.inputTokens])).toEqual([[1, "completed", 50], [
            2,
            "completed",
            80
          ]])
          expect(llm[0]!.semanticRequest).not.toBeNull()
          expect(llm[1]).toMatchObject({ cacheWriteTokens: 7, costUsd: 0.002, finishReason: "stop" })
          const second = (yield* store.getLlmCalls(s.weather1, { iteration: 2 })).items
          expect(second.map((c) => c.id)).toEqual([llm[1]!.id])
          expect(yield* store.getToolCalls(s.weather1, { iteration: 2 })).toEqual({ items: [] })
          const firstTraces = (yield* store.getTraces(s.weather1, { iteration: 1 })).items
          expect(firstTraces.every((t) => t.iteration === 1)).toBe(true)
          expect(yield* Effect.flip(store.getLlmCalls(s.weather1, { iteration: -1 }))).toMatchObject({
            field: "iteration"
          })
          expect((yield* Effect.flip(store.getTraces("nope")))._tag).toBe("RunNotFound")
        }))

      it.effect("getPauses pairs each pause with its resume and the wait", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const pauses = (yield* store.getPauses(s.paused)).items
          expect(pauses).toHaveLength(1)
          const p = pauses[0]!
          expect(p).toMatchObject({
            status: "waiting_client_tool",
            submission: { kind: "tool_results", results: [{ result: { confirmed: true } }] }
          })
          expect(p.pendingCalls).toMatchObject([{
            name: "confirm_payment",
            target: "client",
            arguments: { amount: 12 }
          }])
          expect(p.resumeSequenceIndex).toBe(p.pauseSequenceIndex + 1)
          expect(p.waitMs).toBe(Date.parse(p.resumedAt!) - Date.parse(p.pausedAt))
          expect(p.waitMs).toBeGreaterThanOrEqual(0)
          expect(yield* store.getPauses(s.weather1)).toEqual({ items: [] })
          expect((yield* store.getRun(s.paused)).status).toBe("success")
        }))

      it.effect("getRunTree returns ancestors, children and subtree totals equal to token_usage sums", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const sql = yield* SqlClient.SqlClient
          const s = yield* SeededRuns
          const tree = yield* store.getRunTree(s.child1)
          expect(ids(tree.ancestors)).toEqual([s.parent])
          expect(tree.children.map((c) => c.run.id)).toEqual([s.grandchild])
          const root = yield* store.getRunTree(s.parent)
          expect(root.ancestors).toEqual([])
          expect(root.children.map((c) => c.run.id)).toEqual([s.child1, s.child2])
          expect(root.children[0]!.children.map((c) => c.run.id)).toEqual([s.grandchild])
          const family = [s.parent, s.child1, s.child2, s.grandchild]
          const usage = yield* sql<Record<string, unknown>>`SELECT * FROM token_usage WHERE agent_run_id IN ${
            sql.in(family)
          }`
          const sum = (k: string) => usage.reduce((a, r) => a + Number(r[k] ?? 0), 0)
          expect(root.subtreeTotals).toMatchObject({
            runCount: 4,
            inputTokens: sum("input_tokens"),
            outputTokens: sum("output_tokens"),
            cacheReadTokens: sum("cache_read_tokens"),
            cacheWriteTokens: sum("cache_write_tokens"),
            reasoningTokens: sum("reasoning_tokens"),
            modelCallCount: usage.length,
            unpricedCallCount: usage.filter((r) => r.cost_usd === null).length
          })
          expect(root.subtreeTotals.costUsd).toBeCloseTo(sum("cost_usd"), 10)
          expect(root.subtreeTotals.unpricedCallCount).toBe(2)
        }))

      it.effect("usage rollups equal sums computed independently from token_usage", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const sql = yield* SqlClient.SqlClient
          const raw = yield* sql<Record<string, unknown>>`SELECT * FROM token_usage`
          const day = (v: unknown) => new Date(v as string).toISOString().slice(0, 10)
          const keyOf = (r: Record<string, unknown>, by: ReadonlyArray<string>) =>
            JSON.stringify(by.map((g) =>
              g === "tenant" ? r.tenant_id : g === "agent" ? r.agent_name : g === "model" ? r.model : day(r.created_at)
            ))
          const groupings: ReadonlyArray<ReadonlyArray<Records.UsageGroupBy>> = [
            [],
            ["tenant"],
            ["agent"],
            ["model"],
            ["day"],
            ["tenant", "agent", "model", "day"]
          ]
          for (const by of groupings) {
            const expected = new Map<
              string,
              { input: number; output: number; cache: number; cost: number; runs: Set<string>; calls: number }
            >()
            for (const r of raw) {
              const k = keyOf(r, by)
              const e = expected.get(k) ?? { input: 0, output: 0, cache: 0, cost: 0, runs: new Set(), calls: 0 }
              e.input += Number(r.input_tokens)
              e.output += Number(r.output_tokens)
              e.cache += Number(r.cache_read_tokens ?? 0) + Number(r.cache_write_tokens ?? 0) +
                Number(r.reasoning_tokens ?? 0)
              e.cost += Number(r.cost_usd ?? 0)
              e.runs.add(String(r.agent_run_id))
              e.calls++
              expected.set(k, e)
            }
            const groups = (yield* store.usage({ groupBy: by })).items
            expect(groups.length).toBe(expected.size)
            for (const g of groups) {
              const k = JSON.stringify(by.map((d) =>
                d === "tenant" ? g.tenantId : d === "agent" ? g.agentName : d === "model" ? g.model : g.day
              ))
              const e = expected.get(k)!
              expect(e, k).toBeDefined()
              expect([
                g.inputTokens,
                g.outputTokens,
                g.cacheReadTokens + g.cacheWriteTokens + g.reasoningTokens,
                g.runCount,
                g.modelCallCount
              ])
                .toEqual([e.input, e.output, e.cache, e.runs.size, e.calls])
              expect(g.costUsd).toBeCloseTo(e.cost, 10)
            }
          }
          const acme = (yield* store.usage({ groupBy: ["tenant"], tenantId: "acme" })).items
          expect(acme.map((g) =>
            g.tenantId
          )).toEqual(["acme"])
          const none = yield* store.usage({ from: "2000-01-01T00:00:00Z", to: "2000-01-02T00:00:00Z" })
          expect(none).toMatchObject({ items: [{ inputTokens: 0, runCount: 0, modelCallCount: 0 }] })
          expect(yield* Effect.flip(store.usage({ groupBy: ["week" as never] }))).toMatchObject({
            field: "groupBy[0]"
          })
          expect(yield* Effect.flip(store.usage({ from: "soon" }))).toMatchObject({ field: "from" })
        }))

      it.effect("exportRuns round-trips: every line parses back to what the per-run queries return", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const lines = Chunk.toArray(yield* Stream.runCollect(store.exportRuns()))
          const total = (yield* store.listRuns()).total
          expect(lines.length).toBe(total)
          for (const line of lines) {
            expect(line.endsWith("\n")).toBe(true)
            const parsed = JSON.parse(line) as Records.ExportedRun
            const id = parsed.run.id
            expect(parsed.run).toEqual(yield* store.getRun(id))
            expect(parsed.events).toEqual((yield* store.getEvents(id, { limit: 1000 })).items)
            expect(parsed.traces).toEqual((yield* store.getTraces(id)).items)
            expect(parsed.toolCalls).toEqual((yield* store.getToolCalls(id)).items)
            expect(parsed.llmCalls).toEqual((yield* store.getLlmCalls(id)).items)
            expect(parsed.usage.length).toBe(parsed.run.totals.modelCallCount)
          }
          const red = Chunk.toArray(yield* Stream.runCollect(store.exportRecords({ metadata: { team: "red" } })))
          expect(red.map((r) => r.run.metadata)).toEqual([{ team: "red" }, { team: "red", tier: 1, beta: true }])
          expect(Either.isLeft(yield* Effect.either(Stream.runCollect(store.exportRecords({ limit: 5 } as never)))))
            .toBe(false)
        }))
    })
  })
}
