import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Layer, Schema, Stream } from "effect"
import {
  Agent,
  AgentRuntime,
  Guardrails,
  HookEvent,
  MemoryRecorder,
  Recorder,
  Runs,
  ScriptedModel,
  type StreamEvent,
  Tool
} from "../src/index.js"

const Weather = Schema.Struct({ city: Schema.String, celsius: Schema.Number }).annotations({ identifier: "Weather" })

const weather = Tool.make("get_weather", {
  description: "Weather of a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, celsius: 21 })
})
const ask = Tool.make("pick_city", {
  description: "Ask the client for a city",
  parameters: Schema.Struct({}),
  target: "client"
})

const layer = (script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  Layer.merge(ScriptedModel.layer(script), Recorder.memory)
const events = (runId: string) => Effect.flatMap(MemoryRecorder, (m) => m.events(runId))
const requests = Effect.flatMap(ScriptedModel.Requests, (r) => r.requests)

describe("structured output (prompted mode on ScriptedModel)", () => {
  it.effect("decodes a valid answer after a tool call; records the schema on llm.started and the output", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "wx", instructions: "Be brief.", tools: [weather], output: Weather })
      const result = yield* agent.run("weather in Oslo?")
      expect(result.status).toBe("success")
      const output: { readonly city: string; readonly celsius: number } | undefined = result.output
      expect(output).toEqual({ city: "Oslo", celsius: 21 })
      const [first] = yield* requests
      expect(first!.system).toContain("Be brief.")
      expect(first!.system).toContain("JSON Schema")
      expect(first!.output?.name).toBe("Weather")
      const es = yield* events(result.runId)
      const started = es.filter((e) => e._tag === "LlmCallStarted")
      expect(started.map((e) => e.output?.name)).toEqual(["Weather", "Weather"])
      expect(started[0]!.output?.hash).toMatch(/^[0-9a-f]{64}$/)
      const completed = es.find((e) => e._tag === "RunCompleted")
      expect(completed?._tag === "RunCompleted" && completed.output).toEqual({ city: "Oslo", celsius: 21 })
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "get_weather", arguments: { city: "Oslo" } }] },
      { text: "```json\n{\"city\":\"Oslo\",\"celsius\":21}\n```" }
    ]))))

  it.effect("an invalid answer gets exactly one repair turn whose request carries the decode error", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "wx", instructions: "" })
      const result = yield* agent.run("weather?", { output: Weather })
      expect(result).toMatchObject({ status: "success", output: { city: "Rome", celsius: 30 }, iterations: 2 })
      const sent = yield* requests
      expect(sent).toHaveLength(2)
      const last = sent[1]!.messages.at(-1)!
      expect(last._tag).toBe("user")
      expect(last._tag === "user" && last.content).toContain("celsius")
      const es = yield* events(result.runId)
      const invalid = es.filter((e) => e._tag === "OutputInvalid")
      expect(invalid).toHaveLength(1)
      expect(invalid[0]).toMatchObject({ attempt: 1, repair: true, schema: { name: "Weather" } })
    }).pipe(Effect.provide(layer([
      { text: "{\"city\":\"Rome\"}" },
      { text: "{\"city\":\"Rome\",\"celsius\":30}" }
    ]))))

  it.effect("still invalid after the repair ends error/output_invalid with the decode error, never a throw", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "wx", instructions: "" })
      const result = yield* agent.run("weather?", { output: Weather })
      expect(result.status).toBe("error")
      expect(result.error?.failureReason).toBe("output_invalid")
      expect(result.error?.message).toContain("not JSON")
      const es = yield* events(result.runId)
      expect(es.map(HookEvent.eventType).filter((t) => t === "output.invalid")).toHaveLength(2)
      expect(es.at(-1)?._tag).toBe("RunFailed")
    }).pipe(Effect.provide(layer([{ text: "sunny" }, { text: "still sunny" }]))))

  it.effect("outputRepairs: 0 fails at once; a bad setting is a typed error", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "wx", instructions: "" })
      const result = yield* agent.run("weather?", { output: Weather, outputRepairs: 0 })
      expect(result.error?.failureReason).toBe("output_invalid")
      const bad = yield* Effect.flip(agent.run("x", { output: Weather, outputRepairs: 4 }))
      expect(bad).toMatchObject({ _tag: "InvalidRunOptions", field: "outputRepairs" })
      const made = yield* Effect.flip(Agent.make({ name: "a", instructions: "", outputRepairs: -1 }))
      expect(made).toMatchObject({ _tag: "AgentConfigError", field: "outputRepairs" })
    }).pipe(Effect.provide(layer([{ text: "nope" }]))))

  it.effect("works across a pause: the resume needs the same Schema, and streams to the end", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "wx", instructions: "", tools: [ask] })
      const paused = yield* agent.run("weather?", { output: Weather })
      expect(paused.status).toBe("waiting_client_tool")
      const callId = paused.pendingCalls![0]!.id
      const missing = yield* Effect.flip(agent.submitToolResults(paused.runId, [{ callId, result: "Oslo" }]))
      expect(missing).toMatchObject({ _tag: "InvalidRunOptions", field: "output" })
      const streamed = yield* Stream.runCollect(
        agent.streamSubmitToolResults(paused.runId, [{ callId, result: "Oslo" }], { output: Weather })
      ).pipe(Effect.map((c) => Chunk.toReadonlyArray(c) as ReadonlyArray<StreamEvent.StreamEvent>))
      const recorded = yield* events(paused.runId)
      const resumedAt = recorded.findIndex((e) => e._tag === "RunResumed")
      const hooks = streamed.filter((e) => !("delta" in e))
      expect(hooks).toEqual(recorded.slice(resumedAt))
      expect(streamed.some((e) => e._tag === "TextDelta")).toBe(true)
      const end = hooks.at(-1)!
      expect(end._tag === "RunCompleted" && end.output).toEqual({ city: "Oslo", celsius: 5 })
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "pick_city", arguments: {} }] },
      { text: "{\"city\":\"Oslo\",\"celsius\":5}" }
    ]))))
})

