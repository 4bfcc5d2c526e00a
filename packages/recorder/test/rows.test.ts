import { describe, expect, it } from "@effect/vitest"
import { Agent, HookEvent, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { SqlRecorder } from "../src/index.js"
import { dialects, memoryRun, readAll, recordedEvents } from "./support.js"

const weather = Tool.make("get_weather", {
  description: "Current weather",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21, clear: true, hourly: [20, 21, null] })
})
const time = Tool.make("get_time", {
  description: "Current time",
  parameters: Schema.Struct({ tz: Schema.String }),
  handler: () => "12:00"
})
const config: Agent.AgentConfig = { name: "weather", instructions: "Use the tools.", tools: [weather, time] }
// Token counts past 2^31 and a cost: BIGINT and REAL must come back as the same numbers on both dialects.
const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    toolCalls: [
      { id: "p1", name: "get_weather", arguments: { city: "Lisbon" } },
      { id: "p2", name: "get_time", arguments: { tz: "Europe/Lisbon" } }
    ],
    usage: { inputTokens: 5_000_000_000, outputTokens: 12, cacheReadTokens: 4_000_000_000, costUsd: 0.0125 }
  },
  { text: "21 °C at noon.", usage: { inputTokens: 30, outputTokens: 6 } }
]

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const replay = (url: string, events: ReadonlyArray<HookEvent.HookEvent>) =>
  Effect.gen(function*() {
    const recorder = yield* Recorder
    for (const event of events) yield* recorder.record(event)
    return yield* readAll()
  }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))

