/**
 * What was recorded reads back exactly, on both dialects: strings the recorder had to escape (NUL, lone
 * surrogates, its escape character U+0010) in the input, the model's text, tool arguments and results, ids,
 * names and metadata; lookups by such ids and names; and costs, summed in nano-dollars, so that every sum is
 * the same number on SQLite and Postgres (ten calls of $0.1 cost $1, not $0.9999999999999999).
 */
import { describe, expect, layer } from "@effect/vitest"
import type { ScriptedModel } from "@sextant/runtime"
import { Chunk, Effect, Stream } from "effect"
import { type Records, RunStore } from "../src/index.js"
import { dialects, runAgent, storeLayer } from "./support.js"

const NASTY = "a\u0000b \ud800 c\udc00 d\u0010e \u00100 \u0010xd800 \u0010\u0010 😀 end\ud83d"
const DLE = "\u0010"

/** Every string inside a JSON-like value. */
const strings = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : Array.isArray(value)
    ? value.flatMap(strings)
    : value !== null && typeof value === "object"
    ? Object.values(value).flatMap(strings)
    : []

const tenCalls: ReadonlyArray<ScriptedModel.ScriptStep> = [
  ...Array.from({ length: 9 }, (): ScriptedModel.ScriptStep => ({
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.1 }
  })),
  { text: "done", usage: { inputTokens: 1, outputTokens: 1, costUsd: 0.1 } }
]

