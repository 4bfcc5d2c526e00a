/**
 * Commit points (docs/commit-points.md): the events between two external steps are written together and
 * awaited once, before the next step; write-ahead holds (`llm.started` / `tool.started` durable before the
 * call); notifiers see only durable events; a parallel group keeps a gapless sequence however its calls race.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema } from "effect"
import {
  Agent,
  HookEvent,
  MemoryRecorder,
  Notifier,
  Notifiers,
  Recorder,
  RecorderError,
  ScriptedModel,
  Tool
} from "../src/index.js"
import { timeTool, twoToolScript, weatherTool } from "./fixtures.js"

/** What a test recorder saw: every write (its events' indexes) and what it kept. */
interface Writes {
  readonly calls: Array<ReadonlyArray<number>>
  readonly kept: Array<HookEvent.HookEvent>
}

const refusal = (event: HookEvent.HookEvent) =>
  new RecorderError({
    operation: "record",
    eventType: HookEvent.eventType(event),
    runId: event.runId,
    sequenceIndex: event.sequenceIndex,
    attempts: 1,
    reason: "permanent",
    message: "disk on fire"
  })

/**
 * A recorder whose `recordAll` is one transaction (all or nothing, as the SQL recorder's): it refuses any
 * write holding the event at `failAt`. Its writes yield to other fibers first, so concurrent emitters race.
 */
const transactional = (writes: Writes, failAt = Number.POSITIVE_INFINITY) => {
  const write = (events: ReadonlyArray<HookEvent.HookEvent>) =>
    Effect.zipRight(
      Effect.yieldNow(),
      Effect.suspend(() => {
        writes.calls.push(events.map((e) => e.sequenceIndex))
        const bad = events.find((e) => e.sequenceIndex === failAt)
        if (bad !== undefined) return Effect.fail(refusal(bad))
        writes.kept.push(...events)
        return Effect.void
      })
    )
  return Layer.succeed(Recorder, { record: (event) => write([event]), recordAll: write })
}

const newWrites = (): Writes => ({ calls: [], kept: [] })

/** Runs `agent` on `script` with `recorder` and a notifier; returns the exit, requests and what it was shown. */
const runWith = (
  config: Agent.AgentConfig,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  recorder: Layer.Layer<Recorder>
) =>
  Effect.gen(function*() {
    const seen: Array<number> = []
    const notifier = Notifier.make({
      name: "seen",
      onEvent: (e) => void ("sequenceIndex" in e && seen.push(e.sequenceIndex))
    })
    const out = yield* Effect.gen(function*() {
      const agent = yield* Agent.make(config)
      const exit = yield* Effect.exit(agent.run("hi", { runId: "cp" }))
      return { exit, requests: (yield* (yield* ScriptedModel.Requests).requests).length }
    }).pipe(Effect.provide(Layer.mergeAll(ScriptedModel.layer(script), recorder, Notifiers.layer([notifier]))))
    // The notifier layer was released (drained): `seen` is all it was ever offered.
    return { ...out, seen }
  })

