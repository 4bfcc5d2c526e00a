import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Agent, HookEvent, type ScriptedModel } from "../src/index.js"
import { runScripted, testLayer, timeTool, twoToolScript, weatherTool } from "./fixtures.js"

const config = { name: "weather", instructions: "Be brief.", tools: [weatherTool, timeTool] }
/** A price (USD per million tokens) for the scripted model. */
const pricey = { inputPerMTok: 1, outputPerMTok: 2 }
/** A step computed from the request: it answers with what the user said last. */
const echo: ScriptedModel.ScriptStep = (request) => ({ text: `you said ${request.messages.at(-1)?.content}` })

describe("the agent loop", () => {
  it.effect("records the exact event sequence of a two-tool run", () =>
    Effect.gen(function*() {
      const { events, requests, result } = yield* runScripted(config, twoToolScript)
      expect(events.map(HookEvent.eventType)).toEqual([
        "run.started",
        "message.appended",
        "llm.started",
        "llm.completed",
        "message.appended",
        "tool.started",
        "tool.started",
        "tool.completed",
        "tool.completed",
        "message.appended",
        "message.appended",
        "llm.started",
        "llm.completed",
        "message.appended",
        "run.completed"
      ])
      expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))
      expect(events.every((e) => e.runId === "run-1")).toBe(true)
      expect(events.map((e) => e.iteration)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2])

      // Starts and ends pair by correlation id, never by position.
      const pairs = (start: string, end: string) => {
        const starts = events.filter((e) => HookEvent.eventType(e) === start).map((e) =>
          (e as { correlationId: string }).correlationId
        )
        const ends = events.filter((e) => HookEvent.eventType(e) === end).map((e) =>
          (e as { correlationId: string }).correlationId
        )
        return { starts, ends }
      }
      const llm = pairs("llm.started", "llm.completed")
      expect(llm.ends).toEqual(llm.starts)
      expect(new Set(llm.starts).size).toBe(2)
      const tools = pairs("tool.started", "tool.completed")
      expect([...tools.ends].sort()).toEqual([...tools.starts].sort())
      expect(new Set(tools.starts).size).toBe(2)

      const completed = events.filter((e) => e._tag === "ToolCallCompleted")
      expect(completed.map((e) => [e.toolName, e.success, e.result, e.providerCallId]).sort()).toEqual([
        ["get_time", true, { time: "12:00", tz: "Europe/Lisbon" }, "p2"],
        ["get_weather", true, { city: "Lisbon", tempC: 21 }, "p1"]
      ])

      // Tool results reach the model in call order, with its own call ids.
      const second = requests[1]!
      expect(second.messages.map((m) => m._tag)).toEqual(["user", "assistant", "tool", "tool"])
      expect(second.messages.slice(2).map((m) => (m._tag === "tool" ? [m.providerCallId, m.toolName] : []))).toEqual([
        ["p1", "get_weather"],
        ["p2", "get_time"]
      ])
      expect(second.tools.map((t) => t.name)).toEqual(["get_weather", "get_time"])

      expect(result).toEqual({
        runId: "run-1",
        status: "success",
        answer: "21 °C at noon.",
        iterations: 2,
        usage: { inputTokens: 20, outputTokens: 10 }
      })
    }))

  it("tagOfEventType reads every recorded event_type back to its tag, and nothing else", () => {
    for (const [tag, type] of Object.entries(HookEvent.EventTypes)) expect(HookEvent.tagOfEventType(type)).toBe(tag)
    expect(HookEvent.tagOfEventType("run.exploded")).toBeUndefined()
    expect(HookEvent.tagOfEventType("constructor")).toBeUndefined()
  })

  it.effect("every recorded event survives a JSON round trip through the HookEvent schema", () =>
    Effect.gen(function*() {
      const { events } = yield* runScripted(config, twoToolScript)
      for (const event of events) {
        const decoded = yield* Schema.decodeUnknown(HookEvent.HookEvent)(JSON.parse(JSON.stringify(event)))
        expect(decoded).toEqual(event)
      }
    }))

  it.effect("stops at maxIterations when the model keeps calling tools", () =>
    Effect.gen(function*() {
      const loop = { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] }
      const { events, requests, result } = yield* runScripted(
        { ...config, maxIterations: 3 },
        [loop, loop, loop, loop]
      )
      expect(result.status).toBe("max_iterations")
      expect(result.iterations).toBe(3)
      expect(result.answer).toBeUndefined()
      expect(requests).toHaveLength(3)
      expect(events.filter((e) => e._tag === "ToolCallCompleted")).toHaveLength(3)
      expect(events.at(-1)).toMatchObject({ _tag: "RunCompleted", status: "max_iterations", iterations: 3 })
    }))

  it.effect("a failing model call ends the run in error with llm.failed and run.failed recorded", () =>
    Effect.gen(function*() {
      const { events, result } = yield* runScripted(config, [{ fail: "upstream said no" }])
      expect(result.status).toBe("error")
      expect(result.error).toEqual({ tag: "ModelError", message: "upstream said no", failureReason: "model" })
      expect(events.slice(-2).map(HookEvent.eventType)).toEqual(["llm.failed", "run.failed"])
    }))

  it.effect("an exhausted script is a clear model error", () =>
    Effect.gen(function*() {
      const { result } = yield* runScripted(config, [twoToolScript[0]!])
      expect(result.status).toBe("error")
      expect(result.error?.message).toMatch(/script exhausted: it has 1 turn\(s\) and got request 2/)
    }))

  it.effect("usage adds up per call; optional counts stay absent until reported; cost only when every call has one", () =>
    Effect.gen(function*() {
      const { events, result } = yield* runScripted(config, [
        {
          toolCalls: [{ name: "get_weather", arguments: { city: "Rome" } }],
          usage: { inputTokens: 100, outputTokens: 10, cacheReadTokens: 40, costUsd: 0.5 }
        },
        { text: "Warm.", usage: { inputTokens: 120, outputTokens: 5, reasoningTokens: 3 } }
      ])
      expect(result.usage).toEqual({ inputTokens: 220, outputTokens: 15, cacheReadTokens: 40, reasoningTokens: 3 })
      const llm = events.filter((e) => e._tag === "LlmCallCompleted")
      expect(llm[0]!.usage).toEqual({ inputTokens: 100, outputTokens: 10, cacheReadTokens: 40, costUsd: 0.5 })
      expect(llm[0]!.costNote).toBeUndefined()
      expect(llm[1]!.costNote).toMatch(/^no price for scripted:scripted/)
    }))

  it.effect("a scripted turn without usage reports none: no invented counts, the call counted without a cost", () =>
    Effect.gen(function*() {
      const { events, result } = yield* runScripted({ ...config, prices: { scripted: pricey } }, [
        { toolCalls: [{ name: "get_weather", arguments: { city: "Rome" } }] },
        { text: "Warm.", usage: { inputTokens: 120, outputTokens: 5 } }
      ])
      // Only the call that reported usage adds tokens; the other leaves the run's cost unknown.
      expect(result.usage).toEqual({ inputTokens: 120, outputTokens: 5 })
      const llm = events.filter((e) => e._tag === "LlmCallCompleted")
      expect(llm[0]).not.toHaveProperty("usage")
      expect(llm[0]!.costNote).toBe("the model reported no usage, so the call has no token counts and no cost")
      expect(llm[1]!.usage).toEqual({ inputTokens: 120, outputTokens: 5, costUsd: 0.00013 })
      const completed = events.find((e) => e._tag === "RunCompleted")
      expect(completed?.usage).toEqual({ inputTokens: 120, outputTokens: 5 })
    }))

  it.effect("a step can be a function of the request, and the script is shared by the runs of one layer", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "echo", instructions: "" })
      const first = yield* agent.run("one")
      const second = yield* agent.run("two")
      expect([first.answer, second.answer]).toEqual(["you said one", "you said two"])
      const third = yield* agent.run("three")
      expect(third.status).toBe("error")
      expect(third.error?.message).toMatch(/script exhausted: it has 2 turn\(s\) and got request 3/)
    }).pipe(Effect.provide(testLayer([echo, echo]))))
})
