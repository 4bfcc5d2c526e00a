import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { RunStore } from "@sextant/store"
import { Effect, Either, Fiber } from "effect"
import { Trace, TraceError } from "../src/index.js"
import { dialects, storeLayer } from "./support.js"

class LookupFailed extends Error {
  override readonly name = "LookupFailed"
}

/** An orchestrator that delegates to a specialist: model calls, tools (one failing), memory, custom events. */
const orchestrate = Trace.run(
  "orchestrator",
  { tenantId: "acme", input: "Plan a trip", model: "gpt-x" },
  (run) =>
    Effect.gen(function*() {
      yield* run.memoryRead("profile:42", { name: "Ada" }, { store: "kv" })
      yield* run.memoryRead("missing", undefined)
      yield* run.llm({
        model: "gpt-x",
        provider: "openai",
        request: { messages: [{ role: "user", content: "Plan a trip" }] },
        text: "",
        toolCalls: [{ id: "call-1", name: "search", arguments: { q: "Lisbon" } }],
        usage: { inputTokens: 10, outputTokens: 4, costUsd: 0.001 },
        response: { id: "resp-1" },
        startedAt: 1_000,
        endedAt: 1_250
      })
      const found = yield* run.tool("search", { q: "Lisbon" }, Effect.succeed({ hits: 3 }), { callId: "call-1" })
      const failed = yield* Effect.either(run.tool("lookup", { id: 7 }, Effect.fail(new LookupFailed("no such id"))))
      const child = yield* Trace.run("specialist", { input: "Book a hotel" }, (specialist) =>
        Effect.gen(function*() {
          const span = yield* specialist.llmStart({
            model: "claude-y",
            provider: "anthropic",
            request: { messages: [] }
          })
          yield* span.end({ text: "Booked", usage: { inputTokens: 5, outputTokens: 2 } })
          yield* specialist.memoryWrite("booking", { hotel: "Ritz" })
          return { runId: specialist.runId, parent: specialist.parentRunId, level: specialist.delegationLevel }
        }))
      yield* run.event("plan.ready", { steps: 2 })
      const stream = yield* run.stream("answer")
      yield* stream.chunk("Lis")
      yield* stream.chunk("bon")
      yield* stream.end
      yield* run.final("Trip planned")
      return { runId: run.runId, found, failed, child }
    })
)

