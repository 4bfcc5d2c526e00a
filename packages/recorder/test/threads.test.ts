import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, type HookEvent, Recorder, RunLedger, ScriptedModel, ThreadBusy } from "@sextant/runtime"
import { Effect, Either, Option } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { SqlRecorder, Tables } from "../src/index.js"
import { dialects, started as startedEvent } from "./support.js"
import { assistant, pick, processOn, user, weather } from "./threadFixtures.js"

const child = fileURLToPath(new URL("./fixtures/thread-child.ts", import.meta.url))
const root = fileURLToPath(new URL("../../..", import.meta.url))

/** What the child process printed: its run's result or error, and the messages its model was sent. */
interface ChildOutput {
  readonly result?: { readonly status: string; readonly runId: string; readonly answer?: string }
  readonly error?: { readonly _tag: string; readonly activeRunId?: string; readonly message: string }
  readonly sent: ReadonlyArray<ReadonlyArray<HookEvent.Message>>
}

/** Runs the child on the thread; `started` resolves once it is about to run. */
const runChild = (args: ReadonlyArray<string>) => {
  let started!: () => void
  const ready = new Promise<void>((resolve) => (started = resolve))
  const done = new Promise<ChildOutput>((resolve, reject) => {
    const proc = spawn(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", child, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    proc.stderr.on("data", (d) => (stderr += String(d)))
    proc.stdout.on("data", (d) => {
      stdout += String(d)
      if (stdout.includes("STARTING")) started()
    })
    proc.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? ""
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as ChildOutput)
      else reject(new Error(`child exited ${code}: ${stderr}`))
    })
  })
  return { ready, done }
}

const threadRows = (threadId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ id: string; status: string; thread_id: string | null }>`SELECT id, status, thread_id
      FROM agent_runs WHERE thread_id = ${Tables.escapeText(threadId)} ORDER BY created_at, id`
  })

