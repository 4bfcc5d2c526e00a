import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Agent, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { SqlRecorder } from "../src/index.js"
import { countingTool, dialects, toolThenAnswer } from "./support.js"

const RUNS = 100
const EVENTS_PER_RUN = 12

describe("100 concurrent runs", () => {
  for (const dialect of dialects) {
    it.scopedLive(`${dialect.name}: every run's events are gapless and unique`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const { tool, calls } = countingTool("lookup")
        const script = Array.from({ length: RUNS * 2 }, () => toolThenAnswer("lookup"))
        const { results, rows } = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "many", instructions: "", tools: [tool] })
          const results = yield* Effect.forEach(
            Array.from({ length: RUNS }, (_, i) => `run-${i}`),
            (runId) => agent.run("go", { runId }),
            { concurrency: "unbounded" }
          )
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql<{ agent_run_id: string; n: number; lo: number; hi: number; distinct_seq: number }>`
            SELECT agent_run_id, CAST(COUNT(*) AS INTEGER) AS n, MIN(sequence_index) AS lo, MAX(sequence_index) AS hi,
              CAST(COUNT(DISTINCT sequence_index) AS INTEGER) AS distinct_seq
            FROM run_events GROUP BY agent_run_id ORDER BY agent_run_id`
          return { results, rows }
        }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))))

        expect(results.every((r) => r.status === "success")).toBe(true)
        expect(calls.count).toBe(RUNS)
        expect(rows).toHaveLength(RUNS)
        for (const row of rows) {
          expect([row.n, row.lo, row.hi, row.distinct_seq].map(Number)).toEqual([
            EVENTS_PER_RUN,
            0,
            EVENTS_PER_RUN - 1,
            EVENTS_PER_RUN
          ])
        }
      }))
  }
})
