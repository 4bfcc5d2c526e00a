import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, Guardrails, RunLedger, Runs, ScriptedModel, Tool } from "@sextant/runtime"
import { Deferred, Effect, Fiber, Layer, Schema } from "effect"
import { SqlRecorder } from "../src/index.js"
import { dialects, recordedEvents, runRow } from "./support.js"

const pick = Tool.make("pick_file", {
  description: "Let the user pick a file",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})
const lookup = Tool.make("lookup", {
  description: "Look up",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => `found ${q}`
})
const remove = Tool.make("delete_file", {
  description: "Delete a file",
  parameters: Schema.Struct({ path: Schema.String }),
  handler: ({ path }) => ({ deleted: path })
})

/** A freshly built "process": its own model script and its own recorder over the same database. */
const processOn = (url: string, script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))

const expectGapless = (events: ReadonlyArray<{ readonly seq: number }>) =>
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i))

for (const dialect of dialects) {
  describe(`${dialect.name}: human in the loop on the SQL record`, () => {
    it.scoped("a client-tool run paused in one runtime is resumed by a fresh one, with a gapless record", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick, lookup] })
        const paused = yield* agent.run("open a file", { tenantId: "acme" }).pipe(
          Effect.provide(
            processOn(url, [{
              toolCalls: [{ name: "lookup", arguments: { q: "x" } }, { name: "pick_file", arguments: { kind: "pdf" } }],
              usage: { inputTokens: 10, outputTokens: 5 }
            }])
          )
        )
        expect(paused.status).toBe("waiting_client_tool")
        const callId = paused.pendingCalls![0]!.id
        const { done, events, row, stateInLog } = yield* Effect.gen(function*() {
          const done = yield* agent.submitToolResults(paused.runId, [{ callId, result: { path: "/a.pdf" } }])
          const sql = yield* SqlClient.SqlClient
          const log = yield* sql<{ data: unknown }>`SELECT data FROM run_events WHERE agent_run_id = ${paused.runId}`
          return {
            done,
            events: yield* recordedEvents(paused.runId),
            row: yield* runRow(paused.runId),
            stateInLog: log.some((r) => JSON.stringify(r.data).includes("callsPerTool"))
          }
        }).pipe(
          Effect.provide(processOn(url, [{ text: "Opened /a.pdf.", usage: { inputTokens: 10, outputTokens: 5 } }]))
        )
        expect(done).toMatchObject({ status: "success", answer: "Opened /a.pdf.", iterations: 2 })
        expect(done.usage).toEqual({ inputTokens: 20, outputTokens: 10 })
        expectGapless(events)
        expect(events.map((e) => e.type)).toContain("run.resumed")
        expect(row).toMatchObject({ status: "success" })
        expect(stateInLog).toBe(false)
      }))

    it.scoped("approve and reject, each resumed by a fresh runtime", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({
          name: "g",
          instructions: "",
          tools: [remove],
          requireApproval: ["delete_file"]
        })
        const call = [{ toolCalls: [{ name: "delete_file", arguments: { path: "/tmp/x" } }] }]
        const a = yield* agent.run("clean").pipe(Effect.provide(processOn(url, call)))
        const b = yield* agent.run("clean").pipe(Effect.provide(processOn(url, call)))
        expect([a.status, b.status]).toEqual(["waiting_approval", "waiting_approval"])
        const approved = yield* agent.submitApproval(a.runId, { approved: true }).pipe(
          Effect.provide(processOn(url, [{ text: "deleted" }]))
        )
        const rejected = yield* agent.submitApproval(b.runId, { approved: false, reason: "no" }).pipe(
          Effect.provide(processOn(url, [{ text: "kept" }]))
        )
        expect([approved.answer, rejected.answer]).toEqual(["deleted", "kept"])
        const rows = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ agent_run_id: string; success: unknown }>`SELECT agent_run_id, success FROM tool_calls`
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        // Approved: the call executed and was recorded. Rejected: it never executed.
        expect(rows.filter((r) => r.agent_run_id === a.runId).map((r) => Boolean(r.success))).toEqual([true])
        expect(rows.filter((r) => r.agent_run_id === b.runId)).toEqual([])
      }))

    it.scoped("of ten concurrent submitters exactly one wins; every typed error", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick] })
        const other = yield* Agent.make({ name: "other", instructions: "", tools: [pick] })
        const layer = processOn(url, [{ toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }] }, { text: "ok" }])
        yield* Effect.gen(function*() {
          const paused = yield* agent.run("go")
          const callId = paused.pendingCalls![0]!.id
          expect((yield* Effect.flip(agent.submitToolResults(paused.runId, [{ callId: "zzz", result: 1 }])))._tag).toBe(
            "InvalidToolResults"
          )
          expect((yield* Effect.flip(other.submitToolResults(paused.runId, [{ callId, result: 1 }])))._tag).toBe(
            "AgentMismatch"
          )
          expect((yield* Effect.flip(agent.submitInput(paused.runId, "x")))._tag).toBe("RunNotPaused")
          expect((yield* Effect.flip(agent.submitToolResults("missing", [])))._tag).toBe("RunNotFound")
          const outcomes = yield* Effect.all(
            Array.from({ length: 10 }, () =>
              Effect.either(agent.submitToolResults(paused.runId, [{ callId, result: "x" }]))),
            { concurrency: "unbounded" }
          )
          expect(outcomes.filter((o) =>
            o._tag === "Right"
          )).toHaveLength(1)
          for (const o of outcomes) {
            if (o._tag === "Left") {
              expect(["RunAlreadyClaimed", "RunNotPaused", "RunAlreadyTerminal"]).toContain(o.left._tag)
            }
          }
          expect((yield* Effect.flip(agent.submitToolResults(paused.runId, [{ callId, result: 1 }])))._tag).toBe(
            "RunAlreadyTerminal"
          )
          expectGapless(yield* recordedEvents(paused.runId))
        }).pipe(Effect.provide(layer))
      }))

    it.scoped("budget thresholds survive a pause; cancel in each state; idempotent concurrent starts; delegation", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const budgeted = yield* Agent.make({
          name: "b",
          instructions: "",
          tools: [pick],
          budget: { maxTokens: 100, warnAt: [0.1, 0.2], onExceeded: "warn" }
        })
        const paused = yield* budgeted.run("go").pipe(
          Effect.provide(
            processOn(url, [{
              toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }],
              usage: { inputTokens: 10, outputTokens: 5 }
            }])
          )
        )
        yield* budgeted.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: 1 }]).pipe(
          Effect.provide(processOn(url, [{ text: "ok", usage: { inputTokens: 10, outputTokens: 5 } }]))
        )
        const types = (yield* recordedEvents(paused.runId).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))).map((
          e
        ) => e.type)
        // 15 tokens crosses 0.1 before the pause; 30 crosses 0.2 after it; 0.1 is not recorded twice.
        expect(types.filter((t) => t === "budget.threshold")).toHaveLength(2)

        yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "c", instructions: "", tools: [pick] })
          const waiting = yield* agent.run("go")
          expect(yield* Runs.cancelRun(waiting.runId)).toMatchObject({ status: "cancelled", cancelled: true })
          expect(yield* runRow(waiting.runId)).toMatchObject({ status: "cancelled" })
          expect(yield* Runs.cancelRun(waiting.runId)).toMatchObject({ status: "cancelled", cancelled: false })
          // Running in this process: interrupted at its tool call.
          const entered = yield* Deferred.make<void>()
          const slow = Tool.make("slow", {
            description: "s",
            parameters: Schema.Struct({}),
            handler: () => Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never)
          })
          const busy = yield* Agent.make({ name: "busy", instructions: "", tools: [slow] })
          const fiber = yield* Effect.fork(busy.run("go", { runId: `busy-${dialect.name}` }))
          yield* Deferred.await(entered)
          expect(yield* Runs.cancelRun(`busy-${dialect.name}`)).toMatchObject({ status: "cancelled" })
          expect((yield* Fiber.join(fiber)).status).toBe("cancelled")
          const events = yield* recordedEvents(`busy-${dialect.name}`)
          expect(events.at(-1)?.type).toBe("run.cancelled")
          // In another process: only the flag is set; the run stops at its next step.
          const ledger = yield* RunLedger
          const flagging = Tool.make("flag", {
            description: "f",
            parameters: Schema.Struct({}),
            handler: (_, ctx) => Effect.asVoid(ledger.requestCancel(ctx.runId))
          })
          const remote = yield* Agent.make({ name: "remote", instructions: "", tools: [flagging] })
          expect((yield* remote.run("go")).status).toBe("cancelled")
        }).pipe(Effect.provide(processOn(url, [
          { toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }] },
          { toolCalls: [{ name: "slow", arguments: {} }] },
          { toolCalls: [{ name: "flag", arguments: {} }] }
        ])))

        yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "i", instructions: "" })
          const starts = yield* Effect.all(
            Array.from({ length: 8 }, () => Effect.either(agent.run("same", { idempotencyKey: `k-${dialect.name}` }))),
            { concurrency: "unbounded" }
          )
          const ids = new Set(starts.flatMap((s) => (s._tag === "Right" ? [s.right.runId] : [])))
          expect(ids.size).toBe(1)
          for (const s of starts) if (s._tag === "Left") expect(s.left._tag).toBe("RunAlreadyActive")
          const again = yield* agent.run("same", { idempotencyKey: `k-${dialect.name}` })
          expect(again.runId).toBe([...ids][0])
          expect((yield* Effect.flip(agent.run("different", { idempotencyKey: `k-${dialect.name}` })))._tag).toBe(
            "IdempotencyConflict"
          )
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql`SELECT id FROM agent_runs WHERE idempotency_key = ${`k-${dialect.name}`}`
          expect(rows).toHaveLength(1)

          const child = yield* Agent.make({ name: "child", instructions: "" })
          const parent = yield* Agent.make({
            name: "parent",
            instructions: "",
            tools: [Agent.asTool(child, { description: "delegate" })]
          })
          const result = yield* parent.run("delegate it", { tenantId: "acme" })
          const tree = yield* sql<
            { id: string; parent_run_id: string | null; delegation_level: number; tenant_id: string | null }
          >`
            SELECT id, parent_run_id, delegation_level, tenant_id FROM agent_runs WHERE parent_run_id = ${result.runId}`
          expect(tree).toHaveLength(1)
          expect(tree[0]).toMatchObject({ delegation_level: 1, tenant_id: "acme" })
          const retried = yield* parent.retry(result.runId)
          const link = yield* sql<
            { retry_of_run_id: string }
          >`SELECT retry_of_run_id FROM agent_runs WHERE id = ${retried.runId}`
          expect(link[0]!.retry_of_run_id).toBe(result.runId)
        }).pipe(Effect.provide(processOn(url, [
          // Of the eight concurrent starts only one runs (and asks the model).
          { text: "hi" },
          { toolCalls: [{ name: "child", arguments: { input: "sub" } }] },
          { text: "child done" },
          { text: "parent done" },
          { text: "retried" }
        ])))
      }))

    it.scoped("redacted values stay out of every table; the caller still gets them", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "pii", instructions: "", guardrails: [Guardrails.PII()] })
        const result = yield* agent.run("Write to jane.doe@example.com").pipe(
          Effect.provide(processOn(url, [{ text: "I will write to <<EMAIL_1>>." }]))
        )
        expect(result.answer).toBe("I will write to jane.doe@example.com.")
        const dump = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const out: Array<unknown> = []
          for (
            const t of ["agent_runs", "react_traces", "tool_calls", "llm_interactions", "token_usage", "run_events"]
          ) {
            out.push(yield* sql`SELECT * FROM ${sql(t)}`)
          }
          return JSON.stringify(out)
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(dump).not.toContain("jane.doe@example.com")
        expect(dump).toContain("<<EMAIL_1>>")
      }))
  })
}
