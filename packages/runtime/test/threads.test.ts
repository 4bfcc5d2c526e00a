import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option, Schema, Stream } from "effect"
import {
  Agent,
  AgentRuntime,
  type HookEvent,
  InvalidRunOptions,
  MemoryRecorder,
  Recorder,
  RecorderError,
  RunLedger,
  type RunLedgerService,
  ScriptedModel,
  ThreadBusy,
  ThreadTenantMismatch,
  Tool
} from "../src/index.js"

const pick = Tool.make("pick_file", {
  description: "Let the user pick a file (runs in the client)",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})
const weather = Tool.make("weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, sky: "clear" })
})

const user = (content: string): HookEvent.Message => ({ _tag: "user", content })
const assistant = (content: string): HookEvent.Message => ({ _tag: "assistant", content, toolCalls: [] })

/** The messages of every request the scripted model received. */
const sent = Effect.flatMap(ScriptedModel.Requests, (r) => r.requests)

describe("threads on the memory recorder", () => {
  it.effect("three runs with only a threadId: the third request holds the first two runs' messages in order", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "Be brief.", tools: [weather] })
      yield* agent.run("My name is Ada.", { threadId: "t-1" })
      yield* agent.run("Weather in Oslo?", { threadId: "t-1" })
      const third = yield* agent.run("What is my name?", { threadId: "t-1" })
      expect(third).toMatchObject({ status: "success", answer: "You are Ada." })
      const requests = yield* sent
      const callId = requests[3]!.messages.find((m) => m._tag === "tool")!.toolCallId
      expect(requests[3]!.messages).toEqual([
        user("My name is Ada."),
        assistant("Hello Ada."),
        user("Weather in Oslo?"),
        {
          _tag: "assistant",
          content: "",
          toolCalls: [{ id: callId, providerCallId: "call_2_1", name: "weather", arguments: { city: "Oslo" } }]
        },
        {
          _tag: "tool",
          toolCallId: callId,
          providerCallId: "call_2_1",
          toolName: "weather",
          content: JSON.stringify({ city: "Oslo", sky: "clear" }),
          isError: false
        },
        assistant("Clear in Oslo."),
        user("What is my name?")
      ])
      // Each run records only its own messages, and its thread id.
      const events = yield* (yield* MemoryRecorder).events(third.runId)
      expect(events.filter((e) => e._tag === "MessageAppended").map((e) => e.message)).toEqual([
        user("What is my name?"),
        assistant("You are Ada.")
      ])
      expect(events[0]).toMatchObject({ _tag: "RunStarted", threadId: "t-1", input: "What is my name?" })
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([
          { text: "Hello Ada." },
          { toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] },
          { text: "Clear in Oslo." },
          { text: "You are Ada." }
        ]),
        Recorder.memory
      ))
    ))

  it.effect("another tenant's thread is refused before anything is recorded; a thread without a tenant too", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      yield* agent.run("hi", { threadId: "acme-thread", tenantId: "acme" })
      yield* agent.run("hi", { threadId: "open-thread" })
      const before = (yield* (yield* MemoryRecorder).events()).length
      const foreign = yield* Effect.flip(agent.run("hi", { threadId: "acme-thread", tenantId: "globex" }))
      expect(foreign).toBeInstanceOf(ThreadTenantMismatch)
      expect(foreign.message).toContain("thread acme-thread belongs to tenant 'acme', not to tenant 'globex'")
      const untenanted = yield* Effect.flip(agent.run("hi", { threadId: "acme-thread" }))
      expect(untenanted.message).toContain("not to no tenant")
      const claimed = yield* Effect.flip(agent.run("hi", { threadId: "open-thread", tenantId: "acme" }))
      expect(claimed._tag).toBe("ThreadTenantMismatch")
      expect((yield* (yield* MemoryRecorder).events()).length).toBe(before)
      // The owner goes on.
      expect((yield* agent.run("again", { threadId: "acme-thread", tenantId: "acme" })).status).toBe("success")
    }).pipe(
      Effect.provide(Layer.merge(ScriptedModel.layer([{ text: "a" }, { text: "b" }, { text: "c" }]), Recorder.memory))
    ))

  it.effect("one run at a time: a paused run makes the next start fail ThreadBusy; once it ends the thread goes on", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick] })
      const paused = yield* agent.run("open a file", { threadId: "t-busy" })
      expect(paused.status).toBe("waiting_client_tool")
      const refused = yield* Effect.flip(agent.run("next", { threadId: "t-busy" }))
      expect(refused).toBeInstanceOf(ThreadBusy)
      expect(refused).toMatchObject({ threadId: "t-busy", activeRunId: paused.runId })
      expect(refused.message).toContain(`onBusy: "wait"`)
      yield* agent.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: "/a.pdf" }])
      const next = yield* agent.run("next", { threadId: "t-busy" })
      expect(next.status).toBe("success")
      const requests = yield* sent
      expect(requests[2]!.messages.map((m) => m._tag)).toEqual(["user", "assistant", "tool", "assistant", "user"])
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([
          { toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] },
          { text: "Opened." },
          { text: "Next." }
        ]),
        Recorder.memory
      ))
    ))

  it.live("onBusy: wait starts once the paused run has ended, with its messages in the history", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick] })
      const paused = yield* agent.run("open a file", { threadId: "t-wait" })
      const waiting = yield* Effect.fork(agent.run("and then?", { threadId: "t-wait", onBusy: "wait" }))
      yield* Effect.sleep("60 millis")
      expect(waiting.unsafePoll()).toBeNull()
      yield* agent.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: "/a.pdf" }])
      const next = yield* Fiber.join(waiting)
      expect(next).toMatchObject({ status: "success", answer: "Then nothing." })
      const requests = yield* sent
      expect(requests[2]!.messages.at(-2)).toEqual(assistant("Opened."))
      expect(requests[2]!.messages.at(-1)).toEqual(user("and then?"))
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([
          { toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] },
          { text: "Opened." },
          { text: "Then nothing." }
        ]),
        Recorder.memory
      ))
    ))

  it.effect("a thread needs a recorder that reads runs back", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const noLedger = yield* Effect.flip(agent.run("hi", { threadId: "t" }))
      expect(noLedger).toMatchObject({ _tag: "InvalidRunOptions", field: "threadId" })
      expect(noLedger.message).toContain("needs a recorder that can read runs back")
    }).pipe(
      Effect.provide(Layer.merge(ScriptedModel.layer([]), Layer.succeed(Recorder, { record: () => Effect.void })))
    ))

  it.effect("bad thread options name their field", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const empty = yield* Effect.flip(agent.run("hi", { threadId: "" }))
      expect(empty).toMatchObject({ field: "threadId" })
      const onBusy = yield* Effect.flip(agent.run("hi", { threadId: "t", onBusy: "queue" as "wait" }))
      expect(onBusy).toMatchObject({ field: "onBusy" })
      expect(onBusy.message).toContain(`must be "wait" or "reject", got "queue"`)
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer([]), Recorder.memory))))
})

