import { createOpenAI } from "@ai-sdk/openai"
import { SqlRecorder } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from "ai"
import { MockLanguageModelV3 } from "ai/test"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import { createTempDir } from "../../../test-support/databases.js"
import * as AiSdk from "../src/ai.js"
import { Trace } from "../src/index.js"
import { startModelServer, type Turn } from "./modelServer.js"

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

  const loopbackScript: ReadonlyArray<Turn> = [
    { toolCalls: [{ id: "call_w", name: "weather", args: { city: "Lisbon" } }], usage: [11, 4] },
    { toolCalls: [{ id: "call_n", name: "news", args: {} }], usage: [22, 5] },
    { text: "21 °C in Lisbon, no news.", usage: [33, 7] }
  ]

  const loopbackTools = (run: Trace.PromiseRun, order: Array<string>) =>
    AiSdk.tools(run, {
      weather: tool({
        description: "Weather for a city",
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }) => {
          order.push("weather")
          return { city, tempC: 21 }
        }
      }),
      news: tool({
        description: "News",
        inputSchema: z.object({}),
        execute: async (): Promise<string> => {
          order.push("news")
          throw new Error("service down")
        }
      })
    })

  for (const mode of ["streamText", "generateText"] as const) {
    it(`a real ${mode} with tools against a loopback OpenAI server is a recorded run with every call and its tokens`, async () => {
      const server = await startModelServer(loopbackScript)
      cleanups.push(server.close)
      const dir = createTempDir()
      cleanups.push(dir.remove)
      const url = `sqlite:${join(dir.path, "ai-loopback.db")}`
      const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
      const openai = createOpenAI({ baseURL: server.url, apiKey: "sk-loopback" })
      const order: Array<string> = []
      const runId = await tracer.run("ai-stream-agent", { input: "Weather in Lisbon?" }, async (run) => {
        const options = {
          model: wrapLanguageModel({ model: openai.chat("gpt-loopback"), middleware: AiSdk.middleware(run) }),
          prompt: "Weather in Lisbon?",
          stopWhen: stepCountIs(5),
          tools: loopbackTools(run, order)
        }
        let text: string
        if (mode === "streamText") {
          const result = streamText(options)
          const pieces: Array<string> = []
          for await (const piece of result.textStream) pieces.push(piece)
          text = pieces.join("")
          expect(pieces.length).toBeGreaterThan(1)
          expect(text).toBe(await result.text)
        } else {
          text = (await generateText(options)).text
        }
        await run.final(text)
        return run.runId
      })
      await tracer.close()

      expect(order).toEqual(["weather", "news"])
      expect(server.requests.map((r) => r.stream === true)).toEqual([1, 2, 3].map(() => mode === "streamText"))
      const store = await RunStore.fromDatabaseUrl(url)
      cleanups.push(() => store.close())
      expect(await store.getRun(runId)).toMatchObject({
        status: "success",
        answer: "21 °C in Lisbon, no news.",
        iterationCount: 3,
        totals: { inputTokens: 66, outputTokens: 16 }
      })
      const llm = (await store.getLlmCalls(runId)).items
      expect(llm.map((c) => [c.model, c.provider, c.status, c.inputTokens, c.outputTokens, c.finishReason])).toEqual([
        ["gpt-loopback", "openai.chat", "completed", 11, 4, "tool_calls"],
        ["gpt-loopback", "openai.chat", "completed", 22, 5, "tool_calls"],
        ["gpt-loopback", "openai.chat", "completed", 33, 7, "stop"]
      ])
      expect(llm[2]!.semanticResponse).toMatchObject({ text: "21 °C in Lisbon, no news." })
      expect(llm[0]!.semanticResponse).toMatchObject({
        toolCalls: [{ id: "call_w", name: "weather", arguments: { city: "Lisbon" } }]
      })
      // The exact body sent to the provider is kept.
      expect(llm[0]!.providerRequest).toMatchObject({ model: "gpt-loopback", messages: [{ role: "user" }] })
      expect((llm[0]!.providerRequest as { stream?: boolean }).stream === true).toBe(mode === "streamText")
      const tools = (await store.getToolCalls(runId)).items
      expect(tools.map((t) => [t.id, t.toolName, t.success, t.params])).toEqual([
        ["call_w", "weather", true, { city: "Lisbon" }],
        ["call_n", "news", false, {}]
      ])
      expect(tools[0]!.result).toEqual({ city: "Lisbon", tempC: 21 })
      expect(tools[1]!.error).toContain("service down")
      // The model's call is durable before its tool runs: llm.completed precedes tool.started.
      const types = (await store.getEvents(runId)).items.map((e) => e.eventType)
      expect(types.indexOf("llm.completed")).toBeLessThan(types.indexOf("tool.started"))
    })
  }

  it("a streamText step whose provider fails is a failed model call in the record", async () => {
    const server = await startModelServer([]) // no scripted turn: the server answers 404
    cleanups.push(server.close)
    const dir = createTempDir()
    cleanups.push(dir.remove)
    const url = `sqlite:${join(dir.path, "ai-fail.db")}`
    const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
    const openai = createOpenAI({ baseURL: server.url, apiKey: "sk-loopback" })
    const runId = await tracer.run("ai-broken", { input: "hi" }, async (run) => {
      const result = streamText({
        model: wrapLanguageModel({ model: openai.chat("gpt-loopback"), middleware: AiSdk.middleware(run) }),
        prompt: "hi",
        maxRetries: 0,
        onError: () => {}
      })
      const errors: Array<unknown> = []
      for await (const part of result.fullStream) if (part.type === "error") errors.push(part.error)
      expect(errors).toHaveLength(1)
      await run.fail(errors[0])
      return run.runId
    })
    await tracer.close()
    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    expect(await store.getRun(runId)).toMatchObject({ status: "error" })
    const llm = (await store.getLlmCalls(runId)).items
    expect(llm.map((c) => [c.model, c.status])).toEqual([["gpt-loopback", "failed"]])
    expect(llm[0]!.error?.message).toContain("no scripted turn")
  })
})
