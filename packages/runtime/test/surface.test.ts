import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Agent, Notifier, Notifiers, Recorder, ScriptedModel, type StreamEvent, Tool } from "../src/index.js"

describe("what the public values show", () => {
  it("an agent shows its name, instructions and operations; its definition stays inside", () => {
    const tool = Tool.make("t", { description: "d", parameters: Schema.Struct({}), handler: () => 1 })
    const agent = Agent.makeSync({ name: "opaque", instructions: "Be brief.", tools: [tool], maxIterations: 3 })
    expect(Object.keys(agent).sort()).toEqual([
      "instructions",
      "name",
      "retry",
      "run",
      "stream",
      "streamSubmitApproval",
      "streamSubmitInput",
      "streamSubmitToolResults",
      "submitApproval",
      "submitInput",
      "submitToolResults"
    ])
    expect([agent.name, agent.instructions]).toEqual(["opaque", "Be brief."])
    // A copy of an agent is still an agent (it can be delegated to).
    expect(Agent.asTool({ ...agent }, { description: "delegate" }).name).toBe("opaque")
  })

  it("a notifier shows its name, limits and handle only", () => {
    const notifier = Notifier.make({ name: "n", onEvent: () => undefined })
    expect(Object.keys(notifier).sort()).toEqual(["capacity", "handle", "name", "strategy", "timeout"])
    const composite = Notifier.composite("both", [notifier, Notifier.make({ name: "m" })])
    expect(Object.keys(composite).sort()).toEqual(["capacity", "handle", "name", "strategy", "timeout"])
  })

  it.live("a composite is flattened by the dispatcher: each child has its own mailbox and counters", () => {
    const seen: Array<string> = []
    const composite = Notifier.composite("pair", [
      Notifier.make({
        name: "broken",
        onEvent: () => {
          throw new Error("bug")
        }
      }),
      Notifier.make({ name: "fine", onEvent: (e: StreamEvent.StreamEvent) => void seen.push(e._tag) })
    ])
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "c", instructions: "" })
      const stats = yield* Effect.gen(function*() {
        yield* agent.run("hi")
        return (yield* Notifiers).stats
      }).pipe(
        Effect.provide(Layer.mergeAll(
          ScriptedModel.layer([{ text: "ok" }]),
          Recorder.memory,
          Notifiers.layer([composite], { drainTimeout: "1 second" })
        ))
      )
      expect(seen.at(-1)).toBe("RunCompleted")
      expect((yield* stats).map((s) => [s.name, s.delivered, s.failed])).toEqual([
        ["broken", 0, 6],
        ["fine", 6, 0]
      ])
    })
  })
})
