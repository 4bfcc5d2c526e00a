/**
 * Storage: request deltas (migration 8) and encryption at rest, on both dialects, through real recorded runs.
 * A 50-step run stores its history once (the bytes of `llm_interactions` with and without deltas are compared)
 * and the RunStore returns every full request as the model received it. Sealed content is ciphertext in the
 * database (the SQLite file's raw bytes are searched), opens with the key, is a typed error without it or with a
 * wrong one, and still reads after a rotation once the old key is removed.
 */
import { SqlClient } from "@effect/sql"
import { it } from "@effect/vitest"
import { Encryption, SqlRecorder, Tables } from "@sextant/recorder"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { describe, expect } from "vitest"
import { RunStore } from "../src/index.js"
import { dialects, resumeAndComplete } from "./support.js"

const SECRET = "SECRET-MARKER-7f3a9c"

const echo = Tool.make("get_weather", {
  description: "Weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21, note: `echo of ${city}` })
})
const pay = Tool.make("confirm_payment", {
  description: "Asks the user to confirm",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

/** A run of `steps` model calls: `steps - 1` tool calls, then the answer. */
const longScript = (steps: number, city = (i: number) => `City ${i}`): ReadonlyArray<ScriptedModel.ScriptStep> => [
  ...Array.from({ length: steps - 1 }, (_, i) => ({
    toolCalls: [{ name: "get_weather", arguments: { city: city(i) } }],
    usage: { inputTokens: 100 + i, outputTokens: 5 }
  })),
  { text: `done ${city(steps)}`, usage: { inputTokens: 200, outputTokens: 7 } }
]

const runLong = (steps: number, input: string, city?: (i: number) => string) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({
      name: "long",
      instructions: "You are long.",
      tools: [echo, pay],
      maxIterations: 200
    })
    const script = longScript(steps, city)
    return yield* Effect.gen(function*() {
      const result = yield* agent.run(input)
      const seen = yield* (yield* ScriptedModel.Requests).requests
      return { runId: result.runId, requests: seen }
    }).pipe(Effect.provide(ScriptedModel.layer(script, { model: "long-model" })))
  })

/** The request as the recorder records it (`system`, `messages`, `tools`), as JSON reads it back. */
const asRecorded = (r: { readonly system: string; readonly messages: unknown; readonly tools: unknown }) =>
  JSON.parse(JSON.stringify({ system: r.system, messages: r.messages, tools: r.tools }))

/** The bytes `llm_interactions` holds: every column's stored size summed (Postgres: `pg_column_size` of rows). */
const tableBytes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  // Postgres: `total` is the rows' stored size after TOAST's own compression; `request` the requests' JSON text.
  const rows = pg
    ? yield* sql<{ total: string; request: string }>`SELECT SUM(pg_column_size(l.*)) AS total,
        SUM(COALESCE(octet_length(semantic_request::text), 0)) AS request FROM llm_interactions l`
    : yield* sql<{ total: number; request: number }>`SELECT SUM(
          COALESCE(length(CAST(semantic_request AS BLOB)), 0) + COALESCE(length(CAST(semantic_response AS BLOB)), 0)
          + COALESCE(length(CAST(provider_request AS BLOB)), 0) + COALESCE(length(CAST(provider_response AS BLOB)), 0)
          + length(id) + length(agent_run_id) + length(provider) + length(model) + 64) AS total,
        SUM(COALESCE(length(CAST(semantic_request AS BLOB)), 0)) AS request FROM llm_interactions`
  return { total: Number(rows[0]?.total ?? 0), request: Number(rows[0]?.request ?? 0) }
})

const key1 = Buffer.alloc(32, 1).toString("base64")
const key2 = Buffer.alloc(32, 2).toString("base64")
const wrong = Buffer.alloc(32, 9).toString("base64")

const recorderOn = (url: string, options: SqlRecorder.SqlRecorderOptions = {}) =>
  RunStore.layer.pipe(Layer.provideMerge(SqlRecorder.layerFromUrl(url, options)), Layer.orDie)

/** Every content value in the database as text (Postgres has no file to search: its columns are searched). */
const contentText = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const texts: Array<string> = []
  for (const [table, columns] of Object.entries(Tables.contentColumns)) {
    for (const column of Object.keys(columns)) {
      const rows = yield* sql<{ v: string | null }>`SELECT ${
        pg ? sql`${sql(column)}::text` : sql`${sql(column)}`
      } AS v FROM ${sql(table)}`
      for (const r of rows) if (r.v !== null) texts.push(String(r.v))
    }
  }
  return texts
})

/** The raw bytes of a SQLite database (the file and its WAL), as latin1 text to search. */
const sqliteBytes = (url: string) => {
  const file = url.slice("sqlite:".length)
  return [file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f).toString("latin1")).join("")
}