describe("threads when the ledger fails", () => {
  const failing = (operation: "ledger.threadState" | "ledger.threadHistory") =>
    new RecorderError({ operation, runId: "t", attempts: 3, reason: "transient", message: `${operation} timed out` })
  /** `Recorder.memory` with its ledger changed by `wrap`. */
  const withLedger = (wrap: (ledger: RunLedgerService) => RunLedgerService) =>
    Layer.map(Recorder.memory, (context) => Context.add(context, RunLedger, wrap(Context.get(context, RunLedger))))

  it.effect("a failed thread read before the start fails RecorderError and records nothing", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const error = yield* Effect.flip(agent.run("hi", { threadId: "t" }))
      expect(error).toBeInstanceOf(RecorderError)
      expect(error).toMatchObject({ operation: "ledger.threadState" })
      expect(yield* (yield* MemoryRecorder).events()).toEqual([])
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([]),
        withLedger((l) => ({ ...l, threadState: () => Effect.fail(failing("ledger.threadState")) }))
      ))
    ))

  it.effect("a failed history read after the start fails RecorderError, ends the run error/recorder, frees the thread", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const error = yield* Effect.flip(agent.run("hi", { threadId: "t", runId: "halted" }))
      expect(error).toMatchObject({ _tag: "RecorderError", operation: "ledger.threadHistory" })
      const events = yield* (yield* MemoryRecorder).events("halted")
      expect(events.map((e) => e._tag)).toEqual(["RunStarted", "RunFailed"])
      expect(events[1]).toMatchObject({ failureReason: "recorder", error: { tag: "RecorderError" } })
      expect(yield* sent).toEqual([])
      // The thread is not held by the halted run: the next start is not ThreadBusy (it fails on the read again).
      const again = yield* Effect.flip(agent.run("hi", { threadId: "t" }))
      expect(again._tag).toBe("RecorderError")
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([]),
        withLedger((l) => ({ ...l, threadHistory: () => Effect.fail(failing("ledger.threadHistory")) }))
      ))
    ))
})