for (const dialect of dialects) {
  describe(`Trace.run on ${dialect.name}`, () => {
    layer(storeLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("records a nested run with model and tool calls, a failing tool and memory reads", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const result = yield* orchestrate
          expect(result.found).toEqual({ hits: 3 })
          expect(Either.isLeft(result.failed) && result.failed.left).toBeInstanceOf(LookupFailed)
          expect(result.child.parent).toBe(result.runId)
          expect(result.child.level).toBe(1)

          const parent = yield* store.getRun(result.runId)
          expect(parent).toMatchObject({
            agentName: "orchestrator",
            status: "success",
            tenantId: "acme",
            model: "gpt-x",
            input: "Plan a trip",
            answer: "Trip planned",
            iterationCount: 1,
            delegationLevel: 0,
            parentRunId: null
          })
          expect(parent.totals).toMatchObject({ inputTokens: 10, outputTokens: 4, costUsd: 0.001, modelCallCount: 1 })
          const child = yield* store.getRun(result.child.runId)
          expect(child).toMatchObject({
            agentName: "specialist",
            status: "success",
            tenantId: "acme",
            parentRunId: result.runId,
            delegationLevel: 1,
            answer: null
          })
          const tree = yield* store.getRunTree(result.runId)
          expect(tree.children.map((c) => c.run.id)).toEqual([result.child.runId])

          // Both calls may start in the same millisecond (the store then orders them by id): compare by name.
          const tools = [...(yield* store.getToolCalls(result.runId)).items].sort((a, b) =>
            a.toolName < b.toolName ? 1 : -1
          )
          expect(tools.map((t) => [t.id, t.toolName, t.success, t.params, t.result, t.error])).toEqual([
            ["call-1", "search", true, { q: "Lisbon" }, { hits: 3 }, null],
            [tools[1]!.id, "lookup", false, { id: 7 }, { error: "no such id" }, "no such id"]
          ])
          const llm = (yield* store.getLlmCalls(result.runId)).items
          expect(llm).toHaveLength(1)
          expect(llm[0]).toMatchObject({
            status: "completed",
            provider: "openai",
            model: "gpt-x",
            inputTokens: 10,
            outputTokens: 4,
            durationMs: 250,
            providerResponse: { id: "resp-1" },
            finishReason: "tool_calls"
          })
          const traces = (yield* store.getTraces(result.runId)).items
          expect(traces.map((t) => t.role)).toEqual(["user", "assistant", "tool", "tool"])

          const events = (yield* store.getEvents(result.runId, { limit: 100 })).items
          expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))
          expect(events.map((e) => e.eventType)).toEqual([
            "run.started",
            "message.appended",
            "memory.accessed",
            "memory.accessed",
            "llm.started",
            "llm.completed",
            "message.appended",
            "tool.started",
            "tool.completed",
            "message.appended",
            "tool.started",
            "tool.completed",
            "message.appended",
            "custom.event",
            "custom.event",
            "run.completed"
          ])
          expect(events[3]!.data).toMatchObject({ operation: "read", key: "missing", found: false })
          expect(events[13]!.data).toMatchObject({ name: "custom.plan.ready", data: { steps: 2 } })
          expect(events[14]!.data).toMatchObject({
            name: "custom.sextant.stream",
            data: { stream: "answer", chunks: 2, characters: 6 }
          })
          // Start and end of a call share its correlation id.
          expect(events[4]!.correlationId).toBe(events[5]!.correlationId)
          expect(events[7]!.correlationId).toBe("call-1")
          expect(events[8]!.correlationId).toBe("call-1")
          const childEvents = (yield* store.getEvents(result.child.runId)).items
          expect(childEvents.map((e) => e.eventType)).toEqual([
            "run.started",
            "message.appended",
            "llm.started",
            "llm.completed",
            "message.appended",
            "memory.accessed",
            "run.completed"
          ])
        }))

      it.effect("a failing body fails the run with its error and hands the error back", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          let runId = ""
          const exit = yield* Effect.either(Trace.run("flaky", {}, (run) =>
            Effect.gen(function*() {
              runId = run.runId
              yield* run.event("step", { n: 1 })
              return yield* Effect.fail(new LookupFailed("backend refused"))
            })))
          expect(Either.isLeft(exit) && exit.left).toBeInstanceOf(LookupFailed)
          const detail = yield* store.getRun(runId)
          expect(detail).toMatchObject({
            status: "error",
            failureReason: "internal",
            error: { tag: "LookupFailed", message: "backend refused" }
          })
        }))

      it.effect("calls after the terminal event and bad arguments are typed refusals, recording nothing", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const outcome = yield* Trace.run("strict", {}, (run) =>
            Effect.gen(function*() {
              const badType = yield* Effect.flip(run.event("has space", {}))
              const reserved = yield* Effect.flip(run.event("sextant.stream", {}))
              const badUsage = yield* Effect.flip(
                run.llm({ model: "m", provider: "p", usage: { inputTokens: "many", outputTokens: 1 } as never })
              )
              yield* run.fail(new Error("gave up"))
              const late = yield* Effect.flip(run.event("after", {}))
              return { runId: run.runId, badType, reserved, badUsage, late }
            }))
          expect(outcome.badType).toMatchObject({ _tag: "TraceError", reason: "invalid", field: "type" })
          expect(outcome.reserved).toMatchObject({ _tag: "TraceError", reason: "invalid", field: "type" })
          expect(outcome.badUsage).toMatchObject({ _tag: "TraceError", reason: "invalid", field: "usage.inputTokens" })
          expect(outcome.late).toBeInstanceOf(TraceError)
          expect(outcome.late).toMatchObject({ reason: "ended" })
          const detail = yield* store.getRun(outcome.runId)
          expect(detail).toMatchObject({ status: "error", error: { tag: "Error", message: "gave up" } })
          // The refused model call opened nothing: llm.started was never recorded.
          const types = (yield* store.getEvents(outcome.runId)).items.map((e) => e.eventType)
          expect(types).toEqual(["run.started", "run.failed"])
        }))

      it.effect("an interrupted body is recorded cancelled", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          let runId = ""
          const started = yield* Effect.makeLatch()
          const fiber = yield* Effect.fork(Trace.run("stuck", {}, (run) =>
            Effect.gen(function*() {
              runId = run.runId
              yield* started.open
              return yield* Effect.never
            })))
          yield* started.await
          yield* Fiber.interrupt(fiber)
          expect(yield* store.getRun(runId)).toMatchObject({ status: "cancelled" })
        }))

      it.effect("a failed write stops the run with the RecorderError (fail-closed)", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          let reached = false
          const error = yield* Effect.flip(Trace.run("doomed", {}, (run) =>
            Effect.gen(function*() {
              yield* sql`DROP TABLE tool_calls`
              yield* run.tool("write", {}, Effect.sync(() => (reached = true)))
            })))
          expect(error).toMatchObject({ _tag: "RecorderError" })
          // The write-ahead tool.started failed, so the tool never ran.
          expect(reached).toBe(false)
        }))
    })
  })
}
