/**
 * The console notifier on a scripted two-tool run (no API key). Run:
 *   node --conditions=@sextant/source --import tsx packages/notifiers/examples/console.ts
 */
import { ConsoleNotifier } from "@sextant/notifiers"
import { Agent, AgentRuntime, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Layer, Schema } from "effect"

const weather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21, sky: "clear" })
})

const model = ScriptedModel.layer([
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 1200, outputTokens: 18, cacheReadTokens: 1024, costUsd: 0.0009 }
  },
  { text: "It is 21 °C and clear in Lisbon.", usage: { inputTokens: 1260, outputTokens: 11, costUsd: 0.0004 } }
])

const runtime = AgentRuntime.make(Layer.merge(model, Recorder.memory), { notifiers: [ConsoleNotifier.make()] })
const agent = Agent.makeSync({ name: "weather", instructions: "Use get_weather.", tools: [weather] })
await runtime.run(agent, "What's the weather in Lisbon?")
await runtime.dispose()
