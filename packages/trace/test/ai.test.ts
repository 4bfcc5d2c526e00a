import { SqlRecorder } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { generateText, stepCountIs, tool, wrapLanguageModel } from "ai"
import { MockLanguageModelV3 } from "ai/test"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import { createTempDir } from "../../../test-support/databases.js"
import * as AiSdk from "../src/ai.js"
import { Trace } from "../src/index.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined }
})

/** A scripted model: two tool-call steps, then the answer. */
const scripted = () =>
  new MockLanguageModelV3({
    provider: "mock-provider",
    modelId: "mock-model",
    doGenerate: [
      {
        content: [{ type: "tool-call", toolCallId: "call-1", toolName: "weather", input: "{\"city\":\"Lisbon\"}" }],
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage: usage(10, 3),
        warnings: [],
        response: { id: "resp-1", modelId: "mock-model-2026", timestamp: new Date(0), body: { step: 1 } }
      },
      {
        content: [{ type: "tool-call", toolCallId: "call-2", toolName: "news", input: "{}" }],
        finishReason: { unified: "tool-calls", raw: "tool_calls" },
        usage: usage(20, 4),
        warnings: []
      },
      {
        content: [{ type: "text", text: "21 °C in Lisbon." }],
        finishReason: { unified: "stop", raw: "stop" },
        usage: usage(30, 5),
        warnings: []
      }
    ]
  })

describe("Vercel AI SDK adapter", () => {
  it("a real generateText with two tool steps (one failing) is a recorded run with every call and its tokens", async () => {
    const dir = createTempDir()
    cleanups.push(dir.remove)
    const url = `sqlite:${join(dir.path, "ai.db")}`
    const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
    const runId = await tracer.run("ai-agent", { input: "Weather in Lisbon?" }, async (run) => {
      const result = await generateText({
        model: wrapLanguageModel({ model: scripted(), middleware: AiSdk.middleware(run) }),
        prompt: "Weather in Lisbon?",
        stopWhen: stepCountIs(5),
        tools: AiSdk.tools(run, {
          weather: tool({
            description: "Weather for a city",
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => ({ city, tempC: 21 })
          }),
          news: tool({
            description: "News",
            inputSchema: z.object({}),
            execute: async (): Promise<string> => {
              throw new Error("service down")
            }
          })
        })
      })
      await run.final(result.text)
      return run.runId
    })
    await tracer.close()

    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    expect(await store.getRun(runId)).toMatchObject({ status: "success", answer: "21 °C in Lisbon." })
    const llm = (await store.getLlmCalls(runId)).items
    expect(llm.map((c) => [c.model, c.provider, c.status, c.inputTokens, c.outputTokens])).toEqual([
      ["mock-model", "mock-provider", "completed", 10, 3],
      ["mock-model", "mock-provider", "completed", 20, 4],
      ["mock-model", "mock-provider", "completed", 30, 5]
    ])
    const tools = (await store.getToolCalls(runId)).items
    expect(tools.map((t) => [t.toolName, t.success, t.params])).toEqual([
      ["weather", true, { city: "Lisbon" }],
      ["news", false, {}]
    ])
    expect(tools[0]!.result).toEqual({ city: "Lisbon", tempC: 21 })
    expect(tools[1]!.error).toContain("service down")
  })
})
