/**
 * The weather agent: one tool, a scripted model (no API key), the memory recorder. Prints the answer and
 * every recorded event of the run.
 */
import { Agent, HookEvent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"

const getWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: city === "Lisbon" ? 21 : 14, sky: "clear" })
})

const model = ScriptedModel.layer([
  { toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }], usage: { inputTokens: 52, outputTokens: 12 } },
  { text: "It is 21 °C and clear in Lisbon.", usage: { inputTokens: 81, outputTokens: 11 } }
])

const program = Effect.gen(function*() {
  const agent = yield* Agent.make({
    name: "weather",
    instructions: "Answer weather questions using the get_weather tool.",
    tools: [getWeather]
  })
  const result = yield* agent.run("What's the weather in Lisbon?")
  console.log(`answer: ${result.answer}`)
  console.log(`status: ${result.status}, iterations: ${result.iterations}, tokens: ${result.usage.inputTokens} in / ${result.usage.outputTokens} out\n`)
  const events = yield* (yield* MemoryRecorder).events(result.runId)
  for (const e of events) {
    console.log(`#${String(e.sequenceIndex).padStart(2)} ${HookEvent.eventType(e).padEnd(16)} iteration ${e.iteration}`)
  }
})

Effect.runPromise(program.pipe(Effect.provide(Layer.merge(model, Recorder.memory)))).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