describe("commit points", () => {
  it.effect("the two-tool run is five writes for its fifteen events, each awaited before the next step", () =>
    Effect.gen(function*() {
      const writes = newWrites()
      const out = yield* runWith(
        { name: "a", instructions: "", tools: [weatherTool, timeTool] },
        twoToolScript,
        transactional(writes)
      )
      expect(Exit.isSuccess(out.exit)).toBe(true)
      expect(writes.kept.map((e) => e.sequenceIndex)).toEqual(Array.from({ length: 15 }, (_, i) => i))
      // run.started | user message, llm.started | llm.completed, assistant message, both tool.started |
      // both tool.completed, both tool messages, llm.started | llm.completed, message, run.completed
      expect(writes.calls).toEqual([[0], [1, 2], [3, 4, 5, 6], [7, 8, 9, 10, 11], [12, 13, 14]])
      expect(writes.kept.map(HookEvent.eventType).slice(3, 9)).toEqual([
        "llm.completed",
        "message.appended",
        "tool.started",
        "tool.started",
        "tool.completed",
        "tool.completed"
      ])
      expect(out.seen).toEqual(Array.from({ length: 15 }, (_, i) => i))
    }))

  for (
    const [failAt, requests, toolsRun, durable, label] of [
      [3, 1, 0, 3, "llm.completed (first of the group before the tools)"],
      [5, 1, 0, 3, "the first tool.started of a parallel group"],
      [9, 1, 2, 7, "a tool message (inside the group before the second model call)"],
      [13, 2, 2, 12, "the answer's message (inside the group before the result)"]
    ] as const
  ) {
    it.effect(`a refused write of ${label}: nothing of its group is durable or shown, nothing after it happens`, () =>
      Effect.gen(function*() {
        const writes = newWrites()
        let executed = 0
        const counted = (tool: Tool.Tool): Tool.Tool => ({
          ...tool,
          handler: (args: unknown, ctx: Tool.ToolContext) => {
            executed++
            return tool.handler!(args, ctx)
          }
        })
        const out = yield* runWith(
          { name: "a", instructions: "", tools: [counted(weatherTool), counted(timeTool)] },
          twoToolScript,
          transactional(writes, failAt)
        )
        expect(Exit.isFailure(out.exit)).toBe(true)
        if (Exit.isFailure(out.exit) && out.exit.cause._tag === "Fail") {
          expect(out.exit.cause.error).toBeInstanceOf(RecorderError)
        }
        expect(out.requests).toBe(requests)
        expect(executed).toBe(toolsRun)
        expect(writes.kept.map((e) => e.sequenceIndex)).toEqual(Array.from({ length: durable }, (_, i) => i))
        expect(out.seen).toEqual(Array.from({ length: durable }, (_, i) => i))
        expect(writes.kept.some((e) => e._tag === "RunCompleted" || e._tag === "RunFailed")).toBe(false)
      }))
  }

  it.effect("a parallel group whose calls finish in any order keeps one gapless sequence, starts before ends", () =>
    Effect.gen(function*() {
      const writes = newWrites()
      const n = 12
      // Each call yields a different number of times, so the calls complete out of call order.
      const racer = Tool.make("racer", {
        description: "finishes when it finishes",
        parameters: Schema.Struct({ k: Schema.Number }),
        handler: ({ k }) => Effect.as(Effect.forEach(Array.from({ length: (k * 7) % 5 }), () => Effect.yieldNow()), k)
      })
      const calls = Array.from({ length: n }, (_, k) => ({ id: `c${k}`, name: "racer", arguments: { k } }))
      const out = yield* runWith(
        { name: "race", instructions: "", tools: [racer] },
        [{ toolCalls: calls }, { toolCalls: calls.map((c) => ({ ...c, id: `${c.id}b` })) }, { text: "done" }],
        transactional(writes)
      )
      expect(Exit.isSuccess(out.exit)).toBe(true)
      const indexes = writes.kept.map((e) => e.sequenceIndex)
      expect(indexes).toEqual(indexes.map((_, i) => i))
      expect(out.seen).toEqual(indexes)
      for (const iteration of [1, 2]) {
        const group = writes.kept.filter((e): e is Extract<
          HookEvent.HookEvent,
          { readonly _tag: "ToolCallStarted" | "ToolCallCompleted" }
        > => (e._tag === "ToolCallStarted" || e._tag === "ToolCallCompleted") && e.iteration === iteration)
        expect(group).toHaveLength(2 * n)
        // Write-ahead for the whole group: every start is recorded before any end.
        expect(group.findIndex((e) => e._tag === "ToolCallCompleted")).toBe(n)
        expect(new Set(group.slice(n).map((e) => e.correlationId)).size).toBe(n)
        // The calls did race: they ended in another order than they started.
        expect(group.slice(n).map((e) => e.correlationId)).not.toEqual(group.slice(0, n).map((e) => e.correlationId))
        // The tool messages go in call order (the order of the starts), whatever order the calls finished in.
        const toolMessages = writes.kept.flatMap((e) =>
          e._tag === "MessageAppended" && e.message._tag === "tool" && e.iteration === iteration
            ? [e.message.toolCallId]
            : []
        )
        expect(toolMessages).toEqual(group.slice(0, n).map((e) => e.correlationId))
      }
    }))

  it.effect("the memory recorder gets the same events in the same order through recordAll", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "a", instructions: "", tools: [weatherTool, timeTool] })
      const result = yield* agent.run("hi")
      const events = yield* (yield* MemoryRecorder).events(result.runId)
      expect(events.map((e) => e.sequenceIndex)).toEqual(Array.from({ length: 15 }, (_, i) => i))
      expect(events.at(-1)?._tag).toBe("RunCompleted")
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(twoToolScript), Recorder.memory))))
})
