import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Schema, Stream } from "effect"
import {
  Agent,
  HookEvent,
  MemoryRecorder,
  Notifier,
  Recorder,
  RunLedger,
  Runs,
  ScriptedModel,
  type StreamEvent,
  Tool
} from "../src/index.js"

const pick = Tool.make("pick_file", {
  description: "Let the user pick a file (runs in the client)",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})
let deletes = 0
const remove = Tool.make("delete_file", {
  description: "Delete a file",
  parameters: Schema.Struct({ path: Schema.String }),
  handler: ({ path }) => {
    deletes++
    return { deleted: path }
  }
})
const lookup = Tool.make("lookup", {
  description: "Look something up",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => `found ${q}`
})

const layer = (script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  Layer.merge(ScriptedModel.layer(script), Recorder.memory)
const events = (runId: string) => Effect.flatMap(MemoryRecorder, (m) => m.events(runId))
const types = (runId: string) => Effect.map(events(runId), (es) => es.map(HookEvent.eventType))
const expectGapless = (es: ReadonlyArray<HookEvent.HookEvent>) =>
  expect(es.map((e) => e.sequenceIndex)).toEqual(es.map((_, i) => i))

describe("client tools: pause and resume", () => {
  it.effect("pauses waiting_client_tool, resumes with the results, continues sequence, iterations and usage", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick, lookup] })
      const paused = yield* agent.run("open a file")
      expect(paused.status).toBe("waiting_client_tool")
      expect(paused.pendingCalls?.map((c) => [c.name, c.arguments, c.target])).toEqual([[
        "pick_file",
        { kind: "pdf" },
        "client"
      ]])
      const callId = paused.pendingCalls![0]!.id
      const done = yield* agent.submitToolResults(paused.runId, [{ callId, result: { path: "/a.pdf" } }])
      expect(done).toMatchObject({ status: "success", answer: "Opened /a.pdf.", iterations: 2 })
      expect(done.usage).toEqual({ inputTokens: 20, outputTokens: 10 })
      const es = yield* events(paused.runId)
      expectGapless(es)
      expect(es.map(HookEvent.eventType)).toEqual([
        "run.started",
        "message.appended",
        "llm.started",
        "llm.completed",
        "message.appended",
        "tool.started",
        "tool.completed",
        "run.paused",
        "run.resumed",
        "tool.started",
        "tool.completed",
        "message.appended",
        "message.appended",
        "llm.started",
        "llm.completed",
        "message.appended",
        "run.completed"
      ])
      const client = es.filter((e) => e._tag === "ToolCallCompleted" && e.target === "client")
      expect(client).toMatchObject([{ correlationId: callId, success: true, result: { path: "/a.pdf" } }])
      // The server call of the same batch ran before the pause; results reach the model in call order.
      const requests = yield* (yield* ScriptedModel.Requests).requests
      expect(requests[1]!.messages.filter((m) => m._tag === "tool").map((m) => m.content)).toEqual([
        "found x",
        JSON.stringify({ path: "/a.pdf" })
      ])
      // The recorder gets the execution state (to resume from any process)…
      expect((es.find((e) => e._tag === "RunPaused") as { state?: unknown }).state).toMatchObject({
        agentName: "files",
        pending: [callId]
      })
    }).pipe(Effect.provide(layer([
      {
        toolCalls: [{ name: "lookup", arguments: { q: "x" } }, { name: "pick_file", arguments: { kind: "pdf" } }],
        usage: { inputTokens: 10, outputTokens: 5 }
      },
      { text: "Opened /a.pdf.", usage: { inputTokens: 10, outputTokens: 5 } }
    ]))))

  it.live("…but notifiers and the caller's stream never see a paused run's execution state", () => {
    const seen: Array<StreamEvent.StreamEvent> = []
    const spy = Notifier.make({ name: "spy", onEvent: (e) => void seen.push(e) })
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick] })
      const streamed = Chunk.toReadonlyArray(
        yield* Stream.runCollect(agent.stream("open a file", { notifiers: [spy] }))
      )
      const fromStream = streamed.find((e) => e._tag === "RunPaused")
      expect(fromStream).toMatchObject({ status: "waiting_client_tool" })
      expect(fromStream).not.toHaveProperty("state")
      yield* Effect.sleep("50 millis")
      const notified = seen.find((e) => e._tag === "RunPaused")
      expect(notified).toMatchObject({ status: "waiting_client_tool" })
      expect(notified).not.toHaveProperty("state")
      const recorded = (yield* (yield* MemoryRecorder).events()).find((e) => e._tag === "RunPaused")
      expect(recorded).toHaveProperty("state")
    }).pipe(Effect.provide(layer([{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }])))
  })

  it.effect("every typed submit error, and nothing claimed by a bad submission", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick, lookup] })
      const other = yield* Agent.make({ name: "other", instructions: "", tools: [pick] })
      const paused = yield* agent.run("two files")
      const [a, b] = paused.pendingCalls!.map((c) => c.id)
      const invalid = yield* Effect.flip(
        agent.submitToolResults(paused.runId, [{ callId: a!, result: 1 }, { callId: a!, result: 2 }, {
          callId: "zzz",
          result: 3
        }])
      )
      expect(invalid).toMatchObject({ _tag: "InvalidToolResults", missing: [b], duplicate: [a], unknown: ["zzz"] })
      expect((yield* Effect.flip(agent.submitToolResults("nope", [])))._tag).toBe("RunNotFound")
      expect(yield* Effect.flip(agent.submitApproval(paused.runId, { approved: true }))).toMatchObject({
        _tag: "RunNotPaused",
        status: "waiting_client_tool"
      })
      expect((yield* Effect.flip(agent.submitInput(paused.runId, "hi")))._tag).toBe("RunNotPaused")
      expect(
        yield* Effect.flip(
          other.submitToolResults(paused.runId, [{ callId: a!, result: 1 }, { callId: b!, result: 2 }])
        )
      ).toMatchObject({ _tag: "AgentMismatch", expected: "files", actual: "other" })
      const ledger = yield* RunLedger
      expect((yield* ledger.get(paused.runId)).pipe((o) => o._tag === "Some" && o.value.status)).toBe(
        "waiting_client_tool"
      )
      const ok = yield* agent.submitToolResults(paused.runId, [{ callId: a!, result: 1 }, {
        callId: b!,
        error: "user closed the dialog"
      }])
      expect(ok.status).toBe("success")
      expect(
        yield* Effect.flip(
          agent.submitToolResults(paused.runId, [{ callId: a!, result: 1 }, { callId: b!, result: 2 }])
        )
      ).toMatchObject({ _tag: "RunAlreadyTerminal", status: "success" })
      const failedCall = (yield* events(paused.runId)).find((e) => e._tag === "ToolCallCompleted" && !e.success)
      expect(failedCall).toMatchObject({ target: "client", error: "user closed the dialog" })
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }, { name: "pick_file", arguments: { kind: "b" } }] },
      { text: "ok" }
    ]))))

  it.effect("of concurrent submitters exactly one wins; the others get typed errors", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick] })
      const paused = yield* agent.run("go")
      const callId = paused.pendingCalls![0]!.id
      const outcomes = yield* Effect.all(
        Array.from(
          { length: 10 },
          () => Effect.either(agent.submitToolResults(paused.runId, [{ callId, result: "x" }]))
        ),
        { concurrency: "unbounded" }
      )
      const wins = outcomes.filter((o) => o._tag === "Right")
      expect(wins).toHaveLength(1)
      for (const o of outcomes) {
        if (o._tag === "Left") {
          expect(["RunAlreadyClaimed", "RunNotPaused", "RunAlreadyTerminal"]).toContain(o.left._tag)
        }
      }
      expectGapless(yield* events(paused.runId))
    }).pipe(Effect.provide(layer([{ toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }] }, { text: "ok" }]))))

  it.effect("human input pauses waiting_human_input with the question as prompt", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "asker", instructions: "", tools: [Tool.humanInput()] })
      const paused = yield* agent.run("book a table")
      expect(paused.status).toBe("waiting_human_input")
      const pausedEvent = (yield* events(paused.runId)).find((e) => e._tag === "RunPaused")
      expect(pausedEvent).toMatchObject({ status: "waiting_human_input", prompt: "For how many people?" })
      const done = yield* agent.submitInput(paused.runId, "four")
      expect(done).toMatchObject({ status: "success", answer: "Booked for four." })
      const requests = yield* (yield* ScriptedModel.Requests).requests
      expect(requests[1]!.messages.at(-1)).toMatchObject({ _tag: "tool", content: "four", isError: false })
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "ask_human", arguments: { question: "For how many people?" } }] },
      { text: "Booked for four." }
    ]))))
})

