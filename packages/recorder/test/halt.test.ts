/**
 * A run halted by a failed record write (`markFailed`) keeps no pause state and no stored submission: the pause
 * state holds the raw placeholder mapping of a guarded run, which would otherwise stay in the row for good.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, Guardrails, RunLedger, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { SqlRecorder, Tables } from "../src/index.js"
import { markFailed } from "../src/internal/halt.js"
import { dialects } from "./support.js"

const pay = Tool.make("pay", {
  description: "Client side",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})
const EMAIL = "jane.doe@example.com"

for (const dialect of dialects) {
  describe(`${dialect.name}: a halted run`, () => {
    it.scoped("is left with no pause state and no submission", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        yield* Effect.gen(function*() {
          const agent = yield* Agent.make({
            name: "payer",
            instructions: "",
            tools: [pay],
            guardrails: [Guardrails.PII()]
          })
          const paused = yield* agent.run(`pay from ${EMAIL}`)
          const ledger = yield* RunLedger
          expect(yield* ledger.claim(paused.runId, "waiting_client_tool", { kind: "tool_results" }, "sub-1")).toBe(
            true
          )
          const sql = yield* SqlClient.SqlClient
          const row = () =>
            sql<{ status: string; p: string | null; s: string | null }>`SELECT status, ${
              sql.onDialectOrElse({
                pg: () => sql`pause_state::text AS p, resume_submission::text AS s`,
                orElse: () => sql`pause_state AS p, resume_submission AS s`
              })
            } FROM agent_runs WHERE id = ${Tables.escapeText(paused.runId)}`
          const before = (yield* row())[0]!
          expect(before.p).toContain(EMAIL)
          expect(before.s).not.toBeNull()
          yield* markFailed(sql, paused.runId, "the record failed")
          expect((yield* row())[0]).toEqual({ status: "error", p: null, s: null })
        }).pipe(
          Effect.provide(
            Layer.merge(
              ScriptedModel.layer([{ toolCalls: [{ name: "pay", arguments: { amount: 1 } }] }]),
              SqlRecorder.layerFromUrl(url)
            )
          )
        )
      }))
  })
}
