import { describe, expect, it } from "@effect/vitest"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { SqlRecorder } from "../src/index.js"
import { dialects, readAll, recordedEvents, runRow } from "./support.js"

const Answer = Schema.Struct({ path: Schema.String }).annotations({ identifier: "Answer" })
const pick = Tool.make("pick_file", {
  description: "Let the user pick a file",
  parameters: Schema.Struct({}),
  target: "client"
})

const processOn = (url: string, script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))

for (const dialect of dialects) {
  describe(`${dialect.name}: structured output on the SQL record`, () => {
    it.scoped("output_invalid and output.invalid are recorded and read back; a paused run resumes with its Schema", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const agent = yield* Agent.make({ name: "files", instructions: "", tools: [pick], output: Answer })
        const failed = yield* agent.run("which file?").pipe(
          Effect.provide(processOn(url, [{ text: "a file" }, { text: "{\"file\": 1}" }]))
        )
        expect(failed.error?.failureReason).toBe("output_invalid")
        const paused = yield* agent.run("open a file").pipe(
          Effect.provide(processOn(url, [{ toolCalls: [{ name: "pick_file", arguments: {} }] }]))
        )
        const callId = paused.pendingCalls![0]!.id
        const done = yield* agent.submitToolResults(paused.runId, [{ callId, result: "/a.pdf" }]).pipe(
          Effect.provide(processOn(url, [{ text: "{\"path\": \"/a.pdf\"}" }]))
        )
        expect(done).toMatchObject({ status: "success", output: { path: "/a.pdf" } })
        const { failedRow, failedTypes, doneRows } = yield* Effect.gen(function*() {
          return {
            failedRow: yield* runRow(failed.runId),
            failedTypes: (yield* recordedEvents(failed.runId)).map((e) => e.type),
            doneRows: yield* readAll(paused.runId)
          }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(failedRow).toMatchObject({ status: "error", failure_reason: "output_invalid" })
        expect(failedTypes.filter((t) => t === "output.invalid")).toHaveLength(2)
        expect(failedTypes.at(-1)).toBe("run.failed")
        const completed = doneRows.run_events.find((e) => e.event_type === "run.completed")
        expect((completed?.data as { output?: unknown }).output).toEqual({ path: "/a.pdf" })
        const started = doneRows.run_events.filter((e) => e.event_type === "llm.started")
        expect(started.map((e) => (e.data as { output?: { name: string } }).output?.name)).toEqual(["Answer", "Answer"])
      }))
  })
}
