import { tool } from "@langchain/core/tools"
import { FakeListChatModel } from "@langchain/core/utils/testing"
import { SqlRecorder } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { z } from "zod"
import { createTempDir } from "../../../test-support/databases.js"
import { Trace } from "../src/index.js"
import * as LangChain from "../src/langchain.js"

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
})
