/**
 * A run on a thread continued from its Postgres record, as a fleet runner continues a run whose runner was
 * lost (`Agent.recover` over the record read back): the model call made again holds the thread's earlier
 * runs' messages (read from the SQL ledger), then the run's own, once each.
 */
import { SqlClient } from "@effect/sql"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Database, Migrations, SqlRecorder } from "@sextant/recorder"
import { Agent, HookBus, type HookEvent, Ids, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { createPgDatabase } from "../../../test-support/databases.js"
import { readEvents } from "../src/internal/record.js"

let db: { readonly url: string; readonly drop: () => Promise<void> }

beforeAll(async () => {
  db = await createPgDatabase()
  await Effect.runPromise(Effect.provide(Migrations.run, Database.layerFromUrl(db.url)))
}, 60_000)

afterAll(async () => {
  await db?.drop()
}, 30_000)

const user = (content: string): HookEvent.Message => ({ _tag: "user", content })
const assistant = (content: string): HookEvent.Message => ({ _tag: "assistant", content, toolCalls: [] })

describe("a fleet run on a thread continued from its Postgres record", () => {
  it("its next model call holds the thread's earlier messages", async () => {
    const program = Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "Be brief." })
      yield* agent.run("My name is Ada.", { threadId: "pg-thread" })
      // The second run's record as a lost runner left it: started on the thread, its input, a call in flight.
      const runId = Ids.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const bus = yield* HookBus.open({ runId })
        yield* bus.emit({
          _tag: "RunStarted",
          agentName: "chat",
          instructions: "Be brief.",
          input: "What is my name?",
          delegationLevel: 0,
          tools: [],
          threadId: "pg-thread"
        }, 0)
        yield* bus.emit({ _tag: "MessageAppended", orderIndex: 0, message: user("What is my name?") }, 0)
        yield* bus.emit({
          _tag: "LlmCallStarted",
          correlationId: `llm-${runId}`,
          provider: "scripted",
          model: "scripted",
          messageCount: 1
        }, 1)
      }))
      // What a runner does with the delivered run: the record read back, the run continued from it.
      const events = yield* readEvents(yield* SqlClient.SqlClient, runId)
      const result = yield* Agent.recover(agent, runId, events)
      const requests = yield* (yield* ScriptedModel.Requests).requests
      return { result, request: requests[1]!.messages }
    })
    const { request, result } = await Effect.runPromise(program.pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([{ text: "Hello Ada." }, { text: "You are Ada." }]),
        SqlRecorder.layerFromUrl(db.url)
      ))
    ))
    expect(result).toMatchObject({ status: "success", answer: "You are Ada." })
    expect(request).toEqual([user("My name is Ada."), assistant("Hello Ada."), user("What is my name?")])
  }, 60_000)
})
