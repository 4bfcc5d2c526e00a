import {
  type AIMessage,
  type AIMessageChunk,
  type BaseMessage,
  HumanMessage,
  ToolMessage
} from "@langchain/core/messages"
import { type StructuredToolInterface, tool } from "@langchain/core/tools"
import { FakeListChatModel } from "@langchain/core/utils/testing"
import { ChatOpenAI } from "@langchain/openai"
import { SqlRecorder } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import { createTempDir } from "../../../test-support/databases.js"
import { Trace } from "../src/index.js"
import * as LangChain from "../src/langchain.js"
import { startModelServer } from "./modelServer.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

describe("LangChain callback handler", () => {
  it("records LangChain model and tool calls (a failing one too) as a run", async () => {
    const dir = createTempDir()
    cleanups.push(dir.remove)
    const url = `sqlite:${join(dir.path, "lc.db")}`
    const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
    const weather = tool(async ({ city }: { city: string }) => JSON.stringify({ city, tempC: 21 }), {
      name: "get_weather",
      description: "Weather for a city",
      schema: z.object({ city: z.string() })
    })
    const broken = tool(async (): Promise<string> => {
      throw new Error("service down")
    }, { name: "get_news", description: "News", schema: z.object({}) })
    const model = new FakeListChatModel({ responses: ["Let me check.", "21 °C in Lisbon."] })

    const runId = await tracer.run("lc-agent", { input: "Weather in Lisbon?" }, async (run) => {
      const callbacks = [LangChain.handler(run, { provider: "fake" })]
      await model.invoke("Weather in Lisbon?", { callbacks })
      await weather.invoke({ city: "Lisbon" }, { callbacks })
      await expect(broken.invoke({}, { callbacks })).rejects.toThrow("service down")
      const answer = await model.invoke("And now?", { callbacks })
      await run.final(String(answer.content))
      return run.runId
    })
    await tracer.close()

    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    expect(await store.getRun(runId)).toMatchObject({
      status: "success",
      answer: "21 °C in Lisbon.",
      iterationCount: 2
    })
    const llm = (await store.getLlmCalls(runId)).items
    // LangChain's own metadata (ls_provider) names the provider; the option is only the fallback.
    expect(llm.map((c) => [c.provider, c.status])).toEqual([
      ["FakeListChatModel", "completed"],
      ["FakeListChatModel", "completed"]
    ])
    expect(llm[1]!.semanticRequest).toMatchObject({ messages: [{ role: "human", content: "And now?" }] })
    const tools = (await store.getToolCalls(runId)).items
    expect(tools.map((t) => [t.toolName, t.success, t.params])).toEqual([
      ["get_weather", true, { city: "Lisbon" }],
      ["get_news", false, {}]
    ])
    expect(tools[0]!.result).toEqual({ city: "Lisbon", tempC: 21 })
    expect(tools[1]!.error).toContain("service down")
  })

  for (const streaming of [false, true]) {
    it(`a real ChatOpenAI agent (${streaming ? "streaming" : "whole"}) against a loopback server is a run with tokens`, async () => {
      const server = await startModelServer([
        { toolCalls: [{ id: "call_w", name: "get_weather", args: { city: "Lisbon" } }], usage: [12, 6] },
        { toolCalls: [{ id: "call_n", name: "get_news", args: {} }], usage: [24, 3] },
        { text: "21 °C in Lisbon, no news.", usage: [36, 9] }
      ])
      cleanups.push(server.close)
      const dir = createTempDir()
      cleanups.push(dir.remove)
      const url = `sqlite:${join(dir.path, "lc-openai.db")}`
      const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
      const weather = tool(async ({ city }: { city: string }) => JSON.stringify({ city, tempC: 21 }), {
        name: "get_weather",
        description: "Weather for a city",
        schema: z.object({ city: z.string() })
      })
      const news = tool(async (): Promise<string> => {
        throw new Error("service down")
      }, { name: "get_news", description: "News", schema: z.object({}) })
      const tools: Record<string, StructuredToolInterface> = { get_weather: weather, get_news: news }
      const model = new ChatOpenAI({
        model: "gpt-loopback",
        apiKey: "sk-loopback",
        configuration: { baseURL: server.url },
        maxRetries: 0
      }).bindTools(Object.values(tools))

      // The agent: ask the model, run the tools it asks for (a failing one answers its error), until it answers.
      const runId = await tracer.run("lc-openai-agent", { input: "Weather in Lisbon?" }, async (run) => {
        const callbacks = [LangChain.handler(run)]
        const messages: Array<BaseMessage> = [new HumanMessage("Weather in Lisbon?")]
        for (let step = 0; step < 5; step++) {
          // Streaming through `stream` (its `invoke` with streaming: true estimates tokens with js-tiktoken, which
          // downloads its encoding: no network here; `stream` reports the server's own usage instead).
          let reply: AIMessage
          if (streaming) {
            let whole: AIMessageChunk | undefined
            for await (const chunk of await model.stream(messages, { callbacks })) {
              whole = whole === undefined ? chunk : whole.concat(chunk)
            }
            reply = whole!
          } else {
            reply = await model.invoke(messages, { callbacks })
          }
          messages.push(reply)
          if (reply.tool_calls === undefined || reply.tool_calls.length === 0) {
            await run.final(String(reply.content))
            return run.runId
          }
          for (const call of reply.tool_calls) {
            const chosen = tools[call.name]!
            try {
              messages.push((await chosen.invoke({ ...call, type: "tool_call" }, { callbacks })) as ToolMessage)
            } catch (error) {
              messages.push(
                new ToolMessage({ tool_call_id: call.id!, content: `error: ${(error as Error).message}` })
              )
            }
          }
        }
        throw new Error("the agent did not answer")
      })
      await tracer.close()

      expect(server.requests.map((r) => [r.model, r.stream === true])).toEqual(
        [1, 2, 3].map(() => ["gpt-loopback", streaming])
      )
      // The tool results went back to the model with their call ids (the failing one as its error).
      expect(server.requests[2].messages.filter((m: { role: string }) => m.role === "tool")).toMatchObject([
        { tool_call_id: "call_w" },
        { tool_call_id: "call_n", content: "error: service down" }
      ])
      const store = await RunStore.fromDatabaseUrl(url)
      cleanups.push(() => store.close())
      expect(await store.getRun(runId)).toMatchObject({
        status: "success",
        answer: "21 °C in Lisbon, no news.",
        iterationCount: 3,
        totals: { inputTokens: 72, outputTokens: 18 }
      })
      const llm = (await store.getLlmCalls(runId)).items
      expect(llm.map((c) => [c.model, c.provider, c.status, c.inputTokens, c.outputTokens])).toEqual([
        ["gpt-loopback", "openai", "completed", 12, 6],
        ["gpt-loopback", "openai", "completed", 24, 3],
        ["gpt-loopback", "openai", "completed", 36, 9]
      ])
      expect(llm[0]!.semanticResponse).toMatchObject({
        toolCalls: [{ id: "call_w", name: "get_weather", arguments: { city: "Lisbon" } }]
      })
      expect(llm[2]!.semanticResponse).toMatchObject({ text: "21 °C in Lisbon, no news." })
      const tools2 = (await store.getToolCalls(runId)).items
      expect(tools2.map((t) => [t.id, t.toolName, t.success, t.params])).toEqual([
        ["call_w", "get_weather", true, { city: "Lisbon" }],
        ["call_n", "get_news", false, {}]
      ])
      expect(tools2[0]!.result).toEqual({ city: "Lisbon", tempC: 21 })
      expect(tools2[1]!.error).toContain("service down")
    })
  }
})