describe("two tenants starting one new thread", () => {
  it.effect("the later start, which checked before the first existed, ends error and fails; the owner goes on", () => {
    let stale = 1
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      yield* agent.run("mine", { threadId: "new", tenantId: "acme" })
      // globex's check ran before acme's start was recorded: it saw no thread (the ledger answers as it did then).
      const error = yield* Effect.flip(agent.run("also mine?", { threadId: "new", tenantId: "globex", runId: "late" }))
      expect(error).toBeInstanceOf(ThreadTenantMismatch)
      expect(error.message).toContain("belongs to tenant 'acme', not to tenant 'globex'")
      const late = yield* (yield* MemoryRecorder).events("late")
      expect(late.map((e) => e._tag)).toEqual(["RunStarted", "RunFailed"])
      expect(late[1]).toMatchObject({ failureReason: "internal", error: { tag: "ThreadTenantMismatch" } })
      // The thread is still acme's, and its history holds only acme's messages.
      const next = yield* agent.run("again", { threadId: "new", tenantId: "acme" })
      expect(next.status).toBe("success")
      expect((yield* sent)[1]!.messages).toEqual([user("mine"), assistant("a"), user("again")])
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([{ text: "a" }, { text: "b" }]),
        Layer.map(Recorder.memory, (context) => {
          const ledger = Context.get(context, RunLedger)
          return Context.add(context, RunLedger, {
            ...ledger,
            threadState: (threadId) =>
              // acme checks and confirms (calls 2, 3); globex's check (call 4) answers as before acme started.
              ++stale === 4 ? Effect.succeed(Option.none()) : ledger.threadState(threadId)
          })
        })
      ))
    )
  })
})

