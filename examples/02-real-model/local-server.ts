/**
 * The providers' wire path with no key and no network: a tiny OpenAI-compatible server on 127.0.0.1 plays
 * the model (it asks for the weather tool, then answers with the tool's result), and the agent talks to it
 * through `Model.fromString("openai-compatible:…@http://127.0.0.1:<port>/v1")`, exactly as it would talk to
 * Ollama or vLLM. Prints the answer, the usage and the exact request body of the second call.
 *
 *   node --conditions=@sextant/source --import tsx examples/02-real-model/local-server.ts
 */
import { Model } from "@sextant/providers"
import { Agent, MemoryRecorder, Recorder, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** The fake model: a tool call when no tool result is in the conversation yet, else an answer using it. */
const server = createServer((req, res) => {
  let raw = ""
  req.on("data", (chunk) => (raw += chunk))
  req.on("end", () => {
    const body = JSON.parse(raw) as { messages: Array<{ role: string; content: string | null }> }
    const result = body.messages.find((m) => m.role === "tool")
    const message = result === undefined
      ? {
        role: "assistant",
        content: null,
        tool_calls: [{
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: "{\"city\":\"Lisbon\"}" }
        }]
      }
      : { role: "assistant", content: `Lisbon: ${JSON.parse(result.content ?? "{}").tempC} °C.` }
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({
      id: `chatcmpl-${body.messages.length}`,
      model: "demo-model",
      choices: [{ index: 0, message, finish_reason: result === undefined ? "tool_calls" : "stop" }],
      usage: { prompt_tokens: 20 * body.messages.length, completion_tokens: 8 }
    }))
  })
})

const getWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})

const program = (port: number) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "weather", instructions: "Use the tools.", tools: [getWeather] })
    const result = yield* agent.run("Weather in Lisbon?")
    console.log(`answer: ${result.answer} (${result.usage.inputTokens} in / ${result.usage.outputTokens} out)`)
    const calls = (yield* (yield* MemoryRecorder).events(result.runId)).filter((e) => e._tag === "LlmCallCompleted")
    console.log("exact request body of the second call:")
    console.log(JSON.stringify(calls[1]?.providerRequest, null, 2))
  }).pipe(
    Effect.provide(
      Layer.merge(Model.fromString(`openai-compatible:demo-model@http://127.0.0.1:${port}/v1`), Recorder.memory)
    )
  )

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo
  Effect.runPromise(program(port))
    .catch((e) => {
      console.error(e)
      process.exitCode = 1
    })
    .finally(() => server.close())
})
