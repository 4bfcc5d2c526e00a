/**
 * The same two-tool runs recorded by the SQL recorder on a temp SQLite file: the rows hold the exact
 * provider payloads, the usage (absent counts stay NULL), the retry, and never the API key.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Database, SqlRecorder } from "@sextant/recorder"
import { Agent } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { sqliteDatabase } from "../../../test-support/databases.js"
import { fakeServer } from "./fakeServer.js"
import { INPUT, timeTool, weatherTool } from "./support.js"
import { API_KEY, wires } from "./wires.js"

const column = (n: number | undefined) => n ?? null

describe.each(wires)("$name recorded by SqlRecorder (SQLite)", (wire) => {
  it.scopedLive("llm_interactions, token_usage and run_events rows hold payloads, usage and the retry", () =>
    Effect.gen(function*() {
      const toolTurn = wire.toolTurn(false) as { json: unknown }
      const textTurn = wire.textTurn(false) as { json: unknown }
      const server = yield* fakeServer(
        { status: 429, headers: { "retry-after-ms": "1" }, json: wire.errorJson("slow down") },
        toolTurn,
        textTurn
      )
      const url = yield* sqliteDatabase
      const database = Database.layerFromUrl(url)
      const rows = yield* Effect.gen(function*() {
        const agent = yield* Agent.make({
          name: "travel",
          instructions: "Answer with the tools.",
          tools: [weatherTool, timeTool]
        })
        const result = yield* agent.run(INPUT, { runId: "run-sql" })
        expect(result.status).toBe("success")
        const sql = yield* SqlClient.SqlClient
        const tables = ["agent_runs", "react_traces", "tool_calls", "llm_interactions", "token_usage", "run_events"]
        const all = yield* Effect.forEach(tables, (t) => sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${t}`))
        return Object.fromEntries(tables.map((t, i) => [t, all[i]!]))
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            wire.layer(server.url, { baseDelay: "1 millis" }),
            SqlRecorder.layer().pipe(Layer.provideMerge(database))
          )
        )
      )

      const llm = [...rows.llm_interactions!].sort((a, b) => Number(a.iteration) - Number(b.iteration))
      expect(llm.map((r) => [r.status, r.provider, r.response_model, r.response_id, r.finish_reason])).toEqual([
        ["completed", wire.provider, wire.responseModel, wire.responseIds[0], wire.finishReasons[0]],
        ["completed", wire.provider, wire.responseModel, wire.responseIds[1], wire.finishReasons[1]]
      ])
      expect(JSON.parse(String(llm[0]!.provider_request))).toEqual(server.received[1]!.body)
      expect(JSON.parse(String(llm[0]!.provider_response))).toEqual(toolTurn.json)
      expect(JSON.parse(String(llm[1]!.provider_request))).toEqual(server.received[2]!.body)
      expect(JSON.parse(String(llm[1]!.provider_response))).toEqual(textTurn.json)

      const usage = [...rows.token_usage!].sort((a, b) => Number(a.iteration) - Number(b.iteration))
      expect(
        usage.map((
          r
        ) => [r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens])
      )
        .toEqual(wire.usage.map((u) => [
          u.inputTokens,
          u.outputTokens,
          column(u.cacheReadTokens),
          column(u.cacheWriteTokens),
          column(u.reasoningTokens)
        ]))

      const retries = rows.run_events!.filter((r) => r.event_type === "provider.retry")
      expect(retries).toHaveLength(1)
      expect(JSON.parse(String(retries[0]!.data))).toMatchObject({ statusCode: 429, retryAfterMs: 1, attempt: 1 })
      expect(rows.agent_runs!.map((r) => r.status)).toEqual(["success"])

      expect(wire.keyOf(server.received[0]!.headers)).toBe(API_KEY)
      expect(JSON.stringify(rows)).not.toContain(API_KEY)
    }))
})
