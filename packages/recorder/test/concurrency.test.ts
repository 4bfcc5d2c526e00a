import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
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
        const { results, rows, runs } = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "many", instructions: "", tools: [tool] })
          const results = yield* Effect.forEach(
            Array.from({ length: RUNS }, (_, i) => `run-${i}`),
            (runId) => agent.run("go", { runId, tenantId: "acme" }),
            { concurrency: "unbounded" }
          )
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql<{ agent_run_id: string; n: number; lo: number; hi: number; distinct_seq: number }>`
            SELECT agent_run_id, CAST(COUNT(*) AS INTEGER) AS n, MIN(sequence_index) AS lo, MAX(sequence_index) AS hi,
              CAST(COUNT(DISTINCT sequence_index) AS INTEGER) AS distinct_seq
            FROM run_events GROUP BY agent_run_id ORDER BY agent_run_id`
          // The batched writes (multi-row inserts, one progress UPDATE per commit) leave each run's rows complete.
          type RunTotals = {
            id: string
            status: string
            tin: number
            tout: number
            calls: number
            usage: number
            tools: number
            traces: number
            tenant: number
          }
          const runs = yield* sql<RunTotals>`
            SELECT r.id, r.status, r.total_input_tokens AS tin, r.total_output_tokens AS tout,
              r.model_call_count AS calls,
              (SELECT CAST(COUNT(*) AS INTEGER) FROM token_usage u WHERE u.agent_run_id = r.id) AS usage,
              (SELECT CAST(COUNT(*) AS INTEGER) FROM tool_calls t
                WHERE t.agent_run_id = r.id AND t.completed_at IS NOT NULL) AS tools,
              (SELECT CAST(COUNT(*) AS INTEGER) FROM react_traces m WHERE m.agent_run_id = r.id) AS traces,
              (SELECT CAST(COUNT(*) AS INTEGER) FROM token_usage u WHERE u.agent_run_id = r.id AND u.agent_name = 'many'
                AND u.tenant_id = 'acme') AS tenant
            FROM agent_runs r ORDER BY r.id`
          return { results, rows, runs }
        }).pipe(Effect.provide(Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))))

        expect(results.every((r) => r.status === "success")).toBe(true)
        expect(runs).toHaveLength(RUNS)
        for (const run of runs) {
          expect({ ...run, tin: Number(run.tin), tout: Number(run.tout) }).toEqual({
            id: run.id,
            status: "success",
            tin: 30,
            tout: 7,
            calls: 2,
            usage: 2,
            tools: 1,
            traces: 4,
            tenant: 2
          })
        }
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
