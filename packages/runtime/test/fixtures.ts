import { Effect, Layer, Schema } from "effect"
import { Agent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "../src/index.js"

/** A weather tool and a clock tool: the two tools of the reference run. */
export const weatherTool = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed({ city, tempC: 21 })
})

export const timeTool = Tool.make("get_time", {
  description: "Current time in a timezone",
  parameters: Schema.Struct({ tz: Schema.String }),
  handler: async ({ tz }) => ({ tz, time: "12:00" })
})

/** The script of the reference two-tool run. */
export const twoToolScript: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    toolCalls: [
      { id: "p1", name: "get_weather", arguments: { city: "Lisbon" } },
      { id: "p2", name: "get_time", arguments: { tz: "Europe/Lisbon" } }
    ],
    usage: { inputTokens: 10, outputTokens: 5 }
  },
  { text: "21 °C at noon.", usage: { inputTokens: 10, outputTokens: 5 } }
]

/** Model + memory recorder for a script. */
export const testLayer = (script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  Layer.merge(ScriptedModel.layer(script), Recorder.memory)

/** Runs an agent on a script and returns the result, the recorded events and the model's requests. */
export const runScripted = (
  config: Agent.AgentConfig,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  input = "What's the weather?"
) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make(config)
    const result = yield* agent.run(input, { runId: "run-1" })
    const events = yield* (yield* MemoryRecorder).events()
    const requests = yield* (yield* ScriptedModel.Requests).requests
    return { result, events, requests }
  }).pipe(Effect.provide(testLayer(script)))