describe("governance", () => {
  it.effect("deny: the call never executes, the model sees a failure, policy.denied is recorded", () =>
    Effect.gen(function*() {
      deletes = 0
      const agent = yield* Agent.make({ name: "g", instructions: "", tools: [remove, lookup], deny: ["delete_file"] })
      const result = yield* agent.run("clean up")
      expect(result.status).toBe("success")
      expect(deletes).toBe(0)
      const es = yield* events(result.runId)
      expect(es.filter((e) => e._tag === "PolicyDenied")).toMatchObject([{
        toolName: "delete_file",
        reason: "denied_by_policy"
      }])
      expect(es.some((e) => e._tag === "ToolCallStarted" && e.toolName === "delete_file")).toBe(false)
      const requests = yield* (yield* ScriptedModel.Requests).requests
      const tools = requests[1]!.messages.filter((m) => m._tag === "tool")
      expect(tools.map((m) => [m.toolName, m.isError])).toEqual([["delete_file", true], ["lookup", false]])
      expect(tools[0]!.content).toContain("denied by policy")
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "delete_file", arguments: { path: "/etc" } }, { name: "lookup", arguments: { q: "y" } }] },
      { text: "done" }
    ]))))

  it.effect("approval: the whole batch waits; approve executes; client tools still go to the client", () =>
    Effect.gen(function*() {
      deletes = 0
      const agent = yield* Agent.make({
        name: "g",
        instructions: "",
        tools: [remove, lookup, pick],
        requireApproval: ["delete_file"]
      })
      const paused = yield* agent.run("clean up")
      expect(paused.status).toBe("waiting_approval")
      expect(paused.pendingCalls!.map((c) => c.name)).toEqual(["delete_file", "lookup", "pick_file"])
      expect(deletes).toBe(0)
      const requested = (yield* events(paused.runId)).filter((e) => e._tag === "ApprovalRequested")
      expect(requested).toMatchObject([{ toolName: "delete_file", arguments: { path: "/tmp/x" } }])
      const afterApproval = yield* agent.submitApproval(paused.runId, { approved: true })
      expect(deletes).toBe(1)
      expect(afterApproval.status).toBe("waiting_client_tool")
      expect(afterApproval.pendingCalls!.map((c) => c.name)).toEqual(["pick_file"])
      const done = yield* agent.submitToolResults(paused.runId, [{
        callId: afterApproval.pendingCalls![0]!.id,
        result: "/f"
      }])
      expect(done.status).toBe("success")
      const es = yield* events(paused.runId)
      expectGapless(es)
      expect(es.filter((e) => e._tag === "ApprovalDecided")).toMatchObject([{ approved: true }])
      const requests = yield* (yield* ScriptedModel.Requests).requests
      expect(requests[1]!.messages.filter((m) => m._tag === "tool").map((m) => m.toolName)).toEqual([
        "delete_file",
        "lookup",
        "pick_file"
      ])
    }).pipe(Effect.provide(layer([
      {
        toolCalls: [{ name: "delete_file", arguments: { path: "/tmp/x" } }, { name: "lookup", arguments: { q: "y" } }, {
          name: "pick_file",
          arguments: { kind: "a" }
        }]
      },
      { text: "done" }
    ]))))

  it.effect("approval rejected: each pending call fails with the reason; nothing executes", () =>
    Effect.gen(function*() {
      deletes = 0
      const agent = yield* Agent.make({
        name: "g",
        instructions: "",
        tools: [remove],
        requireApproval: ["delete_file"]
      })
      const paused = yield* agent.run("clean up")
      const done = yield* agent.submitApproval(paused.runId, { approved: false, reason: "not on a Friday" })
      expect(done.status).toBe("success")
      expect(deletes).toBe(0)
      const es = yield* events(paused.runId)
      expect(es.filter((e) => e._tag === "ApprovalDecided")).toMatchObject([{
        approved: false,
        reason: "not on a Friday"
      }])
      const requests = yield* (yield* ScriptedModel.Requests).requests
      expect(requests[1]!.messages.at(-1)).toMatchObject({ _tag: "tool", isError: true })
      expect((requests[1]!.messages.at(-1) as { content: string }).content).toContain("not on a Friday")
    }).pipe(
      Effect.provide(
        layer([{ toolCalls: [{ name: "delete_file", arguments: { path: "/x" } }] }, { text: "ok, I won't" }])
      )
    ))

  it.effect("budget: thresholds fire once per fraction across a pause; stop ends the run before the next model call", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "b",
        instructions: "",
        tools: [pick, lookup],
        budget: { maxTokens: 100, warnAt: [0.25, 0.5], onExceeded: "stop" }
      })
      const paused = yield* agent.run("go")
      const first = (yield* events(paused.runId)).filter((e) => e._tag === "BudgetThreshold")
      expect(first.map((e) => e.fraction)).toEqual([0.25])
      const done = yield* agent.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: 1 }])
      expect(done).toMatchObject({ status: "error", error: { failureReason: "budget" } })
      const es = yield* events(paused.runId)
      expect(es.filter((e) => e._tag === "BudgetThreshold").map((e) => e.fraction)).toEqual([0.25, 0.5])
      expect(es.filter((e) => e._tag === "BudgetExceeded")).toMatchObject([{
        kind: "tokens",
        used: 110,
        limit: 100,
        action: "stop"
      }])
      const requests = yield* (yield* ScriptedModel.Requests).requests
      expect(requests).toHaveLength(3)
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }], usage: { inputTokens: 20, outputTokens: 10 } },
      { toolCalls: [{ name: "lookup", arguments: { q: "a" } }], usage: { inputTokens: 20, outputTokens: 10 } },
      { toolCalls: [{ name: "lookup", arguments: { q: "b" } }], usage: { inputTokens: 40, outputTokens: 10 } },
      { text: "never asked" }
    ]))))
})

