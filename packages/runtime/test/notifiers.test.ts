import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  Agent,
  AgentRuntime,
  type HookEvent,
  InvalidNotifiers,
  InvalidRunOptions,
  MemoryRecorder,
  Notifier,
  Notifiers,
  Recorder,
  ScriptedModel,
  type StreamEvent,
  Tool
} from "../src/index.js"
import { timeTool, twoToolScript, weatherTool } from "./fixtures.js"

/** Events with what legitimately differs between two runs (times, durations, minted ids) masked. */
const withoutTime = (events: ReadonlyArray<HookEvent.HookEvent>) =>
  JSON.parse(
    JSON.stringify(events)
      .replace(/"(timestamp|durationMs)":\d+/g, "\"$1\":0")
      .replace(/"[0-9A-HJKMNP-TV-Z]{26}"/g, "\"<id>\"")
  )

/** A normal notifier that keeps what it receives. */
const collector = () => {
  const seen: Array<StreamEvent.StreamEvent> = []
  return { seen, notifier: Notifier.make({ name: "collector", onEvent: (e) => void seen.push(e) }) }
}

const misbehaving = [
  Notifier.make({
    name: "thrower",
    onEvent: () => {
      throw new Error("notifier bug")
    }
  }),
  Notifier.make({ name: "defect", on: { ToolCallCompleted: () => Effect.die("kaboom") } }),
  Notifier.make({ name: "hang", timeout: "50 millis", onEvent: () => Effect.never }),
  Notifier.make({ name: "slow", capacity: 1, onEvent: () => Effect.sleep("20 millis") })
]

describe("notifier isolation", () => {
  it.live("bad notifiers change nothing; a normal one beside them gets every event in order; losses are counted", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "n", instructions: "", tools: [weatherTool, timeTool] })
      const runOnce = (notifiers: ReadonlyArray<Notifier.Notifier>) =>
        Effect.gen(function*() {
          const result = yield* agent.run("go", { runId: "same" })
          const events = yield* (yield* MemoryRecorder).events()
          // Counters stay readable after the layer (and its mailboxes) is released and drained.
          const stats = (yield* Notifiers).stats
          return { result, events, stats }
        }).pipe(
          Effect.provide(
            Layer.mergeAll(
              ScriptedModel.layer(twoToolScript),
              Recorder.memory,
              Notifiers.layer(notifiers, { drainTimeout: "300 millis" })
            )
          )
        )
      const plain = yield* runOnce([])
      const { notifier, seen } = collector()
      const noisy = yield* runOnce([...misbehaving, notifier])

      expect(noisy.result).toEqual(plain.result)
      expect(withoutTime(noisy.events)).toEqual(withoutTime(plain.events))
      // The layer was released above: the normal notifier was drained and saw everything, in order.
      expect(seen).toEqual(noisy.events)
      const stats = Object.fromEntries((yield* noisy.stats).map((s) => [s.name, s]))
      const n = noisy.events.length
      expect(stats.collector).toMatchObject({ delivered: n, failed: 0, timedOut: 0, dropped: 0 })
      expect(stats.thrower).toMatchObject({ delivered: 0, failed: n })
      expect(stats.defect).toMatchObject({ delivered: n - 2, failed: 2 })
      expect(stats.hang!.delivered).toBe(0)
      expect(stats.hang!.timedOut + stats.hang!.dropped).toBe(n)
      expect(stats.slow!.dropped).toBeGreaterThan(0)
      expect(stats.slow!.delivered + stats.slow!.dropped).toBe(n)
    }))

  it.live("per-run notifiers see only their run, and a run without a dispatcher still delivers", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "n", instructions: "", tools: [weatherTool, timeTool] })
      const a = collector()
      const result = yield* agent.run("go", { runId: "r-a", notifiers: [a.notifier] })
      yield* Effect.sleep("100 millis")
      expect(result.status).toBe("success")
      expect(a.seen.map((e) => e.runId)).toEqual(a.seen.map(() => "r-a"))
      expect(a.seen.at(-1)?._tag).toBe("RunCompleted")
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(twoToolScript), Recorder.memory))))
})

describe("AgentRuntime (Promise facade)", () => {
  it.live("runs, streams, reports stats and disposes within the drain deadline despite a hanging notifier", () =>
    Effect.promise(async () => {
      const { notifier, seen } = collector()
      const hang = Notifier.make({ name: "hang", timeout: "1 hour", onEvent: () => Effect.never })
      const runtime = AgentRuntime.make(
        Layer.merge(ScriptedModel.layer([...twoToolScript, ...twoToolScript]), Recorder.memory),
        {
          notifiers: [notifier, hang],
          drainTimeout: "200 millis"
        }
      )
      const agent = Agent.makeSync({ name: "p", instructions: "", tools: [weatherTool, timeTool] })
      const result = await runtime.run(agent, "go")
      expect(result).toMatchObject({ status: "success", answer: "21 °C at noon." })
      const streamed: Array<string> = []
      for await (const e of runtime.stream(agent, "again")) streamed.push(e._tag)
      expect(streamed.at(-1)).toBe("RunCompleted")
      await runtime.dispose()
      expect(seen.filter((e) => e._tag === "RunCompleted")).toHaveLength(2)
      expect(() => Agent.makeSync({ name: "", instructions: "" })).toThrow(/must be a non-empty string/)
    }))
})

