/**
 * Admission on the Promise runtime: `maxConcurrentRuns` runs at once, `maxQueuedRuns` more waiting in arrival
 * order, `Overloaded` beyond (nothing recorded), counters readable beside the notifier stats.
 */
import { Layer, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { AgentRuntime, InvalidRunOptions, Overloaded, Recorder, ScriptedModel, Tool } from "../src/index.js"
import { Agent } from "../src/index.js"

const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => {
    throw new Error("expected a rejection")
  }, (error: unknown) => error)

/** A tool that waits until the test opens the gate, counting how many calls are inside at once. */
const gated = () => {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  const seen = { inside: 0, most: 0, entered: [] as Array<string> }
  const tool = Tool.make("wait", {
    description: "waits for the gate",
    parameters: Schema.Struct({}),
    handler: async (_, ctx) => {
      seen.entered.push(ctx.runId)
      seen.most = Math.max(seen.most, ++seen.inside)
      await opened
      seen.inside--
      return "ok"
    }
  })
  return { tool, open, seen }
}

const script: ScriptedModel.ScriptStep = (request) =>
  request.messages.some((m) => m._tag === "tool") ? { text: "done" } : { toolCalls: [{ name: "wait", arguments: {} }] }

const layer = Layer.merge(ScriptedModel.layer(Array.from({ length: 20 }, () => script)), Recorder.memory)

describe("AgentRuntime admission", () => {
  it("runs past the limit wait in order; past the queue they are refused with Overloaded", async () => {
    const { open, seen, tool } = gated()
    const agent = Agent.makeSync({ name: "adm", instructions: "", tools: [tool] })
    const runtime = AgentRuntime.make(layer, { maxConcurrentRuns: 2, maxQueuedRuns: 1 })
    try {
      await runtime.ready()
      const runs = ["r1", "r2", "r3"].map((runId) => runtime.run(agent, "go", { runId }))
      expect(runtime.admission()).toMatchObject({ running: 2, queued: 1, rejected: 0, maxConcurrentRuns: 2 })
      const refused = await rejection(runtime.run(agent, "go", { runId: "r4" }))
      expect(refused).toBeInstanceOf(Overloaded)
      expect(refused).toMatchObject({ _tag: "Overloaded", maxConcurrentRuns: 2, maxQueuedRuns: 1 })
      expect((refused as Overloaded).message).toMatch(/maxConcurrentRuns: 2.*retry later/)
      open()
      const results = await Promise.all(runs)
      expect(results.map((r) => r.status)).toEqual(["success", "success", "success"])
      // Never more than two inside at once; the refused run never started (its tool never ran).
      expect(seen.most).toBeLessThanOrEqual(2)
      expect([...seen.entered].sort()).toEqual(["r1", "r2", "r3"])
      expect(seen.entered[2]).toBe("r3")
      expect(runtime.admission()).toEqual({
        maxConcurrentRuns: 2,
        maxQueuedRuns: 1,
        running: 0,
        queued: 0,
        admitted: 3,
        rejected: 1
      })
      // The notifier stats are next to it, unchanged in shape.
      expect(await runtime.stats()).toEqual([])
    } finally {
      await runtime.dispose()
    }
  })

  it("a run that fails frees its slot for the next", async () => {
    const runtime = AgentRuntime.make(layer, { maxConcurrentRuns: 1, maxQueuedRuns: 0 })
    const agent = Agent.makeSync({ name: "adm2", instructions: "" })
    try {
      const bad = await rejection(runtime.run(agent, "go", { runId: 42 } as never))
      expect(bad).toBeInstanceOf(InvalidRunOptions)
      expect(runtime.admission()).toMatchObject({ running: 0, admitted: 1 })
      expect((await runtime.run(agent, "go")).status).toBe("success")
      expect(runtime.admission()).toMatchObject({ running: 0, admitted: 2, rejected: 0 })
    } finally {
      await runtime.dispose()
    }
  })

  it("a stream takes a slot like a run: past the queue its first next() is refused, and its end frees the slot", async () => {
    const { open, seen, tool } = gated()
    const agent = Agent.makeSync({ name: "adm3", instructions: "", tools: [tool] })
    const runtime = AgentRuntime.make(layer, { maxConcurrentRuns: 1, maxQueuedRuns: 1 })
    const drain = async (events: AsyncIterable<{ readonly _tag: string }>) => {
      const types: Array<string> = []
      for await (const event of events) types.push(event._tag)
      return types
    }
    try {
      await runtime.ready()
      const first = drain(runtime.stream(agent, "go", { runId: "s1" }))
      const queued = runtime.run(agent, "go", { runId: "s2" })
      // The stream took the one slot at its first next(); the run waits behind it.
      await new Promise((resolve) => setTimeout(resolve, 0))
      expect(runtime.admission()).toMatchObject({ running: 1, queued: 1 })
      const refused = await rejection(runtime.stream(agent, "go", { runId: "s3" })[Symbol.asyncIterator]().next())
      expect(refused).toBeInstanceOf(Overloaded)
      open()
      expect(await first).toContain("RunCompleted")
      expect((await queued).status).toBe("success")
      // The refused stream never started (its tool never ran); a stream stopped early frees its slot too.
      expect(seen.entered).toEqual(["s1", "s2"])
      const it = runtime.stream(agent, "go", { runId: "s4" })[Symbol.asyncIterator]()
      await it.next()
      expect(runtime.admission()).toMatchObject({ running: 1 })
      await it.return?.()
      expect(runtime.admission()).toMatchObject({ running: 0, queued: 0, admitted: 3, rejected: 1 })
    } finally {
      await runtime.dispose()
    }
  })

  it("without maxConcurrentRuns nothing waits; limits that are not counts are refused where they are given", async () => {
    const runtime = AgentRuntime.make(layer)
    expect(runtime.admission()).toMatchObject({ maxConcurrentRuns: undefined, running: 0, queued: 0 })
    await runtime.dispose()
    expect(() => AgentRuntime.make(layer, { maxConcurrentRuns: 0 })).toThrow(InvalidRunOptions)
    expect(() => AgentRuntime.make(layer, { maxConcurrentRuns: 1.5 })).toThrow(/maxConcurrentRuns: expected a positive/)
    expect(() => AgentRuntime.make(layer, { maxConcurrentRuns: 2, maxQueuedRuns: -1 })).toThrow(/maxQueuedRuns/)
  })
})
