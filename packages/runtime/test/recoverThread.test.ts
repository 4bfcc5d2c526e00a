/**
 * A run on a thread continued from its record (`Agent.recover`, what a fleet runner does after its runner was
 * lost): the record of a run holds only its own messages, so the thread's earlier messages must be read again,
 * as the run's first segment read them (its own messages not twice, its recorded summary not made again).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { cutThreadRun } from "../../../test-support/threads.js"
import { Agent, type HookEvent, Ids, MemoryRecorder, Recorder, ScriptedModel } from "../src/index.js"

const user = (content: string): HookEvent.Message => ({ _tag: "user", content })
const assistant = (content: string): HookEvent.Message => ({ _tag: "assistant", content, toolCalls: [] })

const sent = Effect.flatMap(ScriptedModel.Requests, (r) => r.requests)

describe("Agent.recover of a run on a thread", () => {
  it.effect("the model call made again holds the thread's earlier messages, then the run's own, once each", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "Be brief." })
      yield* agent.run("My name is Ada.", { threadId: "t-1" })
      const runId = Ids.make()
      yield* cutThreadRun(runId, "t-1", "What is my name?")
      const memory = yield* MemoryRecorder
      const result = yield* Agent.recover(agent, runId, yield* memory.events(runId))
      expect(result).toMatchObject({ status: "success", answer: "You are Ada." })
      const requests = yield* sent
      expect(requests[1]!.messages).toEqual([
        user("My name is Ada."),
        assistant("Hello Ada."),
        user("What is my name?")
      ])
      // The run's record still holds only its own messages.
      const events = yield* memory.events(runId)
      expect(events.filter((e) => e._tag === "MessageAppended").map((e) => e.message)).toEqual([
        user("What is my name?"),
        assistant("You are Ada.")
      ])
      expect(events.map((e) => e.sequenceIndex)).toEqual(events.map((_, i) => i))
      // The next run of the thread sees the recovered one as any other.
      yield* agent.run("Thanks.", { threadId: "t-1" })
      expect((yield* sent)[2]!.messages).toEqual([
        user("My name is Ada."),
        assistant("Hello Ada."),
        user("What is my name?"),
        assistant("You are Ada."),
        user("Thanks.")
      ])
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([{ text: "Hello Ada." }, { text: "You are Ada." }, { text: "You are welcome." }]),
        Recorder.memory
      ))
    ))

  it.effect("a windowed thread: the summary the first segment recorded is used again, the hook not called", () =>
    Effect.gen(function*() {
      let summaries = 0
      const agent = yield* Agent.make({
        name: "chat",
        instructions: "Be brief.",
        history: {
          maxMessages: 2,
          summarize: (dropped) => Effect.sync(() => `summary ${++summaries} of ${dropped.length}`)
        }
      })
      const plain = yield* Agent.make({ name: "chat", instructions: "Be brief." })
      yield* plain.run("My name is Ada.", { threadId: "w" })
      yield* plain.run("I live in Oslo.", { threadId: "w" })
      const runId = Ids.make()
      yield* cutThreadRun(runId, "w", "Where do I live?", [{
        _tag: "HistorySummarized",
        threadId: "w",
        droppedMessages: 2,
        keptMessages: 2,
        summary: "recorded summary"
      }])
      const memory = yield* MemoryRecorder
      const result = yield* Agent.recover(agent, runId, yield* memory.events(runId))
      expect(result.status).toBe("success")
      expect(summaries).toBe(0)
      expect((yield* sent)[2]!.messages).toEqual([
        user("Summary of the earlier conversation:\nrecorded summary"),
        user("I live in Oslo."),
        assistant("Noted."),
        user("Where do I live?")
      ])
      const events = yield* memory.events(runId)
      expect(events.filter((e) => e._tag === "HistorySummarized")).toHaveLength(1)
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([{ text: "Hello Ada." }, { text: "Noted." }, { text: "In Oslo." }]),
        Recorder.memory
      ))
    ))
})
