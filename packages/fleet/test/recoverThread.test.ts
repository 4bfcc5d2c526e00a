/**
 * A run on a thread continued from its Postgres record, as a fleet runner continues a run whose runner was
 * lost (`Agent.recover` over the record read back): the model call made again holds the thread's earlier
 * runs' messages (read from the SQL ledger), then the run's own, once each.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, type HookEvent, Ids, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { cutThreadRun } from "../../../test-support/threads.js"
import { databaseForFile } from "../../recorder/test/databases.js"
import { readEvents } from "../src/internal/record.js"

const db = databaseForFile("postgres")

const user = (content: string): HookEvent.Message => ({ _tag: "user", content })
const assistant = (content: string): HookEvent.Message => ({ _tag: "assistant", content, toolCalls: [] })

describe("a fleet run on a thread continued from its Postgres record", () => {
  it("its next model call holds the thread's earlier messages", async () => {
    const program = Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "chat", instructions: "Be brief." })
      yield* agent.run("My name is Ada.", { threadId: "pg-thread" })
      // The second run's record as a lost runner left it: started on the thread, its input, a call in flight.
      const runId = Ids.make()
      yield* cutThreadRun(runId, "pg-thread", "What is my name?")
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