describe("message-array input", () => {
  it.effect("messages are appended in order, recorded, and sent; the run's input is the last user message", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const input: ReadonlyArray<HookEvent.Message> = [
        user("What is 2+2?"),
        {
          _tag: "assistant",
          content: "",
          toolCalls: [{ id: "c1", name: "calc", arguments: { expr: "2+2" } }]
        },
        { _tag: "tool", toolCallId: "c1", toolName: "calc", content: "4", isError: false },
        assistant("4."),
        user("And times 3?")
      ]
      const result = yield* agent.run(input)
      expect(result.answer).toBe("12.")
      expect((yield* sent)[0]!.messages).toEqual(input)
      const events = yield* (yield* MemoryRecorder).events(result.runId)
      expect(events[0]).toMatchObject({ _tag: "RunStarted", input: "And times 3?" })
      expect(events.filter((e) => e._tag === "MessageAppended").map((e) => e.message)).toEqual([
        ...input,
        assistant("12.")
      ])
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer([{ text: "12." }]), Recorder.memory))))

  it.effect("a bad element fails InvalidRunOptions naming it, before anything is recorded", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const fail = (input: unknown) =>
        Effect.map(Effect.flip(agent.run(input as string)), (e) => e as InvalidRunOptions)
      expect(yield* fail(42)).toMatchObject({
        field: "input",
        message: "input: must be a string or an array of messages"
      })
      expect(yield* fail([])).toMatchObject({ field: "input", message: "input: must hold at least one message" })
      const content = yield* fail([user("a"), { _tag: "user", content: 7 }])
      expect(content).toBeInstanceOf(InvalidRunOptions)
      expect(content.field).toBe("input[1].content")
      expect(content.message).toMatch(/^input\[1\]\.content: /)
      expect((yield* fail([user("a"), null])).field).toBe("input[1]")
      expect((yield* fail([{ _tag: "system", content: "x" }])).field).toBe("input[0]._tag")
      expect((yield* fail([{ _tag: "user", content: "x", extra: 1 }])).field).toBe("input[0].extra")
      const orphan = yield* fail([user("a"), {
        _tag: "tool",
        toolCallId: "c9",
        toolName: "x",
        content: "",
        isError: false
      }])
      expect(orphan.field).toBe("input[1].toolCallId")
      expect(orphan.message).toContain("answers call 'c9', which no earlier assistant message of the input made")
      expect(yield* (yield* MemoryRecorder).events()).toEqual([])
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer([]), Recorder.memory))))

  it.effect("the same input on stream and with structured output; message input continues a thread", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "" })
      const events = yield* Stream.runCollect(agent.stream([user("hi")], { threadId: "s" }))
      expect([...events].some((e) => e._tag === "RunCompleted")).toBe(true)
      const typed = yield* agent.run([user("a number please")], {
        threadId: "s",
        output: Schema.Struct({ n: Schema.Number })
      })
      expect(typed.output).toEqual({ n: 3 })
      const requests = yield* sent
      expect(requests[1]!.messages.slice(0, 3)).toEqual([user("hi"), assistant("hello"), user("a number please")])
      const bad = yield* Effect.flip(Stream.runCollect(agent.stream([{ _tag: "user" }] as never)))
      expect(bad).toMatchObject({ _tag: "InvalidRunOptions", field: "input[0].content" })
    }).pipe(
      Effect.provide(Layer.merge(ScriptedModel.layer([{ text: "hello" }, { text: "{\"n\":3}" }]), Recorder.memory))
    ))

  it("the Promise facade takes messages and a thread, and rejects a bad element with the typed error", async () => {
    const runtime = AgentRuntime.make(
      Layer.merge(ScriptedModel.layer([{ text: "one" }, { text: "two" }]), Recorder.memory)
    )
    try {
      const agent = Agent.makeSync({ name: "chat", instructions: "" })
      await runtime.run(agent, [user("first")], { threadId: "p" })
      const second = await runtime.run(agent, "second", { threadId: "p" })
      expect(second.answer).toBe("two")
      const error = await runtime.run(agent, [user("x"), { _tag: "assistant", content: "" } as never]).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(error).toBeInstanceOf(InvalidRunOptions)
      expect(error).toMatchObject({ field: "input[1].toolCalls" })
    } finally {
      await runtime.dispose()
    }
  })
})

