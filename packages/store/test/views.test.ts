import { describe, expect, layer } from "@effect/vitest"
import { HookEvent, Recorder } from "@sextant/runtime"
import { Effect, Either } from "effect"
import { RunStore, Views } from "../src/index.js"
import { dialects, runAgent, seededLayer, SeededRuns } from "./support.js"

const ids = (items: ReadonlyArray<{ readonly id: string }>) => items.map((r) => r.id)

for (const dialect of dialects) {
  describe(`RunStore views on ${dialect.name}`, () => {
    layer(seededLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("listRunRows is listRuns with pause counts, child counts and wall times", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const rows = yield* store.listRunRows()
          const plain = yield* store.listRuns()
          expect(ids(rows.items)).toEqual(ids(plain.items))
          expect(rows.total).toBe(plain.total)
          const byId = new Map(rows.items.map((r) => [r.id, r]))
          expect(byId.get(s.paused)).toMatchObject({ pauseCount: 1, childCount: 0 })
          expect(byId.get(s.parent)).toMatchObject({ pauseCount: 0, childCount: 2 })
          expect(byId.get(s.child1)).toMatchObject({ childCount: 1 })
          for (const r of rows.items) {
            expect(r.durationMs).toBe(Date.parse(r.finishedAt!) - Date.parse(r.createdAt))
            const { pauseCount: _p, childCount: _c, durationMs: _d, ...summary } = r
            expect(summary).toEqual(plain.items.find((p) => p.id === r.id))
          }
          // Same filters, same cursors.
          const first = yield* store.listRunRows({ tenantId: "acme", limit: 2 })
          const next = yield* store.listRunRows({ tenantId: "acme", limit: 2, cursor: first.nextCursor! })
          const plainNext = yield* store.listRuns({ tenantId: "acme", limit: 2, cursor: first.nextCursor! })
          expect(ids(next.items)).toEqual(ids(plainNext.items))
          // Children outside the call's scope are not counted.
          const scoped = yield* store.listRunRows({ scope: { tenantId: "globex" } })
          expect(scoped.items.every((r) => r.childCount === 0)).toBe(true)
          const bad = yield* Effect.either(store.listRunRows({ limit: 0 }))
          expect(Either.isLeft(bad) && bad.left._tag === "InvalidQuery" && bad.left.field).toBe("limit")
        }))

      it.effect("listWaiting lists paused runs with their pending calls and waits; getTimeline shows the pause", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const waiting = yield* runAgent("checkout", [
            {
              toolCalls: [{ name: "confirm_payment", arguments: { amount: 40 } }],
              usage: { inputTokens: 5, outputTokens: 1 }
            }
          ], { tenantId: "acme" })
          expect(waiting.status).toBe("waiting_client_tool")
          const list = yield* store.listWaiting()
          expect(list.total).toBe(1)
          expect(list.items).toHaveLength(1)
          const [w] = list.items
          expect(w).toMatchObject({
            run: { id: waiting.runId, agentName: "checkout" },
            status: "waiting_client_tool",
            pendingCalls: [{ name: "confirm_payment", target: "client" }],
            prompt: null
          })
          expect(w!.waitMs).toBe(Date.parse(list.asOf) - Date.parse(w!.pausedAt))
          expect((yield* store.listWaiting({ tenantId: "globex" })).items).toEqual([])
          expect((yield* store.listWaiting({ scope: { tenantId: "globex" } })).total).toBe(0)
          const bad = yield* Effect.either(store.listWaiting({ limit: 5000 }))
          expect(Either.isLeft(bad) && bad.left._tag === "InvalidQuery" && bad.left.field).toBe("limit")

          const open = yield* store.getTimeline(waiting.runId)
          expect(open.status).toBe("waiting_client_tool")
          const pause = open.nodes.at(-1)
          expect(pause).toMatchObject({ _tag: "pause", resumedAt: null, waitMs: null, submission: null })
        }))

      it.effect("getTimeline lists typed nodes in sequence order, pairing starts and ends by correlation id", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const t = yield* store.getTimeline(s.weather1)
          expect(t.status).toBe("success")
          expect(t.nodes.map((n) => n._tag)).toEqual(["segment", "llmCall", "toolCall", "llmCall", "end"])
          const seq = t.nodes.map((n) => n.sequenceIndex)
          expect(seq).toEqual([...seq].sort((a, b) => a - b))
          const [, first, tool, second, end] = t.nodes
          expect(first).toMatchObject({ _tag: "llmCall", status: "completed", inputTokens: 50, outputTokens: 12 })
          expect(first).toMatchObject({ costUsd: 0.001, toolCallCount: 1, finishReason: "tool_calls" })
          expect(tool).toMatchObject({
            _tag: "toolCall",
            toolName: "get_weather",
            target: "server",
            status: "succeeded"
          })
          expect(JSON.parse((tool as Views.TimelineNode & { _tag: "toolCall" }).arguments!.text)).toEqual({
            city: "Lisbon"
          })
          expect(second).toMatchObject({ _tag: "llmCall", text: { text: "21 and sunny", truncated: false } })
          expect(end).toMatchObject({ _tag: "end", status: "success", answer: { text: "21 and sunny" } })
          const events = yield* store.getEvents(s.weather1, { limit: 1000 })
          expect(t.lastSequenceIndex).toBe(events.items.at(-1)!.sequenceIndex)
          // Each node's correlation id is the id of its row in tool_calls / llm_interactions.
          const llm = yield* store.getLlmCalls(s.weather1)
          expect(t.nodes.filter((n) => n._tag === "llmCall").map((n) => n.correlationId)).toEqual(ids(llm.items))
        }))

      it.effect("getTimeline shows a resumed pause with its wait and submission, and the client result", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const t = yield* store.getTimeline(s.paused)
          expect(t.nodes.map((n) => n._tag)).toEqual([
            "segment",
            "llmCall",
            "pause",
            "segment",
            "toolCall",
            "llmCall",
            "end"
          ])
          const pause = t.nodes[2] as Extract<Views.TimelineNode, { _tag: "pause" }>
          const pauses = yield* store.getPauses(s.paused)
          expect(pause).toMatchObject({
            status: "waiting_client_tool",
            pendingCalls: [{ name: "confirm_payment", target: "client" }],
            resumeSequenceIndex: pauses.items[0]!.resumeSequenceIndex,
            waitMs: pauses.items[0]!.waitMs
          })
          expect(pause.waitMs).toBe(Date.parse(pause.resumedAt!) - Date.parse(pause.at))
          expect(pause.submission!.text).toContain("confirmed")
          expect(t.nodes[3]).toMatchObject({ _tag: "segment", kind: "resumed" })
          expect(t.nodes[4]).toMatchObject({ _tag: "toolCall", target: "client", status: "succeeded" })
        }))

      it.effect("getTimeline types governance events by severity, provider retries and a failed call", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const recorder = yield* Recorder
          const runId = `synthetic-${dialect.name}`
          let seq = 0
          const at = (iteration = 1) => ({ runId, sequenceIndex: seq++, iteration, timestamp: 1_767_225_600_000 + seq })
          const events: ReadonlyArray<HookEvent.HookEvent> = [
            {
              _tag: "RunStarted",
              ...at(0),
              agentName: "gov",
              instructions: "",
              input: "x",
              delegationLevel: 0,
              tools: []
            },
            { _tag: "LlmCallStarted", ...at(), correlationId: "c1", provider: "openai", model: "m", messageCount: 1 },
            {
              _tag: "ProviderRetry",
              ...at(),
              correlationId: "c1",
              provider: "openai",
              attempt: 1,
              statusCode: 429,
              retryAfterMs: 1000,
              reason: "rate limited"
            },
            {
              _tag: "LlmCallFailed",
              ...at(),
              correlationId: "c1",
              provider: "openai",
              model: "m",
              error: { tag: "ModelError", message: "overloaded" },
              durationMs: 1500
            },
            { _tag: "PolicyDenied", ...at(), correlationId: "t1", toolName: "rm", reason: "denied by policy" },
            { _tag: "BudgetThreshold", ...at(), kind: "tokens", fraction: 0.75, used: 75, limit: 100 },
            { _tag: "BudgetExceeded", ...at(), kind: "tokens", used: 120, limit: 100, action: "stop" },
            {
              _tag: "GuardrailBlocked",
              ...at(),
              guardrail: "secrets",
              direction: "input",
              entities: [{ type: "api_key", count: 1 }],
              reason: "a secret"
            },
            {
              _tag: "RunFailed",
              ...at(),
              error: { tag: "BudgetExceeded", message: "over budget" },
              failureReason: "budget",
              iterations: 1,
              usage: { inputTokens: 0, outputTokens: 0 }
            }
          ]
          for (const e of events) yield* recorder.record(e)
          const t = yield* store.getTimeline(runId)
          expect(t.nodes.map((n) => n._tag)).toEqual([
            "segment",
            "llmCall",
            "retry",
            "governance",
            "governance",
            "governance",
            "governance",
            "end"
          ])
          expect(t.nodes[1]).toMatchObject({
            status: "failed",
            durationMs: 1500,
            error: { tag: "ModelError", message: "overloaded" },
            endSequenceIndex: 3
          })
          expect(t.nodes[2]).toMatchObject({ provider: "openai", attempt: 1, statusCode: 429, retryAfterMs: 1000 })
          const governance = t.nodes.filter((n) => n._tag === "governance")
          expect(governance.map((n) => [n.eventType, n.severity])).toEqual([
            ["policy.denied", "warning"],
            ["budget.threshold", "warning"],
            ["budget.exceeded", "error"],
            ["guardrail.blocked", "error"]
          ])
          expect(governance[1]!.title).toBe("Budget (tokens) at 75%")
          expect(t.nodes.at(-1)).toMatchObject({
            _tag: "end",
            status: "error",
            failureReason: "budget",
            error: { message: "over budget" }
          })
        }))

      it.effect("getTimeline of an unknown or out-of-scope run is RunNotFound; a bad id is InvalidQuery", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const s = yield* SeededRuns
          const missing = yield* Effect.either(store.getTimeline("nope"))
          expect(Either.isLeft(missing) && missing.left._tag).toBe("RunNotFound")
          const other = yield* Effect.either(store.getTimeline(s.weather1, { scope: { tenantId: "globex" } }))
          expect(Either.isLeft(other) && other.left._tag).toBe("RunNotFound")
          const bad = yield* Effect.either(store.getTimeline("a\u0000b"))
          expect(Either.isLeft(bad) && bad.left._tag === "InvalidQuery" && bad.left.field).toBe("runId")
        }))
    })
  })
}
