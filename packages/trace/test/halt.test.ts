import { describe, expect, it } from "@effect/vitest"
import { SqlRecorder } from "@sextant/recorder"
import { type HookEvent, Recorder, RunLedger } from "@sextant/runtime"
import { Effect, Option } from "effect"
import { sqliteDatabase } from "../../../test-support/databases.js"

const base = (sequenceIndex: number) => ({ runId: "r1", sequenceIndex, iteration: 0, timestamp: 1_700_000_000_000 })
const started: HookEvent.HookEvent = {
  _tag: "RunStarted",
  ...base(0),
  agentName: "a",
  instructions: "",
  input: "hi",
  delegationLevel: 0,
  tools: []
}

describe("SqlRecorder haltRuns (what the ingest endpoint's recorder uses)", () => {
  for (const haltRuns of [true, false]) {
    it.scopedLive(`haltRuns: ${haltRuns}: a failed write ${haltRuns ? "marks the run error" : "leaves it open"}`, () =>
      Effect.gen(function*() {
        const url = yield* sqliteDatabase
        const out = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          yield* recorder.record(started)
          const bad = yield* Effect.flip(recorder.record({
            _tag: "CustomEvent",
            ...base(1),
            name: "custom.x",
            data: { n: 10n } as never
          }))
          const retried = yield* Effect.either(
            recorder.record({ _tag: "CustomEvent", ...base(1), name: "custom.x", data: 1 })
          )
          const run = yield* Effect.flatMap(RunLedger, (l) => l.get("r1"))
          return { bad, retried, run: Option.getOrThrow(run) }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url, { haltRuns })))
        expect(out.bad).toMatchObject({ _tag: "RecorderError", reason: "serialization" })
        if (haltRuns) {
          expect(out.run.status).toBe("error")
          expect(out.retried._tag).toBe("Left")
        } else {
          expect(out.run).toMatchObject({ status: "running", lastSequenceIndex: 1 })
          expect(out.retried._tag).toBe("Right")
        }
      }))
  }
})
