/**
 * Commit points on a real SQLite file (docs/commit-points.md): the events between two external steps are one
 * `recordAll` (one transaction). A write failing inside such a group leaves none of the group durable, and
 * nothing after the group's commit point happens: no model call, no tool execution, no result handed back.
 * The failure is a trigger on `run_events` refusing one event in the middle of a group.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, Notifier, Notifiers, RecorderError, ScriptedModel } from "@sextant/runtime"
import { Effect, Exit, Layer } from "effect"
import { Database, SqlRecorder } from "../src/index.js"
import { countingTool, dialects, recordedEvents, runRow, toolThenAnswer } from "./support.js"

const sqlite = dialects[0]!

/** Refuses (permanently) the insert of the run's event at `sequenceIndex`. */
const refuseEvent = (url: string, sequenceIndex: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`CREATE TRIGGER refuse_one BEFORE INSERT ON run_events
      WHEN NEW.sequence_index = ${sequenceIndex}
      BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END`)
  }).pipe(Effect.provide(Database.layerFromUrl(url)))

/** Runs one tool then an answer on `url`, with a notifier recording what it was shown. */
const runOnce = (url: string, runId: string) =>
  Effect.gen(function*() {
    const lookup = countingTool("lookup")
    const seen: Array<number> = []
    const notifier = Notifier.make({
      name: "seen",
      onEvent: (event) => void ("sequenceIndex" in event && seen.push(event.sequenceIndex))
    })
    const out = yield* Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "commit", instructions: "", tools: [lookup.tool] })
      const exit = yield* Effect.exit(agent.run("go", { runId }))
      const requests = yield* (yield* ScriptedModel.Requests).requests
      return { exit, requests: requests.length }
    }).pipe(
      Effect.provide(Layer.mergeAll(
        ScriptedModel.layer([toolThenAnswer("lookup"), toolThenAnswer("lookup")]),
        SqlRecorder.layerFromUrl(url),
        Notifiers.layer([notifier])
      ))
    )
    // The notifiers' scope closed (drained) with the layer: `seen` is everything they were ever offered.
    const record = yield* Effect.all({ events: recordedEvents(runId), run: runRow(runId) }).pipe(
      Effect.provide(SqlRecorder.layerFromUrl(url))
    )
    return { ...out, ...record, seen, toolRuns: lookup.calls.count }
  })

const recorderError = (exit: Exit.Exit<unknown, unknown>) => {
  expect(Exit.isFailure(exit)).toBe(true)
  const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
  expect(error).toBeInstanceOf(RecorderError)
  return error as RecorderError
}

// The run: 0 run.started | 1 message.appended, 2 llm.started | 3 llm.completed, 4 message.appended,
// 5 tool.started | 6 tool.completed, 7 message.appended, 8 llm.started | 9 llm.completed, 10 message.appended,
// 11 run.completed | — each `|` a commit point (run.started alone; then before each model call, tool
// execution and the result).
describe("sqlite: a write failing inside a multi-event group", () => {
  it.scopedLive("the group before a tool: none of it is durable, the tool never runs, no notifier sees it", () =>
    Effect.gen(function*() {
      const url = yield* sqlite.database
      yield* refuseEvent(url, 4)
      const out = yield* runOnce(url, "group-tool")
      const error = recorderError(out.exit)
      expect(error).toMatchObject({ runId: "group-tool", reason: "permanent", sequenceIndex: 3 })
      expect(error.message).toMatch(/refused by the test trigger/)
      expect(out.requests).toBe(1)
      expect(out.toolRuns).toBe(0)
      expect(out.events.map((e) => e.seq)).toEqual([0, 1, 2])
      expect(out.seen).toEqual([0, 1, 2])
      expect(out.run).toMatchObject({ status: "error", failure_reason: "recorder", last_sequence_index: 2 })
    }))

  it.scopedLive("the group before the result: no result is handed back, nothing of the group is durable", () =>
    Effect.gen(function*() {
      const url = yield* sqlite.database
      yield* refuseEvent(url, 10)
      const out = yield* runOnce(url, "group-result")
      const error = recorderError(out.exit)
      expect(error).toMatchObject({ runId: "group-result", reason: "permanent", sequenceIndex: 9 })
      expect(out.requests).toBe(2)
      expect(out.toolRuns).toBe(1)
      expect(out.events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
      expect(out.seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
      expect(out.run).toMatchObject({ status: "error", failure_reason: "recorder", last_sequence_index: 8 })
    }))

  it.scopedLive("without a fault every event is durable in order, and shown to the notifier once durable", () =>
    Effect.gen(function*() {
      const url = yield* sqlite.database
      const out = yield* runOnce(url, "group-ok")
      expect(Exit.isSuccess(out.exit)).toBe(true)
      expect(out.events.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i))
      expect(out.seen).toEqual(Array.from({ length: 12 }, (_, i) => i))
      expect(out.run).toMatchObject({ status: "success", last_sequence_index: 11 })
    }))
})