describe("the history window of a thread", () => {
  /** Records a thread of two runs: [user, assistant(call), tool, assistant] then [user, assistant]. */
  const twoRuns = (agent: Agent.Agent) =>
    Effect.gen(function*() {
      yield* agent.run("Weather in Oslo?", { threadId: "w" })
      yield* agent.run("And in Rome?", { threadId: "w" })
    })
  const script = (...more: ReadonlyArray<ScriptedModel.ScriptStep>) =>
    ScriptedModel.layer([
      { toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] },
      { text: "Clear in Oslo." },
      { text: "Rome is sunny." },
      ...more
    ])

  it.effect("last N messages: a cut that would keep a tool result without its call moves past the result", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "chat",
        instructions: "",
        tools: [weather],
        history: { maxMessages: 4 }
      })
      yield* twoRuns(agent)
      yield* agent.run("Thanks!", { threadId: "w" })
      const requests = yield* sent
      // The last 4 earlier messages start with the tool result: it goes too, its call being cut off.
      expect(requests[3]!.messages).toEqual([
        assistant("Clear in Oslo."),
        user("And in Rome?"),
        assistant("Rome is sunny."),
        user("Thanks!")
      ])
    }).pipe(Effect.provide(Layer.merge(script({ text: "Welcome." }), Recorder.memory))))

  it.effect("a token budget keeps the latest messages within it (about four characters a token)", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "", history: { maxTokens: 30 } })
      const line = (c: string) => c.repeat(36) // 13 estimated tokens each
      yield* agent.run(line("a"), { threadId: "tok" })
      yield* agent.run(line("c"), { threadId: "tok" })
      yield* agent.run("last", { threadId: "tok" })
      const requests = yield* sent
      expect(requests[2]!.messages).toEqual([user(line("c")), assistant(line("d")), user("last")])
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([{ text: "b".repeat(36) }, { text: "d".repeat(36) }, { text: "ok" }]),
        Recorder.memory
      ))
    ))

  it.effect("the memory ledger counts the budget from recorded usage, and a retry stays on its thread", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [weather], history: { maxTokens: 30 } })
      yield* agent.run("Oslo?", { threadId: "use" })
      const second = yield* agent.run("And Bergen?", { threadId: "use" })
      const retried = yield* agent.retry(second.runId)
      const requests = yield* sent
      // The tool result counts 150 - 100 - 7 = 43 tokens: only the last answer (20) fits the budget.
      expect(requests[2]!.messages).toEqual([assistant("Clear."), user("And Bergen?")])
      // The retry is on the thread, and the run it retried is not part of its history.
      expect(requests[3]!.messages).toEqual([assistant("Clear."), user("And Bergen?")])
      const ledger = yield* RunLedger
      const stored = yield* ledger.get(retried.runId)
      expect(Option.getOrThrow(stored).threadId).toBe("use")
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([
          {
            toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }],
            usage: { inputTokens: 100, outputTokens: 7 }
          },
          { text: "Clear.", usage: { inputTokens: 150, outputTokens: 20 } },
          { text: "Rain.", usage: { inputTokens: 40, outputTokens: 2 } },
          { text: "Rain again.", usage: { inputTokens: 40, outputTokens: 3 } }
        ]),
        Recorder.memory
      ))
    ))

  it.effect("summarize: its text replaces the dropped prefix and is recorded as history.summarized", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<HookEvent.Message>> = []
      const agent = yield* Agent.make({
        name: "chat",
        instructions: "",
        tools: [weather],
        history: {
          maxMessages: 2,
          summarize: (dropped) => {
            seen.push(dropped)
            return Effect.succeed(`${dropped.length} messages about the weather in Oslo`)
          }
        }
      })
      yield* twoRuns(agent)
      const third = yield* agent.run("Thanks!", { threadId: "w" })
      expect(seen[1]!.map((m) => m._tag)).toEqual(["user", "assistant", "tool", "assistant"])
      const requests = yield* sent
      expect(requests[3]!.messages).toEqual([
        user("Summary of the earlier conversation:\n4 messages about the weather in Oslo"),
        user("And in Rome?"),
        assistant("Rome is sunny."),
        user("Thanks!")
      ])
      const events = yield* (yield* MemoryRecorder).events(third.runId)
      expect(events[1]).toMatchObject({
        _tag: "HistorySummarized",
        threadId: "w",
        droppedMessages: 4,
        keptMessages: 2,
        summary: "4 messages about the weather in Oslo"
      })
      // The summary is not a message of the run: the thread's record stays the messages that were said.
      expect(events.filter((e) => e._tag === "MessageAppended").map((e) => e.message)).toEqual([
        user("Thanks!"),
        assistant("Welcome.")
      ])
    }).pipe(Effect.provide(Layer.merge(script({ text: "Welcome." }), Recorder.memory))))

  it.effect("a summarize hook that fails or dies leaves the prefix out, records nothing, and the run goes on", () =>
    Effect.gen(function*() {
      const plain = yield* Agent.make({ name: "chat", instructions: "" })
      yield* plain.run("hello", { threadId: "f" })
      for (const hook of [() => Effect.fail("no summarizer"), () => Effect.die("boom")]) {
        const agent = yield* Agent.make({
          name: "chat",
          instructions: "",
          history: { maxMessages: 1, summarize: hook }
        })
        const result = yield* agent.run("again", { threadId: "f" })
        expect(result.status).toBe("success")
        const events = yield* (yield* MemoryRecorder).events(result.runId)
        expect(events.some((e) => e._tag === "HistorySummarized")).toBe(false)
      }
      const requests = yield* sent
      expect(requests[1]!.messages).toEqual([assistant("one"), user("again")])
      expect(requests[2]!.messages).toEqual([assistant("two"), user("again")])
    }).pipe(
      Effect.provide(
        Layer.merge(ScriptedModel.layer([{ text: "one" }, { text: "two" }, { text: "three" }]), Recorder.memory)
      )
    ))

  it("a bad window is an AgentConfigError naming the field", () => {
    expect(() => Agent.makeSync({ name: "a", instructions: "", history: { maxMessages: 0 } })).toThrow(
      /history\.maxMessages/
    )
    expect(() => Agent.makeSync({ name: "a", instructions: "", history: { summarize: "x" as never } })).toThrow(
      /history\.summarize: must be a function/
    )
  })
})
