/**
 * The list's hot path, on both dialects: no `WHERE` without a filter (SQLite then counts the b-tree instead of
 * visiting every row), `includeTotal` (exact, none, or an estimate at a bounded cost), the hand-written row
 * mappers equal to the Schema decoding of every row, and a store on its own connection reading beside an open
 * write transaction of the recorder.
 */
import { SqlClient, Statement } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Context, Deferred, Effect, Either, Fiber, Layer, Stream } from "effect"
import { RunStore } from "../src/index.js"
import * as mappers from "../src/internal/mappers.js"
import * as rows from "../src/internal/rows.js"
import { DatabaseUrl, dialects, runAgent, storeLayer, toolThenAnswer } from "./support.js"

const NASTY = "a\u0000b \ud800 c\udc00 d\u0010e 😀"
/** Run options refuse NUL (the caller can fix it) but take the rest. */
const LONE = "d\u0010e \ud800 😀"

/** The SQL texts `effect` runs, with its result. */
const statementsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    const result = yield* Statement.withTransformer(effect, (self) =>
      Effect.sync(() => {
        seen.push(self.compile()[0].replace(/\s+/g, " ").trim())
        return self
      }))
    return { result, seen }
  })

const counts = (seen: ReadonlyArray<string>) => seen.filter((s) => s.includes("COUNT(*)"))

/** Inserts `n` runs directly (status `error` for even i, `success` for odd), one statement per dialect. */
const insertRuns = (n: number, prefix: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const columns = `id, agent_name, status, input, instructions, delegation_level, iteration_count,
      total_input_tokens, total_output_tokens, model_call_count, unpriced_call_count, cancel_requested,
      last_sequence_index, created_at, updated_at, last_progress_at`
    yield* sql.onDialectOrElse({
      pg: () =>
        sql.unsafe(`INSERT INTO agent_runs (${columns})
          SELECT '${prefix}' || i, 'bulk', CASE WHEN i % 2 = 0 THEN 'error' ELSE 'success' END, 'in', 'do', 0, 0,
            0, 0, 0, 0, false, 0, now(), now(), now() FROM generate_series(0, ${n - 1}) AS i`),
      orElse: () =>
        sql.unsafe(`INSERT INTO agent_runs (${columns})
          WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${n - 1})
          SELECT '${prefix}' || i, 'bulk', CASE WHEN i % 2 = 0 THEN 'error' ELSE 'success' END, 'in', 'do', 0, 0,
            0, 0, 0, 0, 0, 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM s`)
    })
    yield* sql.onDialectOrElse({ pg: () => sql`ANALYZE agent_runs`, orElse: () => sql`ANALYZE` })
  })

