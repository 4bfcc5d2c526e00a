/**
 * Retention on both dialects, over runs recorded by the real agent loop: dry runs count what would go, prunes
 * delete exactly what an independent SQL count says (in bounded batches, oldest first), never a running or
 * paused run; payload-only pruning keeps every usage sum; erasure takes a tenant's rows and its rollup rows;
 * SQLite backups are consistent copies.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Schema } from "effect"
import { join } from "node:path"
import { createTempDir } from "../../../test-support/databases.js"
import { Database, Retention, SqlRecorder } from "../src/index.js"
import { countingTool, dialects, toolThenAnswer } from "./support.js"

const tables = ["agent_runs", "run_events", "react_traces", "tool_calls", "llm_interactions", "token_usage"] as const

const lookup = countingTool("lookup").tool
const confirm = Tool.make("confirm", {
  description: "asks the client",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

/** Records `n` finished runs for `tenantId` and one paused run; returns their ids. */
const seed = (tenantId: string, n: number) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "clerk", instructions: "Be brief.", tools: [lookup, confirm] })
    const done: Array<string> = []
    for (let i = 0; i < n; i++) {
      const r = yield* agent.run(`question ${i}`, { tenantId }).pipe(
        Effect.provide(ScriptedModel.layer([toolThenAnswer("lookup")]))
      )
      done.push(r.runId)
    }
    const paused = yield* agent.run("pay", { tenantId }).pipe(
      Effect.provide(ScriptedModel.layer([{ toolCalls: [{ name: "confirm", arguments: { amount: 3 } }] }]))
    )
    expect(paused.status).toBe("waiting_client_tool")
    return { done, paused: paused.runId }
  })

