/**
 * A real model when you have a key, the scripted model otherwise:
 *
 *   SEXTANT_MODEL=openai:gpt-4.1-mini OPENAI_API_KEY=sk-… node --conditions=@sextant/source --import tsx examples/02-real-model/main.ts
 *   SEXTANT_MODEL=anthropic:claude-sonnet-4-5 ANTHROPIC_API_KEY=…   (same command)
 *   SEXTANT_MODEL=openai-compatible:llama3.1@http://127.0.0.1:11434/v1   (Ollama; no key needed)
 *
 * Without SEXTANT_MODEL, or without the key it needs, it says so and runs the same agent on the scripted
 * model, so it always runs unattended. Prints the answer, each model call (provider, response model, usage,
 * finish reason, retries) and every recorded event.
 */
import { Model } from "@sextant/providers"
import { Agent, HookEvent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Console, Effect, Layer, Schema } from "effect"

const getWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: city === "Lisbon" ? 21 : 14, sky: "clear" })
})

const getTime = Tool.make("get_time", {
  description: "Current local time in an IANA timezone, e.g. Europe/Lisbon",
  parameters: Schema.Struct({ tz: Schema.String }),
  handler: ({ tz }) => ({ tz, time: new Date().toLocaleTimeString("en-GB", { timeZone: tz }) })
})

const scripted = ScriptedModel.layer([
  {
    toolCalls: [
      { name: "get_weather", arguments: { city: "Lisbon" } },
      { name: "get_time", arguments: { tz: "Europe/Lisbon" } }
    ],
    usage: { inputTokens: 96, outputTokens: 24 }
  },
  { text: "It is 21 °C and clear in Lisbon right now.", usage: { inputTokens: 160, outputTokens: 14 } }
])

const fallback = (why: string) =>
  Layer.merge(Layer.effectDiscard(Console.log(`${why}: using the scripted model instead.\n`)), scripted)

const spec = process.env.SEXTANT_MODEL?.trim() ?? ""
const model = spec === ""
  ? fallback("SEXTANT_MODEL is not set (e.g. SEXTANT_MODEL=openai:gpt-4.1-mini with OPENAI_API_KEY)")
  : Model.fromString(spec).pipe(Layer.catchAll((error) => fallback(error.message)))

const program = Effect.gen(function*() {
  const agent = yield* Agent.make({
    name: "travel",
    instructions: "Answer questions about places using the tools. Be brief.",
    tools: [getWeather, getTime]
  })
  const result = yield* agent.run("What's the weather and the local time in Lisbon?")
  console.log(`status: ${result.status}, iterations: ${result.iterations}`)
  console.log(result.status === "success" ? `answer: ${result.answer}` : `error: ${result.error?.message}`)
  const events = yield* (yield* MemoryRecorder).events(result.runId)
  for (const e of events) {
    if (e._tag === "LlmCallCompleted") {
      const u = e.usage
      const tokens = u === undefined
        ? "no usage reported"
        : `${u.inputTokens} in (${u.cacheReadTokens ?? "-"} cached) / ` +
          `${u.outputTokens} out (${u.reasoningTokens ?? "-"} reasoning)`
      console.log(
        `  ${e.provider}/${e.responseModel ?? e.model}: ${tokens}, finish ${e.finishReason}, ` +
          `${e.toolCalls.length} tool call(s)`
      )
    }
    if (e._tag === "ProviderRetry") console.log(`  retry ${e.attempt}: ${e.reason}`)
  }
  console.log("")
  for (const e of events) {
    console.log(`#${String(e.sequenceIndex).padStart(2)} ${HookEvent.eventType(e).padEnd(16)} iteration ${e.iteration}`)
  }
})

Effect.runPromise(program.pipe(Effect.provide(Layer.merge(model, Recorder.memory)))).catch((e) => {
  console.error(e)
  process.exitCode = 1
})