describe("the record of a two-tool run", () => {
  it.scoped("the same events decode to identical rows in all six tables on SQLite and Postgres", () =>
    Effect.gen(function*() {
      const events = yield* memoryRun(config, script, "run-two-tools")
      const [sqlite, postgres] = dialects
      const a = yield* replay(yield* sqlite!.database, events)
      const b = yield* replay(yield* postgres!.database, events)
      expect(a).toEqual(b)

      const [run] = a.agent_runs
      expect(run).toMatchObject({
        id: "run-two-tools",
        tenant_id: "acme",
        agent_name: "weather",
        status: "success",
        answer: "21 °C at noon.",
        provider: "scripted",
        iteration_count: 2,
        total_input_tokens: 5_000_000_030,
        total_output_tokens: 18,
        total_cache_read_tokens: 4_000_000_000,
        total_cost_usd: 0.0125,
        model_call_count: 2,
        unpriced_call_count: 1,
        metadata: { ticket: 7 },
        cancel_requested: false,
        last_sequence_index: events.length - 1,
        failure_reason: null
      })
      expect(run!.finished_at).toMatch(ISO)
      expect(a.react_traces.map((t) => t.role)).toEqual(["user", "assistant", "tool", "tool", "assistant"])
      expect(a.react_traces[1]!.tool_calls).toMatchObject([
        { name: "get_weather", providerCallId: "p1" },
        { name: "get_time" }
      ])
      expect(a.react_traces[2]).toMatchObject({ tool_name: "get_weather", provider_call_id: "p1", is_error: false })
      expect(a.tool_calls).toHaveLength(2)
      const byName = Object.fromEntries(a.tool_calls.map((c) => [c.tool_name, c]))
      expect(byName.get_weather).toMatchObject({
        params: { city: "Lisbon" },
        result: { city: "Lisbon", tempC: 21, clear: true, hourly: [20, 21, null] },
        success: true,
        target: "server",
        iteration: 1
      })
      expect(byName.get_time).toMatchObject({ result: "12:00", success: true, provider_call_id: "p2" })
      expect(byName.get_time!.completed_at).toMatch(ISO)
      expect(a.llm_interactions.map((i) => i.status)).toEqual(["completed", "completed"])
      const first = a.llm_interactions.find((i) => i.iteration === 1)!
      expect(first).toMatchObject({ input_tokens: 5_000_000_000, cache_read_tokens: 4_000_000_000, cost_usd: 0.0125 })
      expect(first.semantic_request).toMatchObject({ system: "Use the tools." })
      expect(first.provider_response).toMatchObject({ responseId: "scripted_1" })
      expect(a.token_usage).toHaveLength(2)
      expect(a.token_usage.every((u) => u.tenant_id === "acme" && u.agent_name === "weather")).toBe(true)
      expect(a.token_usage.map((u) => u.input_tokens).sort()).toEqual([30, 5_000_000_000])

      expect(a.run_events.map((e) => [e.sequence_index, e.event_type])).toEqual(
        events.map((e) => [e.sequenceIndex, HookEvent.eventType(e)])
      )
      const completed = a.run_events.find((e) => e.event_type === "llm.completed")!
      expect(completed.correlation_id).toBe(first.id)
      expect(Object.keys(completed.data as object)).not.toContain("request")
      expect(Object.keys(completed.data as object)).not.toContain("providerResponse")
      expect(completed.data).toMatchObject({ _tag: "LlmCallCompleted", usage: { inputTokens: 5_000_000_000 } })
      expect(Object.keys(completed.data as object)).not.toContain("runId")
    }))

  for (const dialect of dialects) {
    it.scoped(`${dialect.name}: a run through the loop records every event before the run returns`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const { events, result, rows } = yield* Effect.gen(function*() {
          const agent = yield* Agent.make(config)
          const result = yield* agent.run("weather?", { runId: "live-run" })
          return { result, events: yield* recordedEvents("live-run"), rows: yield* readAll() }
        }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))))
        expect(result.status).toBe("success")
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i))
        // The two tools run concurrently, so their starts and ends may interleave; the rest is in loop order.
        const types = events.map((e) => e.type)
        expect(types.slice(0, 5)).toEqual([
          "run.started",
          "message.appended",
          "llm.started",
          "llm.completed",
          "message.appended"
        ])
        expect([...types.slice(5, 9)].sort()).toEqual([
          "tool.completed",
          "tool.completed",
          "tool.started",
          "tool.started"
        ])
        expect(types.slice(9)).toEqual([
          "message.appended",
          "message.appended",
          "llm.started",
          "llm.completed",
          "message.appended",
          "run.completed"
        ])
        expect(rows.agent_runs).toHaveLength(1)
        expect(rows.react_traces).toHaveLength(5)
        expect(rows.tool_calls).toHaveLength(2)
        expect(rows.llm_interactions).toHaveLength(2)
        expect(rows.token_usage).toHaveLength(2)
        expect(rows.run_events).toHaveLength(15)
      }))
  }
})

describe("a model call that reported no usage", () => {
  // The first turn reports no usage (as a vendor may not); the second does.
  const unreported: ReadonlyArray<ScriptedModel.ScriptStep> = [
    { toolCalls: [{ id: "p1", name: "get_weather", arguments: { city: "Lisbon" } }] },
    { text: "21 °C.", usage: { inputTokens: 30, outputTokens: 6, costUsd: 0.001 } }
  ]
  it.scoped("writes no billing row and no counts, and leaves the run's cost unknown, on both dialects", () =>
    Effect.gen(function*() {
      const events = yield* memoryRun(config, unreported, "run-no-usage")
      const [sqlite, postgres] = dialects
      const a = yield* replay(yield* sqlite!.database, events)
      const b = yield* replay(yield* postgres!.database, events)
      expect(a).toEqual(b)
      expect(a.token_usage.map((u) => [u.iteration, u.input_tokens, u.output_tokens])).toEqual([[2, 30, 6]])
      const first = a.llm_interactions.find((i) => i.iteration === 1)!
      expect(first).toMatchObject({ status: "completed", input_tokens: null, output_tokens: null, cost_usd: null })
      expect(first.cost_note).toMatch(/reported no usage/)
      expect(first.semantic_response).not.toHaveProperty("usage")
      expect(a.agent_runs[0]).toMatchObject({
        total_input_tokens: 30,
        total_output_tokens: 6,
        model_call_count: 2,
        unpriced_call_count: 1
      })
    }))
})