/** Row counts per table of the given runs (all runs when omitted), by plain SQL. */
const counts = (ids?: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const out: Record<string, number> = {}
    for (const table of tables) {
      const column = table === "agent_runs" ? "id" : "agent_run_id"
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql(table)} ${
        ids === undefined ? sql`` : sql`WHERE ${sql(column)} IN ${sql.in(ids)}`
      }`
      out[table] = Number(rows[0]!.n)
    }
    return out
  })

const usageSums = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const raw = yield* sql<
    { i: number; o: number }
  >`SELECT SUM(input_tokens) AS i, SUM(output_tokens) AS o FROM token_usage`
  const daily = yield* sql<{ i: number; o: number }>`SELECT SUM(input_tokens) AS i, SUM(output_tokens) AS o
    FROM usage_daily`
  return { raw: [Number(raw[0]!.i), Number(raw[0]!.o)], daily: [Number(daily[0]!.i), Number(daily[0]!.o)] }
})

const backdate = (ids: ReadonlyArray<string>, days: number) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql`UPDATE agent_runs SET created_at = ${new Date(Date.now() - days * 86_400_000).toISOString()}
      WHERE id IN ${sql.in(ids)}`
  )

const withoutUsageDaily = (c: Retention.TableCounts) => {
  const { usage_daily, ...rest } = c
  return { rest, usage_daily }
}

describe("Retention", () => {
  for (const dialect of dialects) {
    it.scopedLive(
      `${dialect.name}: prune counts, batches and deletes exactly the old terminal runs`,
      () =>
        Effect.gen(function*() {
          const url = yield* dialect.database
          const recorded = yield* Effect.provide(seed("acme", 6), SqlRecorder.layerFromUrl(url))
          yield* Effect.gen(function*() {
            const old = recorded.done.slice(0, 4)
            const young = recorded.done.slice(4)
            yield* backdate([...old, recorded.paused], 40)
            const expected = yield* counts(old)
            const before = yield* counts()

            const dry = yield* Retention.prune({ olderThan: "30 days", dryRun: true })
            expect(dry.dryRun).toBe(true)
            expect(dry.runs).toBe(4)
            expect(withoutUsageDaily(dry.deleted).rest).toEqual(expected)
            expect(yield* counts()).toEqual(before)

            const sql = yield* SqlClient.SqlClient
            const heavyRows = (ids: ReadonlyArray<string>) =>
              Effect.map(
                sql<{ l: number; t: number }>`SELECT
                (SELECT COUNT(*) FROM llm_interactions WHERE agent_run_id IN ${sql.in(ids)} AND
                  (provider_request IS NOT NULL OR provider_response IS NOT NULL OR semantic_request IS NOT NULL)) AS l,
                (SELECT COUNT(*) FROM tool_calls WHERE agent_run_id IN ${sql.in(ids)} AND result IS NOT NULL) AS t`,
                (rows) => ({ llm: Number(rows[0]!.l), tool: Number(rows[0]!.t) })
              )
            const heavyBefore = yield* heavyRows(old)
            expect(heavyBefore.llm).toBeGreaterThan(0)
            expect(heavyBefore.tool).toBeGreaterThan(0)
            const youngBefore = yield* heavyRows(young)
            const sums = yield* usageSums
            const payloads = yield* Retention.prune({ olderThan: "30 days", payloadsOnly: true })
            expect(payloads.runs).toBe(4)
            expect(payloads.payloadsCleared).toEqual({
              llm_interactions: heavyBefore.llm,
              tool_calls: heavyBefore.tool
            })
            expect(yield* counts()).toEqual(before)
            expect(yield* usageSums).toEqual(sums)
            expect(yield* heavyRows(old)).toEqual({ llm: 0, tool: 0 })
            expect(yield* heavyRows(young)).toEqual(youngBefore)

            const progress: Array<number> = []
            const pruned = yield* Retention.prune({
              olderThan: "30 days",
              batchSize: 3,
              onProgress: (p) => Effect.sync(() => void progress.push(p.runs))
            })
            expect(pruned.batches).toBe(2)
            expect(progress).toEqual([3, 4])
            expect(withoutUsageDaily(pruned.deleted).rest).toEqual(expected)
            const after = yield* counts()
            for (const table of tables) expect(after[table]).toBe(before[table]! - expected[table]!)
            expect(yield* counts(old)).toEqual(Object.fromEntries(tables.map((t) => [t, 0])))
            // The paused run is older than the cutoff but never pruned; the billing rollup stays whole.
            expect((yield* counts([recorded.paused])).agent_runs).toBe(1)
            expect((yield* usageSums).daily).toEqual(sums.daily)
            if (dialect.name === "sqlite") expect(pruned.bytesFreed).toBeGreaterThan(0)

            const again = yield* Retention.prune({ olderThan: "30 days" })
            expect(again.runs).toBe(0)
          }).pipe(Effect.provide(Database.layerFromUrl(url)))
        }),
      120_000
    )

    it.scopedLive(
      `${dialect.name}: maxBytes prunes the oldest terminal runs; erasure takes a tenant or a run`,
      () =>
        Effect.gen(function*() {
          const url = yield* dialect.database
          const a = yield* Effect.provide(seed("acme", 3), SqlRecorder.layerFromUrl(url))
          const b = yield* Effect.provide(seed("globex", 2), SqlRecorder.layerFromUrl(url))
          yield* Effect.gen(function*() {
            const used = yield* Retention.usedBytes
            expect(used).toBeGreaterThan(0)
            const none = yield* Retention.prune({ maxBytes: used * 10, dryRun: true })
            expect(none.runs).toBe(0)
            const some = yield* Retention.prune({ maxBytes: 1, dryRun: true })
            // Every terminal run at most (the two paused runs stay).
            expect(some.runs).toBe(5)

            const sql = yield* SqlClient.SqlClient
            const expectedRun = yield* counts([a.done[0]!])
            const erasedRun = yield* Retention.eraseRun(a.done[0]!)
            expect(withoutUsageDaily(erasedRun).rest).toEqual(expectedRun)
            expect(yield* Retention.eraseRun("no-such-run")).toMatchObject({ agent_runs: 0 })

            const globexIds = [...b.done, b.paused]
            const expected = yield* counts(globexIds)
            const erased = yield* Retention.eraseTenant("globex", 2)
            expect(withoutUsageDaily(erased).rest).toEqual(expected)
            expect(erased.usage_daily).toBeGreaterThan(0)
            const left = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM usage_daily WHERE tenant_id = 'globex'`
            expect(Number(left[0]!.n)).toBe(0)
            const acme = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM agent_runs WHERE tenant_id = 'acme'`
            expect(Number(acme[0]!.n)).toBe(3)
            yield* Retention.vacuum
          }).pipe(Effect.provide(Database.layerFromUrl(url)))
        }),
      120_000
    )
  }

  it.scopedLive("sqlite: backupSqlite writes a consistent copy while a recorder writes", () =>
    Effect.gen(function*() {
      const url = dialects[0]!.database
      const source = yield* url
      const dir = createTempDir()
      yield* Effect.addFinalizer(() => Effect.sync(dir.remove))
      const file = join(dir.path, "copy.db")
      yield* Effect.gen(function*() {
        yield* seed("acme", 2)
        yield* Effect.all([
          seed("acme", 3),
          Effect.provide(Retention.backupSqlite(file), Database.layerFromUrl(source, { busyTimeoutMs: 5000 }))
        ], { concurrency: 2 })
      }).pipe(Effect.provide(SqlRecorder.layerFromUrl(source)))
      const copy = yield* Effect.provide(counts(), Database.layerFromUrl(`sqlite:${file}`))
      // A consistent copy: every run's rows are whole (events of each copied run, nothing dangling).
      const orphanEvents = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ n: number }>`SELECT COUNT(*) AS n FROM run_events e
            WHERE NOT EXISTS (SELECT 1 FROM agent_runs r WHERE r.id = e.agent_run_id)`),
        Database.layerFromUrl(`sqlite:${file}`)
      )
      expect(Number(orphanEvents[0]!.n)).toBe(0)
      expect(copy.agent_runs).toBeGreaterThanOrEqual(3)
      const full = yield* Effect.provide(counts(), Database.layerFromUrl(source))
      expect(full.agent_runs).toBe(7)
    }), 120_000)
})
