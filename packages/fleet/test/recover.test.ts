/**
 * Continuing a run from its record (`Agent.recover`, what a runner does with a delivered run): records cut
 * where a crash would cut them, written through the hook bus to the memory recorder, then continued. Each
 * completed step stays done, what was in flight is decided as the tool declares, and the sequence stays
 * gapless.
 */
import { describe, expect, it } from "@effect/vitest"
import { Agent, HookBus, type HookEvent, MemoryRecorder, Recorder, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { model } from "./fixtures/agent.js"

const executions: Record<string, number> = {}
const tool = (name: string, idempotent: boolean) =>
  Tool.make(name, {
    description: `${name} something`,
    parameters: Schema.Struct({ ms: Schema.Number }),
    idempotent,
    handler: (_args, context) => {
      executions[context.callId] = (executions[context.callId] ?? 0) + 1
      return { ok: true }
    }
  })
const makeAgent = (onInterruptedTool: "pause" | "fail") =>
  Agent.makeSync({
    name: "fleet-test",
    instructions: "Look things up, then answer.",
    tools: [tool("lookup", true), tool("charge", false)],
    onInterruptedTool
  })

const started = (input: string): HookBus.HookEventInput => ({
  _tag: "RunStarted",
  agentName: "fleet-test",
  instructions: "Look things up, then answer.",
  input,
  delegationLevel: 0,
  tools: ["lookup", "charge"],
  metadata: { fleet: true }
})
const user = (content: string, orderIndex: number): HookBus.HookEventInput => ({
  _tag: "MessageAppended",
  orderIndex,
  message: { _tag: "user", content }
})
const llmStarted = (correlationId: string): HookBus.HookEventInput => ({
  _tag: "LlmCallStarted",
  correlationId,
  provider: "scripted",
  model: "fleet-test",
  messageCount: 1
})
const call = (id: string, name: string) => ({ id, name, arguments: { ms: 1 } })
const llmCompleted = (
  correlationId: string,
  calls: ReadonlyArray<ReturnType<typeof call>>
): HookBus.HookEventInput => ({
  _tag: "LlmCallCompleted",
  correlationId,
  provider: "scripted",
  model: "fleet-test",
  text: "",
  toolCalls: calls,
  finishReason: "tool_calls",
  usage: { inputTokens: 10, outputTokens: 5 },
  durationMs: 1,
  request: null
})
const assistant = (calls: ReadonlyArray<ReturnType<typeof call>>, orderIndex: number): HookBus.HookEventInput => ({
  _tag: "MessageAppended",
  orderIndex,
  message: { _tag: "assistant", content: "", toolCalls: calls }
})
const toolStarted = (c: ReturnType<typeof call>): HookBus.HookEventInput => ({
  _tag: "ToolCallStarted",
  correlationId: c.id,
  toolName: c.name,
  target: "server",
  arguments: c.arguments
})
const toolCompleted = (c: ReturnType<typeof call>): HookBus.HookEventInput => ({
  _tag: "ToolCallCompleted",
  correlationId: c.id,
  toolName: c.name,
  target: "server",
  success: true,
  result: { ok: true },
  durationMs: 1
})
const toolMessage = (c: ReturnType<typeof call>, orderIndex: number): HookBus.HookEventInput => ({
  _tag: "MessageAppended",
  orderIndex,
  message: { _tag: "tool", toolCallId: c.id, toolName: c.name, content: "{\"ok\":true}", isError: false }
})

/** Records the cut record (iterations as the loop stamps them), then continues it. */
const recordThenRecover = (
  runId: string,
  cut: ReadonlyArray<readonly [HookBus.HookEventInput, number]>,
  onInterruptedTool: "pause" | "fail" = "pause"
) =>
  Effect.gen(function*() {
    const bus = yield* HookBus.open({ runId })
    for (const [event, iteration] of cut) yield* bus.emit(event, iteration)
    const memory = yield* MemoryRecorder
    const agent = makeAgent(onInterruptedTool)
    const result = yield* Agent.recover(agent, runId, yield* memory.events(runId))
    return { agent, result, events: yield* memory.events(runId) }
  }).pipe(Effect.scoped)

const gapless = (events: ReadonlyArray<HookEvent.HookEvent>) =>
  expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))

const count = (events: ReadonlyArray<HookEvent.HookEvent>, tag: HookEvent.HookEventTag) =>
  events.filter((e) => e._tag === tag).length

const layer = Layer.merge(Recorder.memory, model)