describe("structured output and streamed resumes through the Promise facade", () => {
  it("run returns the Schema-typed output; streamSubmitToolResults is an AsyncIterable ending at run.completed", async () => {
    const runtime = AgentRuntime.make(
      Layer.merge(
        ScriptedModel.layer([
          { text: "{\"city\":\"Oslo\",\"celsius\":3}" },
          { toolCalls: [{ name: "pick_city", arguments: {} }] },
          { text: "{\"city\":\"Bergen\",\"celsius\":9}" }
        ]),
        Recorder.memory
      )
    )
    try {
      const agent = Agent.makeSync({ name: "wx", instructions: "", tools: [ask], output: Weather })
      const first = await runtime.run(agent, "weather?")
      const celsius: number | undefined = first.output?.celsius
      expect(celsius).toBe(3)
      const paused = await runtime.run(agent, "pick one")
      const seen: Array<string> = []
      for await (
        const event of runtime.streamSubmitToolResults(agent, paused.runId, [{
          callId: paused.pendingCalls![0]!.id,
          result: "Bergen"
        }])
      ) {
        seen.push(event._tag)
        if (event._tag === "RunCompleted") expect(event.output).toEqual({ city: "Bergen", celsius: 9 })
      }
      expect(seen[0]).toBe("RunResumed")
      expect(seen.at(-1)).toBe("RunCompleted")
    } finally {
      await runtime.dispose()
    }
  })
})

describe("Runs.follow", () => {
  it.effect("attaches to a run executing here and sees its recorded events to the end; elsewhere RunNotFound", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const slow = Tool.make("slow", {
        description: "waits",
        parameters: Schema.Struct({}),
        handler: () => Effect.zipRight(Deferred.succeed(entered, undefined), Effect.as(Deferred.await(gate), "ok"))
      })
      const agent = yield* Agent.make({ name: "f", instructions: "", tools: [slow], output: Weather })
      const fiber = yield* Effect.fork(agent.run("go", { runId: "followed" }))
      yield* Deferred.await(entered)
      const follower = yield* Effect.fork(Stream.runCollect(Runs.follow("followed")))
      yield* Effect.yieldNow({ priority: 10 })
      yield* Deferred.succeed(gate, undefined)
      const result = yield* Fiber.join(fiber)
      expect(result.output).toEqual({ city: "Oslo", celsius: 1 })
      const seen = Chunk.toReadonlyArray(yield* Fiber.join(follower)) as ReadonlyArray<StreamEvent.StreamEvent>
      const recorded = yield* events("followed")
      expect(seen.length).toBeGreaterThan(0)
      expect(seen).toEqual(recorded.slice(recorded.length - seen.length))
      expect(seen.at(-1)?._tag).toBe("RunCompleted")
      const missing = yield* Effect.flip(Stream.runCollect(Runs.follow("nowhere")))
      expect(missing._tag).toBe("RunNotFound")
    }).pipe(Effect.provide(layer([
      { toolCalls: [{ name: "slow", arguments: {} }] },
      { text: "{\"city\":\"Oslo\",\"celsius\":1}" }
    ]))))
})

describe("structured output and redacting guardrails", () => {
  it.effect("the record keeps placeholders in output; the caller's output has the real values", () =>
    Effect.gen(function*() {
      const Mail = Schema.Struct({ to: Schema.String })
      const agent = yield* Agent.make({ name: "pii", instructions: "", guardrails: [Guardrails.PII()] })
      const result = yield* agent.run("Write to jane.doe@example.com", { output: Mail })
      expect(result.output).toEqual({ to: "jane.doe@example.com" })
      const es = yield* events(result.runId)
      expect(JSON.stringify(es)).not.toContain("jane.doe@example.com")
      const end = es.at(-1)!
      expect(end._tag === "RunCompleted" && end.output).toEqual({ to: "<<EMAIL_1>>" })
    }).pipe(Effect.provide(layer([{ text: "{\"to\": \"<<EMAIL_1>>\"}" }]))))
})

describe("the caller's stream de-anonymises the terminal event", () => {
  const Contact = Schema.Struct({ email: Schema.String })
  const raw = "jane.doe@example.com"
  it.effect("a streamed run's run.completed carries the raw answer and output; the record keeps placeholders", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "crm", instructions: "", guardrails: [Guardrails.PII()] })
      const streamed = yield* Stream.runCollect(agent.stream(`who is ${raw}?`, { output: Contact }))
      const completed = Chunk.toReadonlyArray(streamed).find((e) => e._tag === "RunCompleted")
      expect(completed?._tag === "RunCompleted" && completed.output).toEqual({ email: raw })
      expect(completed?._tag === "RunCompleted" && completed.answer).toContain(raw)
      const es = yield* events(completed!.runId)
      const recorded = es.find((e) => e._tag === "RunCompleted")
      expect(JSON.stringify(recorded)).not.toContain(raw)
      expect(recorded?._tag === "RunCompleted" && recorded.output).toEqual({ email: "<<EMAIL_1>>" })
    }).pipe(Effect.provide(layer([
      // The model sees the placeholder and answers with it, as a real one would.
      (request) => {
        const text = JSON.stringify(request.messages)
        const placeholder = /<<EMAIL_\d+>>/.exec(text)?.[0] ?? "none"
        return { text: JSON.stringify({ email: placeholder }) }
      }
    ]))))
})
