/**
 * Postgres reads as named statements on the client's pool: the same answers as through `@effect/sql` (the
 * store's whole suite runs on this path), statements really prepared (one connection, so its
 * `pg_prepared_statements` is the pool's), none with `preparedStatements: false`, and a failed read a
 * `StoreError`.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Database, SqlRecorder } from "@sextant/recorder"
import { Effect, Layer } from "effect"
import { RunStore } from "../src/index.js"
import { dialects, runAgent, toolThenAnswer } from "./support.js"

const postgres = dialects.find((d) => d.name === "postgres")!

const prepared = (sql: SqlClient.SqlClient) =>
  Effect.promise(() => Database.pgPoolOf(sql)!.query({ text: "SELECT name FROM pg_prepared_statements", values: [] }))
    .pipe(Effect.map((r) => (r.rows as Array<{ name: string }>).map((row) => row.name)))

describe("RunStore on Postgres: prepared reads", () => {
  it.scoped(
    "reads run as named statements, the same answers as unnamed ones; opting out prepares nothing",
    () =>
      Effect.gen(function*() {
        const url = yield* postgres.database
        const client = Database.layerFromUrl(url, { maxConnections: 1 })
        yield* Effect.gen(function*() {
          const runId = yield* runAgent("weather", toolThenAnswer("sunny"), { tenantId: "acme" }).pipe(
            Effect.map((r) => r.runId)
          )
          const sql = yield* SqlClient.SqlClient
          const named = yield* RunStore.make()
          const unnamed = yield* RunStore.make({ preparedStatements: false })
          const read = (store: typeof named) =>
            Effect.all([
              store.listRuns({ tenantId: "acme" }),
              store.getRun(runId),
              store.getEvents(runId),
              store.usage({ groupBy: ["tenant", "model"] })
            ])
          expect(yield* prepared(sql)).toEqual([])
          const viaClient = yield* read(unnamed)
          expect(yield* prepared(sql)).toEqual([])
          const viaNamed = yield* read(named)
          expect(viaNamed).toEqual(viaClient)
          const names = yield* prepared(sql)
          expect(names.length).toBeGreaterThan(0)
          expect(names.every((n) => n.startsWith("sextant_store_"))).toBe(true)
          // Again: the same statements, nothing new prepared.
          expect(yield* read(named)).toEqual(viaClient)
          expect((yield* prepared(sql)).length).toBe(names.length)
          // Inside a transaction a read goes through its connection and sees its writes (the pool's one connection
          // is the transaction's: a read on the pool would wait for it forever).
          const inside = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`UPDATE agent_runs SET agent_name = 'inside' WHERE id = ${runId}`
            const run = yield* named.getRun(runId)
            return yield* Effect.fail(run.agentName)
          })).pipe(Effect.flip, Effect.timeout("10 seconds"))
          expect(inside).toBe("inside")
          expect((yield* named.getRun(runId)).agentName).toBe("weather")
          // A read that fails on the server is a StoreError, as through the client.
          yield* sql`ALTER TABLE agent_runs RENAME TO agent_runs_gone`
          const failed = yield* Effect.flip(named.getRun(runId))
          expect(failed._tag).toBe("StoreError")
          yield* sql`ALTER TABLE agent_runs_gone RENAME TO agent_runs`
          expect((yield* named.getRun(runId)).id).toBe(runId)
        }).pipe(Effect.provide(SqlRecorder.layer().pipe(Layer.provideMerge(client), Layer.orDie)))
      }),
    60_000
  )
})