for (const dialect of dialects) {
  describe(`RunStore reads back exactly what was recorded on ${dialect.name}`, () => {
    layer(storeLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("costs are summed in nano-dollars: ten calls of $0.1 are $1 in every total and rollup", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const { runId } = yield* runAgent("biller", tenCalls, { tenantId: "billing" })
          const { runId: other } = yield* runAgent("biller", tenCalls, { tenantId: "billing" })
          expect((yield* store.getRun(runId)).totals.costUsd).toBe(1)
          expect((yield* store.listRuns({ tenantId: "billing" })).items.map((r) => r.totals.costUsd)).toEqual([1, 1])
          expect((yield* store.getRunTree(runId)).subtreeTotals.costUsd).toBe(1)
          const [total] = (yield* store.usage({ tenantId: "billing" })).items
          expect(total).toMatchObject({ costUsd: 2, modelCallCount: 20, unpricedCallCount: 0, runCount: 2 })
          const byDay = (yield* store.usage({ tenantId: "billing", groupBy: ["tenant", "agent", "day"] })).items
          expect(byDay.map((g) => [g.tenantId, g.agentName, g.costUsd])).toEqual([["billing", "biller", 2]])
          const calls = (yield* store.getLlmCalls(other)).items
          expect(calls.map((c) => c.costUsd)).toEqual(Array(10).fill(0.1))
        }))

      it.effect("NUL, lone surrogates and U+0010 in input, model text, tool arguments and results read back exactly", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const { runId } = yield* runAgent(
            "escapes",
            [
              {
                toolCalls: [{ name: "get_weather", arguments: { city: NASTY } }],
                usage: { inputTokens: 5, outputTokens: 1 }
              },
              { text: NASTY, usage: { inputTokens: 5, outputTokens: 1 } }
            ],
            {},
            NASTY
          )
          const run = yield* store.getRun(runId)
          expect([run.input, run.answer]).toEqual([NASTY, NASTY])
          const traces = (yield* store.getTraces(runId)).items
          expect(traces.filter((t) => t.role === "user").map((t) => t.content)).toEqual([NASTY])
          expect(traces.filter((t) => t.role === "assistant").map((t) => t.content)).toContain(NASTY)
          const [tool] = (yield* store.getToolCalls(runId)).items
          expect(tool).toMatchObject({ params: { city: NASTY }, result: { city: NASTY, tempC: 21 }, success: true })
          const llm = (yield* store.getLlmCalls(runId)).items
          expect(strings(llm)).toContain(NASTY)
          const events = (yield* store.getEvents(runId, { limit: 1000 })).items
          expect(strings(events.map((e) => e.data))).toContain(NASTY)
          // Nothing read back is in the stored (escaped) form.
          const everything = [run, traces, tool, llm, events]
          expect(strings(everything).filter((s) => s.includes(`${DLE}0`) && !NASTY.includes(s))).toEqual([])
          const lines = Chunk.toArray(yield* Stream.runCollect(store.exportRecords({ search: "escapes" })))
          expect(lines).toHaveLength(1)
          const line = JSON.parse(
            Chunk.toArray(yield* Stream.runCollect(store.exportRuns({ search: "escapes" })))[0]!
          ) as Records.ExportedRun
          expect(line).toEqual(lines[0])
          expect(line.run).toEqual(run)
          expect(line.toolCalls).toEqual([tool])
          expect(line.traces).toEqual(traces)
          expect(line.events).toEqual(events)
        }))

      it.effect("ids, names, tenants and metadata holding U+0010 are found by lookups, filters, cursors and scopes", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const tenantId = `ten${DLE}ant`
          const agentName = `ag${DLE}ent`
          const parent = `run${DLE}parent`
          const child = `run${DLE}0child`
          const steps: ReadonlyArray<ScriptedModel.ScriptStep> = [{
            text: "ok",
            usage: { inputTokens: 3, outputTokens: 1, costUsd: 0.25 }
          }]
          yield* runAgent(agentName, steps, { runId: parent, tenantId, metadata: { team: `r${DLE}ed` } })
          yield* runAgent(agentName, steps, { runId: child, tenantId, parentRunId: parent })
          const run = yield* store.getRun(parent)
          expect(run).toMatchObject({ id: parent, agentName, tenantId, metadata: { team: `r${DLE}ed` } })
          expect((yield* store.getEvents(child)).items.every((e) => e.runId === child)).toBe(true)
          expect((yield* store.getTraces(child)).items.length).toBeGreaterThan(0)
          expect((yield* store.getPauses(child)).items).toEqual([])
          // Sorted: under the test clock both runs have the same creation time (the order then follows the ids).
          const ids = (page: Records.RunPage) => page.items.map((r) => r.id).sort()
          const both = [parent, child].sort()
          expect(ids(yield* store.listRuns({ tenantId }))).toEqual(both)
          expect(ids(yield* store.listRuns({ agentName }))).toEqual(both)
          expect(ids(yield* store.listRuns({ parentRunId: parent }))).toEqual([child])
          expect(ids(yield* store.listRuns({ metadata: { team: `r${DLE}ed` } }))).toEqual([parent])
          expect(ids(yield* store.listRuns({ search: `${DLE}0ch` }))).toEqual([child])
          expect(ids(yield* store.listRuns({ search: `${DLE}par` }))).toEqual([parent])
          const first = yield* store.listRuns({ tenantId, limit: 1 })
          const second = yield* store.listRuns({ tenantId, limit: 1, cursor: first.nextCursor! })
          expect([...ids(first), ...ids(second)].sort()).toEqual(both)
          expect(second.nextCursor).toBeNull()
          const tree = yield* store.getRunTree(child, { scope: { tenantId } })
          expect(tree.ancestors.map((r) => r.id)).toEqual([parent])
          expect((yield* store.getRunTree(parent)).subtreeTotals).toMatchObject({ runCount: 2, costUsd: 0.5 })
          const client = RunStore.fromService(store)
          expect((yield* Effect.promise(() => client.getRun(child, { scope: { tenantId } }))).parentRunId).toBe(parent)
          const usage = (yield* store.usage({ tenantId, groupBy: ["tenant", "agent"] })).items
          expect(usage).toMatchObject([{ tenantId, agentName, costUsd: 0.5, runCount: 2 }])
        }))
    })
  })
}
