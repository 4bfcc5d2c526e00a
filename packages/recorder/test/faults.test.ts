import { describe, expect, it } from "@effect/vitest"
import { Agent, RecorderError, ScriptedModel } from "@sextant/runtime"
import { Effect, Exit, Layer } from "effect"
import { SqlRecorder } from "../src/index.js"
import { countingTool, dialects, pgAdmin, recordedEvents, runRow, sqliteLocker, toolThenAnswer } from "./support.js"

const [sqlite, postgres] = dialects as [(typeof dialects)[number], (typeof dialects)[number]]

/** Tool `first`, then tool `second`, then an answer: the run of the fault tests. */
const twoStepScript: ReadonlyArray<ScriptedModel.ScriptStep> = [
  { toolCalls: [{ name: "first", arguments: { q: "a" } }] },
  { toolCalls: [{ name: "second", arguments: { q: "b" } }] },
  { text: "done" }
]
const EVENTS = [
  "run.started",
  "message.appended",
  "llm.started",
  "llm.completed",
  "message.appended",
  "tool.started",
  "tool.completed",
  "message.appended",
  "llm.started",
  "llm.completed",
  "message.appended",
  "tool.started",
  "tool.completed",
  "message.appended",
  "llm.started",
  "llm.completed",
  "message.appended",
  "run.completed"
]

/** Runs the two-step agent on `url`; `first`'s handler runs `during` (the fault). */
const runWithFault = (
  url: string,
  runId: string,
  during: () => Promise<void>,
  options?: SqlRecorder.SqlRecorderOptions
) =>
  Effect.gen(function*() {
    const first = countingTool("first", during)
    const second = countingTool("second")
    return yield* Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "faulty", instructions: "", tools: [first.tool, second.tool] })
      const exit = yield* Effect.exit(agent.run("go", { runId }))
      const requests = yield* (yield* ScriptedModel.Requests).requests
      return { exit, requests, first: first.calls.count, second: second.calls.count }
    }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(twoStepScript), SqlRecorder.layerFromUrl(url, options))))
  })

/** What a run's record holds, read through a fresh recorder connection. */
const record = (url: string, runId: string) =>
  Effect.gen(function*() {
    return { events: yield* recordedEvents(runId), run: yield* runRow(runId) }
  }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))

const recorderError = (exit: Exit.Exit<unknown, unknown>) => {
  expect(Exit.isFailure(exit)).toBe(true)
  const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
  expect(error).toBeInstanceOf(RecorderError)
  return error as RecorderError
}

