import { SqlRecorder } from "@sextant/recorder"
import { Notifier, Notifiers, type StreamEvent } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Layer } from "effect"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { createTempDir } from "../../../test-support/databases.js"
import { Trace } from "../src/index.js"

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

const tempDb = () => {
  const dir = createTempDir()
  cleanups.push(dir.remove)
  return `sqlite:${join(dir.path, "trace.db")}`
}

describe("Trace.make (Promise API)", () => {
  it("records nested runs through AsyncLocalStorage, concurrent tools gapless, traced functions as tools", async () => {
    const url = tempDb()
    const seen: Array<StreamEvent.StreamEvent> = []
    const notifiers = Notifiers.layer([
      Notifier.make({
        name: "broken",
        onEvent: () => {
          throw new Error("notifier exploded")
        }
      }),
      Notifier.make({ name: "collect", onEvent: (event) => void seen.push(event) })
    ])
    const tracer = Trace.make(Layer.merge(SqlRecorder.layerFromUrl(url), notifiers))
    const double = tracer.traced(async (n: number) => n * 2, { kind: "tool", name: "double" })
    const shout = tracer.traced((s: string) => s.toUpperCase(), { kind: "tool", name: "shout" })
    expect(await double(2)).toBe(4) // outside a run it is just called

    const out = await tracer.run("support-bot", { tenantId: "acme", input: "hi" }, async (run) => {
      await run.llm({
        model: "gpt-x",
        provider: "openai",
        text: "calling tools",
        usage: { inputTokens: 3, outputTokens: 1 }
      })
      const [a, b, c] = await Promise.all([double(21), shout("ok"), run.tool("add", { x: 1 }, () => 1 + 1)])
      const child = await tracer.run("helper", {}, async (helper) => {
        expect(tracer.current()?.runId).toBe(helper.runId)
        await helper.memoryWrite("note", "remember")
        return { id: helper.runId, parent: helper.parentRunId, level: helper.delegationLevel }
      })
      await expect(run.tool("boom", {}, () => {
        throw new RangeError("too big")
      })).rejects.toBeInstanceOf(RangeError)
      const s = await run.stream("reply")
      await s.chunk("he")
      await s.chunk("llo")
      await s.end()
      return { runId: run.runId, values: [a, b, c], child }
    })
    expect(out.values).toEqual([42, "OK", 2])
    expect(out.child.parent).toBe(out.runId)
    expect(out.child.level).toBe(1)
    await tracer.close()

    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    const run = await store.getRun(out.runId)
    expect(run).toMatchObject({ status: "success", tenantId: "acme", answer: null })
    const child = await store.getRun(out.child.id)
    expect(child).toMatchObject({ status: "success", tenantId: "acme", parentRunId: out.runId, delegationLevel: 1 })
    const events = (await store.getEvents(out.runId, { limit: 100 })).items
    expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))
    const tools = (await store.getToolCalls(out.runId)).items
    expect(tools.map((t) => [t.toolName, t.success]).sort()).toEqual([
      ["add", true],
      ["boom", false],
      ["double", true],
      ["shout", true]
    ])
    expect(tools.find((t) => t.toolName === "double")).toMatchObject({ params: 21, result: 42 })
    expect(tools.find((t) => t.toolName === "boom")).toMatchObject({ error: "too big" })
    // The broken notifier changed nothing; the other one saw every recorded event in order, and the chunks.
    const recorded = seen.filter((e) => e._tag !== "TextDelta" && e.runId === out.runId)
    expect(recorded.map((e) => (e as { sequenceIndex: number }).sequenceIndex)).toEqual(
      events.map((e) => e.sequenceIndex)
    )
    expect(seen.filter((e) => e._tag === "TextDelta").map((e) => (e as { delta: string }).delta)).toEqual(["he", "llo"])
  })

  it("a thrown error fails the run and rejects with that same error", async () => {
    const url = tempDb()
    const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
    let runId = ""
    const error = new TypeError("bad state")
    await expect(tracer.run("crashy", {}, (run) => {
      runId = run.runId
      throw error
    })).rejects.toBe(error)
    await tracer.close()
    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    expect(await store.getRun(runId)).toMatchObject({
      status: "error",
      error: { tag: "TypeError", message: "bad state" }
    })
  })

  it("onlyOnError on SQLite: the failed run is in the RunStore and reached its notifiers; the one that succeeded did not", async () => {
    const url = tempDb()
    const seen: Array<StreamEvent.StreamEvent> = []
    const collect = Notifier.make({ name: "collect", onEvent: (event) => void seen.push(event) })
    const tracer = Trace.make(SqlRecorder.layerFromUrl(url))
    const work = (run: Trace.PromiseRun) => run.tool("lookup", { id: 1 }, () => ({ found: true }))
    await tracer.run("held-ok", { runId: "held-ok", onlyOnError: true, notifiers: [collect] }, work)
    await expect(
      tracer.run(
        "held-bad",
        { runId: "held-bad", onlyOnError: true, notifiers: [collect], input: "go" },
        async (run) => {
          await work(run)
          // A child of the held tree is recorded with it.
          await tracer.run("helper", { runId: "held-child" }, (child) => child.memoryRead("k", "v"))
          throw new Error("gave up")
        }
      )
    ).rejects.toThrow("gave up")
    await tracer.close()
    const store = await RunStore.fromDatabaseUrl(url)
    cleanups.push(() => store.close())
    expect((await store.listRuns()).items.map((r) => r.id).sort()).toEqual(["held-bad", "held-child"])
    expect(await store.getRun("held-bad")).toMatchObject({ status: "error", input: "go" })
    expect(await store.getRun("held-child")).toMatchObject({ status: "success", parentRunId: "held-bad" })
    expect((await store.getToolCalls("held-bad")).items.map((t) => [t.toolName, t.success])).toEqual([["lookup", true]])
    const runIds = new Set(seen.map((e) => e.runId))
    expect([...runIds]).toEqual(["held-bad"])
    expect(seen.at(-1)?._tag).toBe("RunFailed")
  })
})