for (const dialect of dialects) {
  describe(`storage on ${dialect.name}`, () => {
    it.scoped("a 50-step run stores each message once; the RunStore returns every full request as sent", () =>
      Effect.gen(function*() {
        const measure = (requestDeltas: boolean) =>
          Effect.gen(function*() {
            const url = yield* dialect.database
            return yield* Effect.gen(function*() {
              const { requests, runId } = yield* runLong(50, "Plan a 50-city tour")
              const store = yield* RunStore
              const calls = (yield* store.getLlmCalls(runId)).items
              const bytes = yield* tableBytes
              // One iteration alone: its request is rebuilt from calls the filter left out.
              const last = (yield* store.getLlmCalls(runId, { iteration: 50 })).items
              return { requests, calls, bytes, last }
            }).pipe(Effect.provide(recorderOn(url, { requestDeltas })))
          })
        const before = yield* measure(false)
        const after = yield* measure(true)
        expect(after.calls).toHaveLength(50)
        const sent = after.requests.map(asRecorded)
        expect(after.calls.map((c) => c.semanticRequest)).toEqual(sent)
        expect(before.calls.map((c) => c.semanticRequest)).toEqual(before.requests.map(asRecorded))
        expect(after.last.map((c) => c.semanticRequest)).toEqual([sent[49]])
        const ratio = before.bytes.total / after.bytes.total
        console.log(
          `[storage ${dialect.name}] 50-step run: llm_interactions ${before.bytes.total} B -> ${after.bytes.total} B ` +
            `(${ratio.toFixed(1)}x${dialect.name === "postgres" ? ", stored size after TOAST compression" : ""}); ` +
            `semantic_request JSON ${before.bytes.request} B -> ${after.bytes.request} B ` +
            `(${(before.bytes.request / after.bytes.request).toFixed(1)}x)`
        )
        expect(after.bytes.request * 5).toBeLessThan(before.bytes.request)
        expect(after.bytes.total).toBeLessThan(before.bytes.total)
      }))

    it.scoped(
      "sealed content: ciphertext in the database, opens with the key, typed errors without it",
      () =>
        Effect.gen(function*() {
          const url = yield* dialect.database
          const ring = Encryption.layer({ keys: { k1: key1 }, current: "k1", compress: { minBytes: 64 } })
          const { runId, paused } = yield* Effect.gen(function*() {
            const { runId } = yield* runLong(4, `My input holds ${SECRET}`, (i) => `${SECRET}-${i}`)
            // A paused run: its pause state and the client's submission are sealed too.
            const agent = yield* Agent.make({ name: "checkout", instructions: "You are checkout.", tools: [echo, pay] })
            const pausedRun = yield* agent.run(`pay for ${SECRET}`).pipe(
              Effect.provide(
                ScriptedModel.layer([{ toolCalls: [{ name: "confirm_payment", arguments: { amount: 12 } }] }])
              )
            )
            const sql = yield* SqlClient.SqlClient
            const state = yield* sql<{ v: string }>`SELECT ${
              sql.onDialectOrElse({ pg: () => sql`pause_state::text`, orElse: () => sql`pause_state` })
            } AS v FROM agent_runs WHERE id = ${pausedRun.runId}`
            expect(Encryption.isSealed(state[0]!.v)).toBe(true)
            // The ledger opens the sealed pause state to resume the run.
            yield* resumeAndComplete(pausedRun.runId, pausedRun.pendingCalls![0]!.id)
            const store = yield* RunStore
            const run = yield* store.getRun(runId)
            expect(run.input).toContain(SECRET)
            const traces = (yield* store.getTraces(runId)).items
            expect(traces.some((t) => t.content.includes(SECRET))).toBe(true)
            const tools = (yield* store.getToolCalls(runId)).items
            expect(tools[0]!.result).toMatchObject({ city: `${SECRET}-0` })
            const calls = (yield* store.getLlmCalls(runId)).items
            expect(JSON.stringify(calls[3]!.semanticRequest)).toContain(`${SECRET}-2`)
            const events = (yield* store.getEvents(runId)).items
            expect(JSON.stringify(events)).toContain(SECRET)
            // Every content value in the database is sealed (nothing plain is left to find).
            const texts = yield* contentText
            expect(texts.length).toBeGreaterThan(20)
            expect(texts.filter((t) => !Encryption.isSealed(t))).toEqual([])
            const ringNow = yield* Encryption.Encryption
            const stats = ringNow.stats()
            console.log(
              `[storage ${dialect.name}] sealed ${stats.sealed} values; gzip on ${stats.compressed}: ` +
                `${stats.plainBytes} B -> ${stats.compressedBytes} B (saved ${
                  stats.plainBytes - stats.compressedBytes
                } B)`
            )
            expect(stats.compressedBytes).toBeLessThan(stats.plainBytes)
            return { runId, paused: pausedRun.runId }
          }).pipe(Effect.provide(recorderOn(url).pipe(Layer.provideMerge(ring))))
          if (dialect.name === "sqlite") {
            const raw = sqliteBytes(url)
            expect(raw.length).toBeGreaterThan(0)
            expect(raw.includes(SECRET)).toBe(false)
          }

          // Without keys: a typed error naming the key, never ciphertext passed off as content.
          const plain = yield* Effect.promise(() => RunStore.fromDatabaseUrl(url))
          const missing = yield* Effect.flip(plain.service.getTraces(runId))
          expect(missing._tag).toBe("StoreError")
          expect((missing as { cause?: { _tag?: string } }).cause?._tag).toBe("EncryptionKeyMissing")
          expect(missing.message).toContain("key 'k1'")
          // Lists that hold no content still read.
          expect((yield* plain.service.listRuns()).items.length).toBe(2)
          yield* Effect.promise(() => plain.close())

          // A wrong key under the same id: DecryptionFailed, never garbage.
          const bad = yield* Effect.gen(function*() {
            const store = yield* RunStore
            return yield* Effect.flip(store.getRun(runId))
          }).pipe(Effect.provide(
            RunStore.layerFromUrl(url).pipe(Layer.provide(Encryption.layer({ keys: { k1: wrong }, current: "k1" })))
          ))
          expect((bad as { cause?: { _tag?: string } }).cause?._tag).toBe("DecryptionFailed")

          // The keys from the environment (as the CLI and a router opened from a URL get them).
          process.env.SEXTANT_ENCRYPTION_KEYS = `k1:${key1}`
          const fromEnv = yield* Effect.promise(() => RunStore.fromDatabaseUrl(url)).pipe(
            Effect.ensuring(Effect.sync(() => delete process.env.SEXTANT_ENCRYPTION_KEYS))
          )
          expect((yield* fromEnv.service.getRun(paused)).answer).toBe("paid")
          yield* Effect.promise(() => fromEnv.close())

          // The inventory (no key needed) counts every content value under k1, none plain.
          const counted = yield* Encryption.inventory.pipe(
            Effect.provide(SqlRecorder.layerFromUrl(url).pipe(Layer.orDie))
          )
          expect(counted.plain).toBe(0)
          expect(Object.keys(counted.byKey)).toEqual(["k1"])
          expect(counted.columns.find((c) => c.table === "agent_runs" && c.column === "input")).toMatchObject({
            plain: 0,
            byKey: { k1: 2 }
          })

          // Rotation to k2 in small batches, progress reported; then k1 is removed and everything still reads.
          const progress: Array<number> = []
          const rotated = yield* Encryption.rotate({
            batchSize: 7,
            onProgress: (p) => Effect.sync(() => progress.push(p.resealed))
          }).pipe(
            Effect.provide(SqlRecorder.layerFromUrl(url).pipe(Layer.orDie)),
            Effect.provide(Encryption.layer({ keys: { k1: key1, k2: key2 }, current: "k2" }))
          )
          expect(rotated.resealed).toBeGreaterThan(20)
          expect(progress.length).toBe(rotated.batches)
          expect(progress[progress.length - 1]).toBe(rotated.resealed)
          yield* Effect.gen(function*() {
            const store = yield* RunStore
            expect((yield* store.getRun(runId)).input).toContain(SECRET)
            expect(JSON.stringify((yield* store.getLlmCalls(runId)).items)).toContain(`${SECRET}-2`)
            expect((yield* store.getRun(paused)).answer).toBe("paid")
            const texts = yield* contentText
            expect(texts.filter((t) => !t.includes("e1:k2:"))).toEqual([])
            // A second rotation has nothing left to do.
            const again = yield* Encryption.rotate()
            expect(again.resealed).toBe(0)
            const after = yield* Encryption.inventory
            expect(after).toMatchObject({ plain: 0, byKey: { k2: counted.byKey.k1 } })
            expect(Object.keys(after.byKey)).toEqual(["k2"])
          }).pipe(Effect.provide(
            RunStore.layer.pipe(
              Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
              Layer.provideMerge(Encryption.layer({ keys: { k2: key2 }, current: "k2" })),
              Layer.orDie
            )
          ))
        }),
      60_000
    )

    it.effect("a bad key configuration is a typed error naming the field", () =>
      Effect.gen(function*() {
        const short = yield* Effect.flip(Encryption.make({ keys: { k1: "c2hvcnQ=" }, current: "k1" }))
        expect(short).toMatchObject({ _tag: "InvalidEncryptionConfig", field: "keys.k1" })
        const current = yield* Effect.flip(Encryption.make({ keys: { k1: key1 }, current: "k9" }))
        expect(current).toMatchObject({ _tag: "InvalidEncryptionConfig", field: "current" })
      }))
  })
}