describe("transient faults are retried: the run completes with no missing or duplicated event", () => {
  it.scopedLive("sqlite: another connection holds the write lock for less than the retry budget", () =>
    Effect.gen(function*() {
      const url = yield* sqlite.database
      const locker = yield* sqliteLocker(url)
      // The lock is taken while the tool runs and released 500 ms later; tool.completed must wait it out.
      const out = yield* runWithFault(url, "busy", async () => {
        await locker.lock()
        setTimeout(() => void locker.unlock(), 500)
      })
      expect(Exit.isSuccess(out.exit)).toBe(true)
      expect(out).toMatchObject({ first: 1, second: 1 })
      const { events, run } = yield* record(url, "busy")
      expect(events.map((e) => e.type)).toEqual(EVENTS)
      expect(events.map((e) => e.seq)).toEqual(EVENTS.map((_, i) => i))
      expect(run).toMatchObject({ status: "success" })
    }))

  it.scopedLive("postgres: the recorder's connections are terminated in the middle of concurrent runs", () =>
    Effect.gen(function*() {
      const url = yield* postgres.database
      const admin = yield* pgAdmin(url)
      const database = new URL(url).pathname.slice(1)
      const terminate = () =>
        admin<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
           WHERE datname = $1 AND pid <> pg_backend_pid() AND application_name = 'sextant'`,
          [database]
        )
      const killedInTool: Array<number> = []
      const runs = 10
      const { tool } = countingTool("lookup", async () => void killedInTool.push((await terminate()).length))
      const script = Array.from({ length: runs * 2 }, () => toolThenAnswer("lookup"))
      // Each run's tool terminates every connection of the recorder while the other runs' writes are in flight.
      const results = yield* Effect.gen(function*() {
        const agent = yield* Agent.make({ name: "many", instructions: "", tools: [tool] })
        return yield* Effect.forEach(
          Array.from({ length: runs }, (_, i) => `kill-${i}`),
          (runId) => agent.run("go", { runId }),
          { concurrency: "unbounded" }
        )
      }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))))
      expect(results.every((r) => r.status === "success")).toBe(true)
      expect(killedInTool.some((n) => n > 0)).toBe(true)
      for (let i = 0; i < runs; i++) {
        const { events, run } = yield* record(url, `kill-${i}`)
        expect(events.map((e) => e.seq)).toEqual(events.map((_, j) => j))
        expect(events).toHaveLength(12)
        expect(events.at(-1)?.type).toBe("run.completed")
        expect(run).toMatchObject({ status: "success", last_sequence_index: 11 })
      }
    }))
})

describe("permanent faults halt the run at the failed write", () => {
  it.scopedLive("sqlite: the write lock is held past the retry budget", () =>
    Effect.gen(function*() {
      const url = yield* sqlite.database
      const locker = yield* sqliteLocker(url)
      const out = yield* runWithFault(url, "locked", () => locker.lock(), { retryBudget: "1 second" })
      const error = recorderError(out.exit)
      expect(error).toMatchObject({
        eventType: "tool.completed",
        runId: "locked",
        sequenceIndex: 6,
        reason: "transient"
      })
      expect(error.attempts).toBeGreaterThan(1)
      expect(error.message).toMatch(/SQLITE_BUSY/)
      // The model got no request after the failed write, and the next tool never ran.
      expect(out.requests).toHaveLength(1)
      expect(out).toMatchObject({ first: 1, second: 0 })
      yield* Effect.promise(locker.unlock)
      const { events, run } = yield* record(url, "locked")
      expect(events.map((e) => e.type)).toEqual(EVENTS.slice(0, 6))
      // The best-effort status write could not get the lock either: the sweep will find the run.
      expect(run).toMatchObject({ status: "running", last_sequence_index: 5 })
    }))

  it.scopedLive("postgres: INSERT is revoked on run_events in the middle of the run", () =>
    Effect.gen(function*() {
      const url = yield* postgres.database
      const admin = yield* pgAdmin(url)
      // The recorder connects as an ordinary role (root is a superuser, whom REVOKE does not bind).
      const role = `sextant_rec_${Math.random().toString(36).slice(2, 10)}`
      yield* Effect.acquireRelease(
        Effect.promise(() =>
          admin(`CREATE ROLE ${role} LOGIN`).then(() =>
            admin(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role};
                   GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`)
          )
        ),
        () => Effect.promise(() => admin(`DROP OWNED BY ${role}; DROP ROLE ${role}`))
      )
      const roleUrl = new URL(url)
      roleUrl.username = role
      const out = yield* runWithFault(roleUrl.toString(), "revoked", async () => {
        await admin(`REVOKE INSERT ON run_events FROM ${role}`)
      })
      const error = recorderError(out.exit)
      expect(error).toMatchObject({ eventType: "tool.completed", sequenceIndex: 6, reason: "permanent", attempts: 1 })
      expect(error.message).toMatch(/permission denied/)
      expect(out.requests).toHaveLength(1)
      expect(out).toMatchObject({ first: 1, second: 0 })
      const { events, run } = yield* record(url, "revoked")
      expect(events.map((e) => e.type)).toEqual(EVENTS.slice(0, 6))
      // No partial rows of the failed event: its tool_calls row was rolled back with it.
      const [toolRow] = yield* Effect.promise(() =>
        admin<{ completed_at: Date | null }>(`SELECT completed_at FROM tool_calls WHERE agent_run_id = 'revoked'`)
      )
      expect(toolRow).toEqual({ completed_at: null })
      // The recorder's one best-effort write marked the run.
      expect(run).toMatchObject({ status: "error", failure_reason: "recorder", last_sequence_index: 5 })
    }))
})
