import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, ThreadBusy } from "@sextant/runtime"
import { Effect, Either } from "effect"
import { SqlRecorder, Tables } from "../src/index.js"
import { dialects } from "./support.js"
import { assistant, pick, processOn, sent, user, weather } from "./threadFixtures.js"

const eventData = (runId: string, type: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ data: unknown }>`SELECT data FROM run_events
      WHERE agent_run_id = ${Tables.escapeText(runId)} AND event_type = ${type}`
    return rows.map((r) => Tables.decodeJson(r.data) as Record<string, unknown>)
  })

for (const dialect of dialects) {
  describe(`${dialect.name}: runs of a thread (retry, resume, token budget)`, () => {
    it.scoped("a retry of a thread's run stays on the thread; the retried run's turn is not sent twice", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [pick] })
        yield* agent.run("My name is Ada.", { threadId: "conv-r" }).pipe(
          Effect.provide(processOn(url, [{ text: "Hello Ada." }]))
        )
        const second = yield* agent.run("What is my name?", { threadId: "conv-r" }).pipe(
          Effect.provide(processOn(url, [{ text: "I forgot." }]))
        )
        const retried = yield* Effect.gen(function*() {
          const result = yield* agent.retry(second.runId)
          return { result, requests: yield* sent }
        }).pipe(Effect.provide(processOn(url, [{ text: "You are Ada." }])))
        expect(retried.result.status).toBe("success")
        expect(retried.requests[0]!.messages).toEqual([
          user("My name is Ada."),
          assistant("Hello Ada."),
          user("What is my name?")
        ])
        const rows = yield* Effect.flatMap(
          SqlClient.SqlClient,
          (sql) =>
            sql<{ thread_id: string | null; retry_of_run_id: string | null }>`SELECT thread_id, retry_of_run_id
            FROM agent_runs WHERE id = ${Tables.escapeText(retried.result.runId)}`
        ).pipe(
          Effect.provide(SqlRecorder.layerFromUrl(url))
        )
        expect(rows).toEqual([{ thread_id: "conv-r", retry_of_run_id: second.runId }])
        // A later run of the thread sees the retry in place of the run it retried.
        const next = yield* Effect.gen(function*() {
          yield* agent.run("Thanks.", { threadId: "conv-r" })
          return yield* sent
        }).pipe(Effect.provide(processOn(url, [{ text: "Welcome." }])))
        expect(next[0]!.messages).toEqual([
          user("My name is Ada."),
          assistant("Hello Ada."),
          user("What is my name?"),
          assistant("You are Ada."),
          user("Thanks.")
        ])
      }))

    it.scoped("a retry respects one active run per thread: ThreadBusy while another run of the thread is paused", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [pick] })
        const first = yield* agent.run("hi", { threadId: "conv-rb" }).pipe(
          Effect.provide(processOn(url, [{ text: "Hello." }]))
        )
        const paused = yield* agent.run("open a file", { threadId: "conv-rb" }).pipe(
          Effect.provide(processOn(url, [{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }]))
        )
        expect(paused.status).toBe("waiting_client_tool")
        const outcome = yield* Effect.either(agent.retry(first.runId)).pipe(
          Effect.provide(processOn(url, [{ text: "again" }]))
        )
        expect(Either.isLeft(outcome) && outcome.left).toBeInstanceOf(ThreadBusy)
        expect(Either.isLeft(outcome) && outcome.left).toMatchObject({ threadId: "conv-rb", activeRunId: paused.runId })
      }))

    it.scoped("run.resumed names the run's thread, as run.started does", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [pick] })
        const paused = yield* agent.run("open a file", { threadId: "conv-s" }).pipe(
          Effect.provide(processOn(url, [{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }]))
        )
        // Resumed by another "process", which never saw the start.
        const done = yield* agent.submitToolResults(paused.runId, [{
          callId: paused.pendingCalls![0]!.id,
          result: "/a.pdf"
        }]).pipe(Effect.provide(processOn(url, [{ text: "Opened." }])))
        expect(done.status).toBe("success")
        const resumed = yield* eventData(paused.runId, "run.resumed").pipe(
          Effect.provide(SqlRecorder.layerFromUrl(url))
        )
        expect(resumed).toHaveLength(1)
        expect(resumed[0]).toMatchObject({ threadId: "conv-s", resumedFrom: "waiting_client_tool" })
      }))

    it.scoped("the token budget counts earlier messages from their runs' recorded usage, exactly", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        // 30 tokens: the last answer (20 recorded output tokens) fits; with the tool result (43) it would not.
        // By the four-characters estimate all three of the last messages would fit (about 29 tokens).
        const agent = yield* Agent.make({
          name: "chat",
          instructions: "",
          tools: [weather],
          history: { maxTokens: 30 }
        })
        yield* agent.run("Oslo?", { threadId: "conv-t" }).pipe(
          Effect.provide(processOn(url, [
            {
              toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }],
              usage: { inputTokens: 100, outputTokens: 7 }
            },
            { text: "Clear.", usage: { inputTokens: 150, outputTokens: 20 } }
          ]))
        )
        const requests = yield* Effect.gen(function*() {
          yield* agent.run("And Bergen?", { threadId: "conv-t" })
          return yield* sent
        }).pipe(Effect.provide(processOn(url, [{ text: "Rain." }])))
        expect(requests[0]!.messages).toEqual([assistant("Clear."), user("And Bergen?")])
      }))

    it.scoped("without recorded usage the budget falls back to the character estimate", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({
          name: "chat",
          instructions: "",
          tools: [weather],
          history: { maxTokens: 30 }
        })
        yield* agent.run("Oslo?", { threadId: "conv-e" }).pipe(
          Effect.provide(processOn(url, [
            { toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] },
            { text: "Clear." }
          ]))
        )
        const requests = yield* Effect.gen(function*() {
          yield* agent.run("And Bergen?", { threadId: "conv-e" })
          return yield* sent
        }).pipe(Effect.provide(processOn(url, [{ text: "Rain." }])))
        expect(requests[0]!.messages.map((m) => m._tag)).toEqual(["assistant", "tool", "assistant", "user"])
      }))
  })
}