describe("cancel", () => {
  it.effect("a paused run is cancelled at once; a finished run is a no-op", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "c", instructions: "", tools: [pick] })
      const paused = yield* agent.run("go")
      expect(yield* Runs.cancelRun(paused.runId)).toEqual({ runId: paused.runId, status: "cancelled", cancelled: true })
      const es = yield* events(paused.runId)
      expect(es.at(-1)).toMatchObject({ _tag: "RunCancelled", reason: "cancel_requested" })
      expectGapless(es)
      expect(
        (yield* Effect.flip(
          agent.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: 1 }])
        ))._tag
      ).toBe("RunAlreadyTerminal")
      expect(yield* Runs.cancelRun(paused.runId)).toEqual({
        runId: paused.runId,
        status: "cancelled",
        cancelled: false
      })
      expect((yield* Effect.flip(Runs.cancelRun("missing")))._tag).toBe("RunNotFound")
    }).pipe(Effect.provide(layer([{ toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }] }]))))

  it.live("a run executing in this process is interrupted at its current tool call", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      let aborted = false
      const slow = Tool.make("slow", {
        description: "takes forever",
        parameters: Schema.Struct({}),
        handler: (_, ctx) =>
          Effect.gen(function*() {
            ctx.signal.addEventListener("abort", () => (aborted = true))
            yield* Deferred.succeed(entered, undefined)
            return yield* Effect.never
          })
      })
      const agent = yield* Agent.make({ name: "c", instructions: "", tools: [slow] })
      const fiber = yield* Effect.fork(agent.run("go", { runId: "live-1" }))
      yield* Deferred.await(entered)
      expect(yield* Runs.cancelRun("live-1")).toMatchObject({ status: "cancelled", cancelled: true })
      const result = yield* Fiber.join(fiber)
      expect(result.status).toBe("cancelled")
      expect(aborted).toBe(true)
      const es = yield* events("live-1")
      expect(es.at(-1)).toMatchObject({ _tag: "RunCancelled", reason: "cancel_requested" })
      expect(es.some((e) => e._tag === "ToolCallCompleted")).toBe(false)
    }).pipe(Effect.provide(layer([{ toolCalls: [{ name: "slow", arguments: {} }] }]))))

  it.effect("a run flagged by another process stops at its next step", () =>
    Effect.gen(function*() {
      const ledger = yield* RunLedger
      const flagging = Tool.make("flag", {
        description: "another process asks to cancel while this tool runs",
        parameters: Schema.Struct({}),
        handler: (_, ctx) => Effect.asVoid(ledger.requestCancel(ctx.runId))
      })
      const agent = yield* Agent.make({ name: "c", instructions: "", tools: [flagging] })
      const result = yield* agent.run("go")
      expect(result.status).toBe("cancelled")
      expect(yield* (yield* ScriptedModel.Requests).requests).toHaveLength(1)
      expect((yield* types(result.runId)).slice(-2)).toEqual(["message.appended", "run.cancelled"])
    }).pipe(Effect.provide(layer([{ toolCalls: [{ name: "flag", arguments: {} }] }, { text: "never" }]))))
})

