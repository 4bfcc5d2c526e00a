import { describe, expect, it } from "@effect/vitest"
import { Agent, MemoryRecorder, Notifiers, Recorder, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Alert, AlertNotifier, AlertRules, JsonlFileNotifier } from "../src/index.js"
import { timeTool, weatherTool } from "./fixtures.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sextant-jsonl-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("JsonlFileNotifier", () => {
  it.scoped("appends one line per recorded event (and alerts); read() decodes them back equal to the record", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = join(dir, "nested", "events.jsonl")
      const file = JsonlFileNotifier.make({ path })
      const alerts = AlertNotifier.make({ rules: [AlertRules.toolFailuresInARow(1)], deliver: file })
      const agent = yield* Agent.make({ name: "w", instructions: "", tools: [weatherTool, timeTool] })
      const events = yield* Effect.gen(function*() {
        yield* agent.run("go", { runId: "run-jsonl" })
        return yield* (yield* MemoryRecorder).events()
      }).pipe(
        Effect.provide(Layer.mergeAll(
          ScriptedModel.layer([
            {
              toolCalls: [
                { name: "get_weather", arguments: { city: "Lisbon" } },
                { name: "get_time", arguments: { tz: "Mars/Olympus" } }
              ]
            },
            { text: "done" }
          ]),
          Recorder.memory,
          Notifiers.layer([file, alerts])
        ))
      )
      const lines = yield* JsonlFileNotifier.read(path)
      const recorded = lines.filter((l) => !Alert.isAlert(l.event))
      expect(recorded.map((l) => l.event)).toEqual(events)
      expect(recorded.map((l) => l.type)).toContain("tool.completed")
      expect(lines.every((l) => l.v === 1)).toBe(true)
      const alert = lines.find((l) => l.type === "alert")
      expect(alert?.event).toMatchObject({ _tag: "Alert", rule: "tool_failures_in_a_row", runId: "run-jsonl" })
      expect(readFileSync(path, "utf8").trimEnd().split("\n")).toHaveLength(lines.length)
    }))

  it.scoped("read() names the line of a bad entry", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = join(dir, "bad.jsonl")
      writeFileSync(path, `{"v":1,"type":"run.paused","event":{"_tag":"Nope"}}\n`)
      const error = yield* Effect.flip(JsonlFileNotifier.read(path))
      expect(error).toMatchObject({ _tag: "JsonlReadError", line: 1 })
      const missing = yield* Effect.flip(JsonlFileNotifier.read(join(dir, "missing.jsonl")))
      expect(missing.line).toBe(0)
    }))
})