describe("notifier lists are checked where they are given", () => {
  const named = (name: string) => Notifier.make({ name, onEvent: () => undefined })
  const agent = Agent.makeSync({ name: "n", instructions: "" })
  const layer = () => Layer.merge(ScriptedModel.layer([{ text: "ok" }, { text: "ok" }]), Recorder.memory)
  /** What a synchronous call threw. */
  const thrown = (f: () => unknown): unknown => {
    try {
      f()
    } catch (error) {
      return error
    }
    throw new Error("expected a throw")
  }

  it("AgentRuntime.make: two notifiers with one name, or one inside a composite, name the second", () => {
    const twice = thrown(() => AgentRuntime.make(layer(), { notifiers: [named("audit"), named("audit")] }))
    expect(twice).toBeInstanceOf(InvalidNotifiers)
    expect(twice).toMatchObject({ _tag: "InvalidNotifiers", field: "notifiers[1].name" })
    expect((twice as InvalidNotifiers).message).toContain("notifiers[0] is named 'audit' too")
    const nested = thrown(() =>
      AgentRuntime.make(layer(), {
        notifiers: [named("audit"), Notifier.composite("group", [named("otel"), named("audit")])]
      })
    )
    expect(nested).toMatchObject({ _tag: "InvalidNotifiers", field: "notifiers[1].children[1].name" })
  })

  it("AgentRuntime.make from plain JavaScript: undefined or a non-notifier names its index", () => {
    const notifiers = [named("a"), named("b"), undefined] as unknown as ReadonlyArray<Notifier.Notifier>
    const error = thrown(() => AgentRuntime.make(layer(), { notifiers }))
    expect(error).toMatchObject({ _tag: "InvalidNotifiers", field: "notifiers[2]" })
    expect((error as InvalidNotifiers).message).toBe(
      "notifiers[2]: must be a Notifier (see Notifier.make), got undefined"
    )
    const shape = thrown(() =>
      AgentRuntime.make(layer(), { notifiers: [{ name: "x" }] as unknown as ReadonlyArray<Notifier.Notifier> })
    )
    expect(shape).toMatchObject({ _tag: "InvalidNotifiers", field: "notifiers[0]" })
  })

  it.effect("Notifiers.layer fails with InvalidNotifiers", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.provide(Effect.void, Notifiers.layer([named("x"), named("x")])))
      expect(exit).toMatchObject({ _tag: "Failure", cause: { error: { _tag: "InvalidNotifiers" } } })
      const notOne = yield* Effect.flip(
        Effect.provide(Effect.void, Notifiers.layer([null] as unknown as ReadonlyArray<Notifier.Notifier>))
      )
      expect(notOne).toMatchObject({ _tag: "InvalidNotifiers", field: "notifiers[0]" })
    }))

  it("a run's notifiers: duplicates, non-notifiers and the runtime's names are InvalidRunOptions, nothing recorded", async () => {
    const runtime = AgentRuntime.make(layer(), { notifiers: [named("audit")] })
    try {
      const fails = (notifiers: ReadonlyArray<unknown>) =>
        runtime.run(agent, "hi", { notifiers: notifiers as ReadonlyArray<Notifier.Notifier> }).then(
          () => expect.unreachable(),
          (error: unknown) => error
        )
      expect(await fails([named("a"), named("a")])).toMatchObject({
        _tag: "InvalidRunOptions",
        field: "notifiers[1].name"
      })
      expect(await fails([named("a"), undefined])).toMatchObject({ _tag: "InvalidRunOptions", field: "notifiers[1]" })
      const clash = await fails([named("audit")])
      expect(clash).toBeInstanceOf(InvalidRunOptions)
      expect(clash).toMatchObject({ field: "notifiers[0].name" })
      expect((clash as InvalidRunOptions).message).toContain("the runtime already has a notifier named 'audit'")
      // Nothing was recorded, and a run with a notifier of its own name goes ahead.
      const ok = await runtime.run(agent, "hi", { notifiers: [named("mine")] })
      expect(ok.status).toBe("success")
      expect((await runtime.stats()).map((s) => s.name).sort()).toEqual(["audit", "mine"])
    } finally {
      await runtime.dispose()
    }
  })

  it.effect("a resume checks its notifiers against the runtime's before claiming the run", () =>
    Effect.gen(function*() {
      const ask = Agent.makeSync({ name: "ask", instructions: "", tools: [Tool.humanInput()] })
      const paused = yield* ask.run("hi")
      expect(paused.status).toBe("waiting_human_input")
      const refused = yield* Effect.flip(ask.submitInput(paused.runId, "yes", { notifiers: [named("audit")] }))
      expect(refused).toMatchObject({ _tag: "InvalidRunOptions", field: "notifiers[0].name" })
      const resumed = yield* ask.submitInput(paused.runId, "yes")
      expect(resumed.status).toBe("success")
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          ScriptedModel.layer([{ toolCalls: [{ name: "ask_human", arguments: { question: "ok?" } }] }, {
            text: "done"
          }]),
          Recorder.memory,
          Notifiers.layer([named("audit")])
        )
      )
    ))
})
