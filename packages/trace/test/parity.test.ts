import { describe, expect, layer } from "@effect/vitest"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Effect, Schema } from "effect"
import { Trace } from "../src/index.js"
import { dialects, storeLayer } from "./support.js"

const weather = Tool.make("get_weather", {
  description: "Weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})
const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 50, outputTokens: 12, costUsd: 0.001 }
  },
  { text: "21 and sunny", usage: { inputTokens: 80, outputTokens: 9, costUsd: 0.002 } }
]

/** What a recorded run looks like in the store, without ids, times and the semantic request. */
const shape = (runId: string) =>
  Effect.gen(function*() {
    const store = yield* RunStore
    const run = yield* store.getRun(runId)
    const events = (yield* store.getEvents(runId, { limit: 100 })).items
    return {
      run: {
        status: run.status,
        answer: run.answer,
        tenantId: run.tenantId,
        input: run.input,
        iterationCount: run.iterationCount,
        totals: run.totals
      },
      events: events.map((e) => [e.sequenceIndex, e.eventType, e.iteration]),
      traces: (yield* store.getTraces(runId)).items.map((
        t
      ) => [t.orderIndex, t.iteration, t.role, t.content, t.toolName, t.isError]),
      tools: (yield* store.getToolCalls(runId)).items.map((
        t
      ) => [t.toolName, t.target, t.iteration, t.params, t.result, t.success, t.error]),
      llm: (yield* store.getLlmCalls(runId)).items.map((
        c
      ) => [c.iteration, c.status, c.provider, c.model, c.finishReason, c.inputTokens, c.outputTokens, c.costUsd])
    }
  })

for (const dialect of dialects) {
  describe(`parity with the native loop on ${dialect.name}`, () => {
    layer(storeLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("a traced run records what the runtime's own loop records for the same run", () =>
        Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "weather", instructions: "Be brief.", tools: [weather] })
          const native = yield* agent.run("Weather in Lisbon?", { tenantId: "acme" }).pipe(
            Effect.provide(ScriptedModel.layer(script, { model: "weather-model" }))
          )
          const store = yield* RunStore
          const [call] = (yield* store.getLlmCalls(native.runId)).items
          const traced = yield* Trace.run(
            "weather",
            { tenantId: "acme", input: "Weather in Lisbon?" },
            (run) =>
              Effect.gen(function*() {
                const model = { model: call!.model, provider: call!.provider }
                yield* run.llm({
                  ...model,
                  toolCalls: [{ id: "c1", name: "get_weather", arguments: { city: "Lisbon" } }],
                  usage: { inputTokens: 50, outputTokens: 12, costUsd: 0.001 }
                })
                yield* run.tool("get_weather", { city: "Lisbon" }, Effect.succeed({ city: "Lisbon", tempC: 21 }), {
                  callId: "c1"
                })
                yield* run.llm({
                  ...model,
                  text: "21 and sunny",
                  usage: { inputTokens: 80, outputTokens: 9, costUsd: 0.002 }
                })
                yield* run.final("21 and sunny")
                return run.runId
              })
          )
          const expected = yield* shape(native.runId)
          expect(expected.events).toHaveLength(12)
          expect(expected.tools).toHaveLength(1)
          expect(yield* shape(traced)).toEqual(expected)
        }))
    })
  })
}