for (const dialect of dialects) {
  describe(`RunStore hot path on ${dialect.name}`, () => {
    layer(storeLayer(dialect), { timeout: 120_000 })((it) => {
      it.effect("an unfiltered list and usage run without WHERE; a filter adds only its conditions", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          yield* runAgent("weather", toolThenAnswer("sunny"), { tenantId: "acme" })
          const plain = yield* statementsOf(store.listRuns())
          expect(plain.result.total).toBe(1)
          expect(counts(plain.seen)).toEqual(["SELECT COUNT(*) AS n FROM agent_runs"])
          expect(plain.seen.filter((s) => s.includes("WHERE"))).toEqual([])
          const usage = yield* statementsOf(store.usage())
          expect(usage.seen.filter((s) => s.includes("WHERE"))).toEqual([])
          const filtered = yield* statementsOf(store.listRuns({ tenantId: "acme" }))
          expect(filtered.result.total).toBe(1)
          expect(counts(filtered.seen)).toHaveLength(1)
          expect(counts(filtered.seen)[0]).toMatch(/WHERE tenant_id = (\?|\$1)$/)
          expect(filtered.seen.some((s) => s.includes("1=1"))).toBe(false)
        }))

      it.effect("includeTotal: false counts nothing; \"estimate\" is exact up to the bound; a bad mode names the field", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          yield* runAgent("weather", toolThenAnswer("again"), { tenantId: "acme" })
          const exact = (yield* store.listRuns()).total!
          const none = yield* statementsOf(store.listRuns({ includeTotal: false }))
          expect(counts(none.seen)).toEqual([])
          expect(none.result).not.toHaveProperty("total")
          expect(none.result).not.toHaveProperty("estimatedTotal")
          expect(none.result.items).toHaveLength(exact)
          const estimated = yield* store.listRuns({ includeTotal: "estimate" })
          expect(estimated).not.toHaveProperty("total")
          expect(estimated.estimatedTotal).toBe(exact)
          expect((yield* store.listRuns({ includeTotal: "estimate", tenantId: "acme" })).estimatedTotal).toBe(exact)
          expect((yield* store.listRuns({ includeTotal: "estimate", tenantId: "nobody" })).estimatedTotal).toBe(0)
          expect(yield* Effect.flip(store.listRuns({ includeTotal: "roughly" as never }))).toMatchObject({
            _tag: "InvalidQuery",
            field: "includeTotal",
            message: "includeTotal: must be true, false or \"estimate\", got \"roughly\""
          })
        }))

      it.effect("the hand-written mappers decode every row exactly as the Schema does, and fail where it fails", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* runAgent("mapped", toolThenAnswer(NASTY), { tenantId: "te\u0010n", metadata: { k: LONE } }, NASTY)
          yield* runAgent("mapped", [{ fail: "vendor down" }], {})
          const cols = rows.columns(dialect.name === "postgres")
          const runRows = yield* sql`SELECT ${sql.literal(cols.summary)} FROM agent_runs`
          const eventRows = yield* sql`SELECT ${sql.literal(cols.event)} FROM run_events`
          expect(runRows.length).toBeGreaterThan(1)
          expect(eventRows.length).toBeGreaterThan(10)
          const fastRuns = mappers.runSummaries(runRows)
          const fastEvents = mappers.storedEvents(eventRows)
          expect(Either.isRight(fastRuns) && Either.isRight(fastEvents)).toBe(true)
          expect(fastRuns).toEqual(rows.runSummaries(runRows))
          expect(fastEvents).toEqual(rows.storedEvents(eventRows))
          expect(Either.getOrThrow(fastRuns).find((r) => r.tenantId === "te\u0010n")?.metadata).toEqual({ k: LONE })
          // Rows no driver would give: each fails with the Schema's own error, naming the column.
          const bad = [
            { ...runRows[0], created_at: "not a time" },
            { ...runRows[0], total_input_tokens: "many" },
            { ...runRows[0], metadata: "{not json" },
            { ...runRows[0], id: 7 }
          ]
          for (const row of bad) {
            const fast = mappers.runSummaries([row])
            expect(Either.isLeft(fast)).toBe(true)
            expect(fast).toEqual(rows.runSummaries([row]))
          }
          const badEvent = mappers.storedEvents([{ ...eventRows[0], sequence_index: null }])
          expect(Either.isLeft(badEvent) && badEvent.left.message).toContain("sequence_index")
        }))

      it.effect("a store that opened the database itself (its own SQLite reader) answers exactly as one over the client", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const url = yield* DatabaseUrl
          const own = Context.get(yield* Layer.build(RunStore.layerFromUrl(url)), RunStore)
          const { runId } = yield* runAgent("both", toolThenAnswer(NASTY), { tenantId: "acme" }, NASTY)
          const first = yield* store.listRuns({ limit: 1 })
          const calls = (s: typeof store) =>
            Effect.all([
              s.listRuns(),
              s.listRuns({ limit: 1 }),
              s.listRuns({ limit: 1, cursor: first.nextCursor! }),
              s.listRuns({ tenantId: "acme", status: ["success", "error"], search: "BOT", includeTotal: "estimate" }),
              s.listRuns({ includeTotal: false, metadata: { k: "d\u0010e" } }),
              s.getRun(runId),
              s.getEvents(runId, { after: 2, limit: 3 }),
              s.getTraces(runId, { iteration: 1 }),
              s.getToolCalls(runId),
              s.getLlmCalls(runId),
              s.getPauses(runId),
              s.getRunTree(runId),
              s.usage({ groupBy: ["tenant", "agent", "model", "day"] }),
              Effect.flip(s.getRun("missing")),
              Stream.runCollect(s.exportRecords({ tenantId: "acme" })).pipe(Effect.map(Chunk.toArray))
            ])
          const viaClient = yield* calls(store)
          expect(yield* calls(own)).toEqual(viaClient)
          expect(viaClient[5].input).toBe(NASTY)
        }).pipe(Effect.scoped))

      it.effect("a store on its own connection reads beside an open write transaction and never sees it", () =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const url = yield* DatabaseUrl
          const own = Context.get(yield* Layer.build(RunStore.layerFromUrl(url)), RunStore)
          const before = (yield* own.listRuns()).total!
          const inserted = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const now = new Date().toISOString()
          // The transaction runs in its own fiber: @effect/sql hands a transaction's connection to every client
          // queried from inside that fiber, so the read must come from outside, as a request's would.
          const writer = yield* sql.withTransaction(
            Effect.gen(function*() {
              yield* sql`INSERT INTO agent_runs (id, agent_name, status, input, instructions, delegation_level,
                iteration_count, total_input_tokens, total_output_tokens, model_call_count, unpriced_call_count,
                cancel_requested, last_sequence_index, created_at, updated_at, last_progress_at)
                VALUES ('uncommitted', 'x', 'running', '', '', 0, 0, 0, 0, 0, 0, ${
                dialect.name === "postgres" ? false : 0
              }, 0, ${now}, ${now}, ${now})`
              yield* Deferred.succeed(inserted, undefined)
              yield* Deferred.await(release)
            })
          ).pipe(Effect.fork)
          yield* Deferred.await(inserted)
          // A store sharing the recorder's SQLite connection would wait here until the transaction ended.
          const during = yield* own.listRuns()
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(writer)
          expect(during.total).toBe(before)
          expect(during.items.map((r) => r.id)).not.toContain("uncommitted")
          expect((yield* own.listRuns()).total).toBe(before + 1)
          yield* sql`DELETE FROM agent_runs WHERE id = 'uncommitted'`
        }).pipe(Effect.scoped))

      it.effect("beyond the bound, an estimate is the planner's (Postgres) or a sample's (SQLite), never exact work", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          yield* insertRuns(3000, "bulk-")
          const exact = (yield* store.listRuns()).total!
          const errors = (yield* store.listRuns({ status: "error" })).total!
          expect(errors).toBeGreaterThanOrEqual(1500)
          const all = yield* statementsOf(store.listRuns({ includeTotal: "estimate" }))
          const some = yield* statementsOf(store.listRuns({ includeTotal: "estimate", status: "error" }))
          if (dialect.name === "sqlite") {
            // Unfiltered: the b-tree count; filtered: the share among the newest 10,000 runs (here all of them).
            expect(all.result.estimatedTotal).toBe(exact)
            expect(some.result.estimatedTotal).toBe(errors)
          } else {
            expect(all.seen.some((s) => s.startsWith("EXPLAIN (FORMAT JSON)"))).toBe(true)
            expect(all.result.estimatedTotal! / exact).toBeGreaterThan(0.8)
            expect(all.result.estimatedTotal! / exact).toBeLessThan(1.25)
            expect(some.result.estimatedTotal! / errors).toBeGreaterThan(0.8)
            expect(some.result.estimatedTotal! / errors).toBeLessThan(1.25)
          }
          // No exact count of the filter was made.
          expect(counts(some.seen).filter((s) => s.startsWith("SELECT COUNT(*) AS n FROM agent_runs WHERE"))).toEqual(
            []
          )
        }))
    })
  })
}