describe("Agent.recover", () => {
  it.effect("a queued run (only run.started) executes from the start, with no recovery recorded", () =>
    Effect.gen(function*() {
      const { events, result } = yield* recordThenRecover("r-queued", [[started("hello"), 0]])
      expect(result).toMatchObject({ status: "success", answer: "done hello", iterations: 3 })
      expect(count(events, "CustomEvent")).toBe(0)
      gapless(events)
    }).pipe(Effect.provide(layer)))

  it.effect("a model call in flight is recorded abandoned and made again", () =>
    Effect.gen(function*() {
      const { events, result } = yield* recordThenRecover("r-llm", [
        [started("hello"), 0],
        [user("hello", 0), 0],
        [llmStarted("lost"), 1]
      ])
      expect(result).toMatchObject({ status: "success", iterations: 3 })
      const failed = events.filter((e) => e._tag === "LlmCallFailed")
      expect(failed).toMatchObject([{ correlationId: "lost", error: { tag: "Abandoned" } }])
      expect(count(events, "LlmCallCompleted")).toBe(3)
      const recovered = events.find((e) => e._tag === "CustomEvent")
      expect(recovered).toMatchObject({ name: Agent.RECOVERED_EVENT, data: { abandonedModelCalls: ["lost"] } })
      gapless(events)
    }).pipe(Effect.provide(layer)))

  it.effect("an idempotent tool call in flight executes again; completed steps are not repeated", () =>
    Effect.gen(function*() {
      const first = call("t-idem", "lookup")
      const { events, result } = yield* recordThenRecover("r-idem", [
        [started("hello"), 0],
        [user("hello", 0), 0],
        [llmStarted("c1"), 1],
        [llmCompleted("c1", [first]), 1],
        [assistant([first], 1), 1],
        [toolStarted(first), 1]
      ])
      expect(result).toMatchObject({ status: "success", iterations: 3 })
      expect(executions["t-idem"]).toBe(1)
      // c1 stays the only completion of the first call: two more turns were made after it.
      expect(events.filter((e) => e._tag === "LlmCallCompleted").map((e) => e.correlationId)[0]).toBe("c1")
      expect(count(events, "LlmCallCompleted")).toBe(3)
      expect(count(events, "LlmCallStarted")).toBe(3)
      expect(events.filter((e) => e._tag === "ToolCallCompleted" && e.correlationId === "t-idem")).toHaveLength(1)
      gapless(events)
    }).pipe(Effect.provide(layer)))

  const chargeCut = (runId: string) => {
    const first = call(`${runId}-1`, "lookup")
    const second = call(`${runId}-2`, "charge")
    return {
      second,
      cut: [
        [started("charge it"), 0],
        [user("charge it", 0), 0],
        [llmStarted(`${runId}-c1`), 1],
        [llmCompleted(`${runId}-c1`, [first]), 1],
        [assistant([first], 1), 1],
        [toolStarted(first), 1],
        [toolCompleted(first), 1],
        [toolMessage(first, 2), 1],
        [llmStarted(`${runId}-c2`), 2],
        [llmCompleted(`${runId}-c2`, [second]), 2],
        [assistant([second], 3), 2],
        [toolStarted(second), 2]
      ] as const
    }
  }

  it.effect("a non-idempotent tool call in flight pauses the run for a person, who decides", () =>
    Effect.gen(function*() {
      const { cut, second } = chargeCut("r-pause")
      const { agent, events, result } = yield* recordThenRecover("r-pause", cut)
      expect(result).toMatchObject({ status: "waiting_approval", pendingCalls: [{ id: second.id, name: "charge" }] })
      expect(executions[second.id]).toBeUndefined()
      const paused = events.find((e) => e._tag === "RunPaused")
      expect(paused).toMatchObject({ prompt: Agent.INTERRUPTED_PROMPT })
      expect(events.find((e) => e._tag === "CustomEvent")).toMatchObject({
        data: { interruptedToolCalls: [second.id], decision: "pause" }
      })
      gapless(events)
      const approved = yield* agent.submitApproval("r-pause", { approved: true })
      expect(approved).toMatchObject({ status: "success", iterations: 3 })
      expect(executions[second.id]).toBe(1)
    }).pipe(Effect.provide(layer)))

  it.effect("onInterruptedTool: fail ends the run error / interrupted", () =>
    Effect.gen(function*() {
      const { cut, second } = chargeCut("r-fail")
      const { events, result } = yield* recordThenRecover("r-fail", cut, "fail")
      expect(result).toMatchObject({ status: "error", error: { failureReason: "interrupted" } })
      expect(executions[second.id]).toBeUndefined()
      gapless(events)
    }).pipe(Effect.provide(layer)))

  it.effect("a run that is no longer running answers with its stored result and executes nothing", () =>
    Effect.gen(function*() {
      const first = yield* recordThenRecover("r-done", [[started("hello"), 0]])
      const memory = yield* MemoryRecorder
      const again = yield* Agent.recover(first.agent, "r-done", yield* memory.events("r-done"))
      expect(again).toMatchObject({ status: "success", answer: "done hello" })
      expect((yield* memory.events("r-done")).length).toBe(first.events.length)
    }).pipe(Effect.provide(layer)))
})