for (const dialect of dialects) {
  describe(`${dialect.name}: threads on the SQL record`, () => {
    it.scoped("three runs, each in a fresh runtime: the third request holds the first two runs' messages in order", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [weather] })
        const turn = (input: string, script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
          Effect.gen(function*() {
            const result = yield* agent.run(input, { threadId: "conv-1", tenantId: "acme" })
            return { result, sent: yield* (yield* ScriptedModel.Requests).requests }
          }).pipe(Effect.provide(processOn(url, script)))
        yield* turn("My name is Ada.", [{ text: "Hello Ada." }])
        yield* turn("Weather in Oslo?", [
          { toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] },
          { text: "Clear in Oslo." }
        ])
        const third = yield* turn("What is my name?", [{ text: "You are Ada." }])
        const messages = third.sent[0]!.messages
        expect(messages.map((m) => m._tag)).toEqual([
          "user",
          "assistant",
          "user",
          "assistant",
          "tool",
          "assistant",
          "user"
        ])
        expect(messages[0]).toEqual(user("My name is Ada."))
        expect(messages[1]).toEqual(assistant("Hello Ada."))
        const call = messages[3] as Extract<HookEvent.Message, { _tag: "assistant" }>
        expect(call.toolCalls).toEqual([{
          id: expect.any(String),
          providerCallId: "call_1_1",
          name: "weather",
          arguments: { city: "Oslo" }
        }])
        expect(messages[4]).toEqual({
          _tag: "tool",
          toolCallId: call.toolCalls[0]!.id,
          providerCallId: "call_1_1",
          toolName: "weather",
          content: JSON.stringify({ city: "Oslo", sky: "clear" }),
          isError: false
        })
        expect(messages.slice(5)).toEqual([assistant("Clear in Oslo."), user("What is my name?")])
        const rows = yield* threadRows("conv-1").pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(rows.map((r) => r.status)).toEqual(["success", "success", "success"])
        expect(rows.map((r) => r.thread_id)).toEqual(["conv-1", "conv-1", "conv-1"])
        // What the model was sent is exact in llm_interactions.
        const interactions = yield* Effect.flatMap(
          SqlClient.SqlClient,
          (sql) =>
            sql<
              { semantic_request: unknown }
            >`SELECT semantic_request FROM llm_interactions WHERE agent_run_id = ${third.result.runId}`
        ).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(JSON.stringify(interactions[0]!.semantic_request)).toContain("My name is Ada.")
      }))

    it.scoped("a thread is continued by another process, after this one's runtime is gone", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "chat", instructions: "" })
        yield* agent.run("Remember 42.", { threadId: "conv-p", tenantId: "acme" }).pipe(
          Effect.provide(processOn(url, [{ text: "Noted." }]))
        )
        const out = yield* Effect.promise(() => runChild([url, "conv-p", "Which number?", "reject", "acme"]).done)
        expect(out.result).toMatchObject({ status: "success", answer: "from the child" })
        expect(out.sent[0]).toEqual([user("Remember 42."), assistant("Noted."), user("Which number?")])
        const foreign = yield* Effect.promise(() => runChild([url, "conv-p", "mine?", "reject", "globex"]).done)
        expect(foreign.error).toMatchObject({ _tag: "ThreadTenantMismatch" })
        expect(foreign.sent).toEqual([])
        const rows = yield* threadRows("conv-p").pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(rows).toHaveLength(2)
      }))

    it.scopedLive(
      "two processes on a busy thread: reject fails ThreadBusy; wait runs after the paused run, in order",
      () =>
        Effect.gen(function*() {
          const url = yield* dialect.database
          const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [pick] })
          const paused = yield* agent.run("open a file", { threadId: "conv-b" }).pipe(
            Effect.provide(processOn(url, [{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }]))
          )
          expect(paused.status).toBe("waiting_client_tool")
          const rejected = yield* Effect.promise(() => runChild([url, "conv-b", "next", "reject"]).done)
          expect(rejected.error).toMatchObject({ _tag: "ThreadBusy", activeRunId: paused.runId })
          expect(rejected.sent).toEqual([])
          const waiting = runChild([url, "conv-b", "and then?", "wait"])
          yield* Effect.promise(() => waiting.ready)
          yield* Effect.sleep("300 millis")
          yield* agent.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: "/a.pdf" }])
            .pipe(
              Effect.provide(processOn(url, [{ text: "Opened." }]))
            )
          const waited = yield* Effect.promise(() => waiting.done)
          expect(waited.result).toMatchObject({ status: "success" })
          expect(waited.sent[0]!.map((m) => m._tag)).toEqual(["user", "assistant", "tool", "assistant", "user"])
          expect(waited.sent[0]!.slice(3)).toEqual([assistant("Opened."), user("and then?")])
          const rows = yield* threadRows("conv-b").pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
          expect(rows.map((r) => r.status)).toEqual(["success", "success"])
        }),
      { timeout: 60_000 }
    )

    it.scoped("two runtimes starting on one thread at once: exactly one proceeds, the other fails ThreadBusy", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        // Migrated once before the race (SQLite files migrate when first opened).
        yield* threadRows("conv-race").pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        const agent = yield* Agent.make({ name: "chat", instructions: "", tools: [pick] })
        const start = (n: number) =>
          Effect.either(agent.run(`start ${n}`, { threadId: "conv-race" })).pipe(
            Effect.provide(processOn(url, [{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }]))
          )
        const outcomes = yield* Effect.all([start(1), start(2), start(3)], { concurrency: "unbounded" })
        const won = outcomes.filter(Either.isRight)
        const lost = outcomes.filter(Either.isLeft).map((o) => o.left)
        expect(won).toHaveLength(1)
        expect(won[0]!.right.status).toBe("waiting_client_tool")
        expect(lost).toHaveLength(2)
        for (const error of lost) {
          expect(error).toBeInstanceOf(ThreadBusy)
          expect(error).toMatchObject({ activeRunId: won[0]!.right.runId })
        }
        const rows = yield* threadRows("conv-race").pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(rows.map((r) => r.id)).toEqual([won[0]!.right.runId])
      }))

    it.scoped("a thread message the record cannot read back fails the next run RecorderError, naming the thread", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "chat", instructions: "" })
        const first = yield* agent.run("hi", { threadId: "conv-bad" }).pipe(
          Effect.provide(processOn(url, [{ text: "a" }]))
        )
        const { error, status } = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`UPDATE react_traces SET role = 'system' WHERE agent_run_id = ${first.runId} AND order_index = 0`
          const error = yield* Effect.flip(agent.run("again", { threadId: "conv-bad", runId: "after-bad" }))
          const status = yield* sql<{ status: string; failure_reason: string }>`SELECT status, failure_reason
            FROM agent_runs WHERE id = 'after-bad'`
          return { error, status }
        }).pipe(Effect.provide(processOn(url, [])))
        expect(error).toMatchObject({ _tag: "RecorderError", operation: "ledger.threadHistory", reason: "permanent" })
        expect(error.message).toContain("ledger.threadHistory of thread conv-bad failed")
        expect(error.message).toContain(`unknown role "system"`)
        // The run whose start was recorded ends error/recorder, so the thread is not left busy.
        expect(status).toEqual([{ status: "error", failure_reason: "recorder" }])
      }))

    it.scoped("a user message's image and file parts are recorded and come back with the thread's history", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "vision", instructions: "" })
        const message: HookEvent.Message = {
          _tag: "user",
          content: "What is this?",
          parts: [
            { _tag: "image", url: "https://example.com/a.png" },
            { _tag: "file", data: Buffer.from("%PDF").toString("base64"), mediaType: "application/pdf", name: "a.pdf" }
          ]
        }
        yield* agent.run([message], { threadId: "conv-mm" }).pipe(Effect.provide(processOn(url, [{ text: "A cat." }])))
        const sent = yield* Effect.gen(function*() {
          yield* agent.run("And now?", { threadId: "conv-mm" })
          return yield* (yield* ScriptedModel.Requests).requests
        }).pipe(Effect.provide(processOn(url, [{ text: "Still a cat." }])))
        expect(sent[0]!.messages).toEqual([message, assistant("A cat."), user("And now?")])
      }))

    it.scoped("the database decides: a second run.started on a thread with an active run is a conflict", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const started = (runId: string) => startedEvent(runId, undefined, { threadId: "conv-db" })
        const { first, ledgerState, second } = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          const first = yield* Effect.either(recorder.record(started("r1")))
          const second = yield* Effect.either(recorder.record(started("r2")))
          const ledgerState = yield* (yield* RunLedger).threadState("conv-db")
          return { first, second, ledgerState }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(Either.isRight(first)).toBe(true)
        expect(Either.isLeft(second) && second.left.reason).toBe("conflict")
        expect(ledgerState).toEqual(Option.some({ runCount: 1, activeRunId: "r1" }))
      }))
  })
}