describe("idempotency, retry, delegation", () => {
  it.effect("same key + input returns the earlier result; another input conflicts; concurrent starts make one run", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "i", instructions: "" })
      const starts = yield* Effect.all(
        Array.from({ length: 5 }, () => Effect.either(agent.run("hello", { idempotencyKey: "k1" }))),
        { concurrency: "unbounded" }
      )
      const ids = new Set(starts.flatMap((s) => (s._tag === "Right" ? [s.right.runId] : [])))
      expect(ids.size).toBe(1)
      for (const s of starts) if (s._tag === "Left") expect(s.left._tag).toBe("RunAlreadyActive")
      const again = yield* agent.run("hello", { idempotencyKey: "k1" })
      expect(again).toMatchObject({ runId: [...ids][0], status: "success", answer: "hi" })
      const conflict = yield* Effect.flip(agent.run("other input", { idempotencyKey: "k1" }))
      expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", idempotencyKey: "k1" })
      const all = yield* (yield* MemoryRecorder).events()
      expect(all.filter((e) => e._tag === "RunStarted")).toHaveLength(1)
    }).pipe(Effect.provide(layer([{ text: "hi" }, { text: "hi" }, { text: "hi" }, { text: "hi" }, { text: "hi" }]))))

  it.effect("retry starts a new run from a finished run's input with retryOfRunId", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "r", instructions: "" })
      const first = yield* agent.run("try me", { tenantId: "t1" })
      expect(first.status).toBe("error")
      const second = yield* agent.retry(first.runId)
      expect(second).toMatchObject({ status: "success", answer: "worked" })
      const started = (yield* events(second.runId))[0]
      expect(started).toMatchObject({ _tag: "RunStarted", input: "try me", retryOfRunId: first.runId, tenantId: "t1" })
    }).pipe(Effect.provide(layer([{ fail: "flaky vendor" }, { text: "worked" }]))))

  it.effect("delegation: a child run links to its parent; past the depth limit the call fails, not the parent", () =>
    Effect.gen(function*() {
      const researcher = yield* Agent.make({ name: "researcher", instructions: "", maxDelegationDepth: 1 })
      const boss = yield* Agent.make({
        name: "boss",
        instructions: "",
        tools: [Agent.asTool(researcher, { description: "research a question" })]
      })
      const result = yield* boss.run("find out", { tenantId: "acme" })
      expect(result).toMatchObject({ status: "success", answer: "boss done" })
      const all = yield* (yield* MemoryRecorder).events()
      const childStart = all.find((e) => e._tag === "RunStarted" && e.agentName === "researcher")
      expect(childStart).toMatchObject({
        parentRunId: result.runId,
        delegationLevel: 1,
        tenantId: "acme",
        input: "dig"
      })
      const toolResult = all.find((e) => e._tag === "ToolCallCompleted" && e.runId === result.runId)
      expect(toolResult).toMatchObject({ success: true, result: { status: "success", answer: "child answer" } })

      // Past the child's depth limit the tool call fails and the parent goes on.
      const leaf = yield* Agent.make({ name: "leaf", instructions: "", maxDelegationDepth: 0 })
      const parent = yield* Agent.make({
        name: "parent",
        instructions: "",
        tools: [Agent.asTool(leaf, { description: "x" })]
      })
      const limited = yield* parent.run("go")
      expect(limited).toMatchObject({ status: "success", answer: "parent done" })
      const refused = (yield* events(limited.runId)).find((e) => e._tag === "ToolCallCompleted")
      expect(refused).toMatchObject({ success: false })
      expect((refused as { error: string }).error).toMatch(/delegation depth limit reached: level 1 exceeds 0/)
      expect((yield* (yield* MemoryRecorder).events()).some((e) => e._tag === "RunStarted" && e.agentName === "leaf"))
        .toBe(false)
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "researcher", arguments: { input: "dig" } }] },
      { text: "child answer" },
      { text: "boss done" },
      { toolCalls: [{ name: "leaf", arguments: { input: "x" } }] },
      { text: "parent done" }
    ]))))
})
