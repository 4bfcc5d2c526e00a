/**
 * Storage and encryption: (1) the bytes a 20-step scripted run leaves in the database with every model call's
 * request stored in full (`requestDeltas: false`, as before migration 8) and as deltas (the default), measured over
 * `BENCH_STORAGE_RUNS` runs (default 100) and scaled to 1,000; (2) recording throughput with the content columns
 * sealed (AES-256-GCM, and with gzip) against unsealed, on SQLite and Postgres, 20 concurrent runs replaying the
 * 20-step run's events.
 */
import { SqlClient } from "@effect/sql"
import { Agent, type HookEvent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import { statSync } from "node:fs"
import { join } from "node:path"
import {
  alternate,
  type Config,
  logRound,
  rateRatio,
  ratioText,
  roundsFromEnv,
  sig,
  spread,
  table
} from "../../../bench/measure.js"
import { type BenchSection, type Figure, rateFigure } from "../../../bench/section.js"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { Database, Encryption, Migrations, SqlRecorder } from "../src/index.js"

const ROUNDS = roundsFromEnv(4)
const STEPS = 20
const STORAGE_RUNS = Math.max(1, Number(process.env.BENCH_STORAGE_RUNS) || 100)
/** Concurrent runs of a throughput round, each replaying the 20-step run's events. */
const CONCURRENT = 20

const weather = Tool.make("get_weather", {
  description: "Weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21, summary: `Clear skies over ${city}, light wind from the west.` })
})

/** The events of one 20-step scripted run (19 tool calls, then the answer), recorded once in memory. */
const template = (): Promise<ReadonlyArray<HookEvent.HookEvent>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "tour",
        instructions: "You plan city tours. Check the weather of every city before answering.",
        tools: [weather],
        maxIterations: 50
      })
      const script: Array<ScriptedModel.ScriptStep> = [
        ...Array.from({ length: STEPS - 1 }, (_, i) => ({
          text: `Checking city ${i}.`,
          toolCalls: [{ name: "get_weather", arguments: { city: `City number ${i}` } }],
          usage: { inputTokens: 200 + 40 * i, outputTokens: 12 }
        })),
        { text: "Here is your tour, all cities are sunny.", usage: { inputTokens: 1000, outputTokens: 40 } }
      ]
      const result = yield* agent.run("Plan a tour of twenty cities and check the weather in each.").pipe(
        Effect.provide(ScriptedModel.layer(script, { model: "tour-model" }))
      )
      return yield* (yield* MemoryRecorder).events(result.runId)
    }).pipe(Effect.provide(Recorder.memory))
  )

let counter = 0
/** `n` copies of the run with fresh run and call ids (the messages themselves are shared, as the kernel's are). */
const copies = (events: ReadonlyArray<HookEvent.HookEvent>, n: number, tag: string) =>
  Array.from({ length: n }, () => {
    const runId = `${tag}-${String(counter++).padStart(8, "0")}`
    return events.map((e) => {
      const copy = { ...e, runId } as Record<string, unknown>
      if (typeof copy.correlationId === "string") copy.correlationId = `${copy.correlationId}-${runId}`
      return copy as unknown as HookEvent.HookEvent
    })
  })

type Runtime = ManagedRuntime.ManagedRuntime<Recorder | SqlClient.SqlClient, unknown>

/** Replays runs concurrently, each awaiting every event before the next (as the loop does); the events written. */
const replay = (runtime: Runtime, runs: ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>) =>
  runtime.runPromise(
    Effect.flatMap(Recorder, (recorder) =>
      Effect.forEach(runs, (events) =>
        Effect.forEach(events, (e) => recorder.record(e), { discard: true }), {
        concurrency: "unbounded",
        discard: true
      })).pipe(Effect.as(runs.reduce((n, r) =>
        n + r.length, 0)))
  )

const key = (fill: number) => Buffer.alloc(32, fill).toString("base64")

const layerOf = (url: string, options: SqlRecorder.SqlRecorderOptions, ring?: Encryption.EncryptionOptions) => {
  const recorder = SqlRecorder.layerFromUrl(url, { ...options, retry: { budget: "30 seconds" } })
  return (ring === undefined ? recorder : recorder.pipe(Layer.provide(Encryption.layer(ring)))).pipe(Layer.orDie)
}

interface Target {
  readonly name: string
  readonly short: "sqlite" | "postgres"
  /** A fresh migrated database. */
  readonly fresh: () => Promise<{ readonly url: string; readonly close: () => Promise<void> }>
  /** The bytes of the database's content (SQLite: the file after a checkpoint and VACUUM; Postgres: the tables). */
  readonly bytes: (runtime: Runtime, url: string) => Promise<{ readonly total: number; readonly llm: number }>
}

const migrate = (url: string) =>
  Effect.runPromise(Migrations.run.pipe(Effect.provide(Database.layerFromUrl(url)), Effect.orDie))

const targets: ReadonlyArray<Target> = [
  {
    name: "SQLite",
    short: "sqlite",
    fresh: async () => {
      const dir = createTempDir()
      const url = `sqlite:${join(dir.path, "privacy.db")}`
      await migrate(url)
      return { url, close: async () => dir.remove() }
    },
    bytes: (runtime, url) =>
      runtime.runPromise(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe("PRAGMA wal_checkpoint(TRUNCATE)")
        yield* sql.unsafe("VACUUM")
        const llm = yield* sql<{ n: number }>`SELECT SUM(
            COALESCE(length(CAST(semantic_request AS BLOB)), 0) + COALESCE(length(CAST(semantic_response AS BLOB)), 0)
            + COALESCE(length(CAST(provider_request AS BLOB)), 0) + COALESCE(length(CAST(provider_response AS BLOB)), 0)
          ) AS n FROM llm_interactions`
        return { total: statSync(url.slice("sqlite:".length)).size, llm: Number(llm[0]?.n ?? 0) }
      }))
  },
  {
    name: "Postgres",
    short: "postgres",
    fresh: async () => {
      const db = await createPgDatabase()
      await migrate(db.url)
      return { url: db.url, close: db.drop }
    },
    bytes: (runtime) =>
      runtime.runPromise(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql.unsafe("VACUUM (FULL, ANALYZE)")
        const rows = yield* sql<{ total: string; llm: string }>`SELECT
          (SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r') AS total,
          pg_total_relation_size('llm_interactions') AS llm`
        return { total: Number(rows[0]?.total ?? 0), llm: Number(rows[0]?.llm ?? 0) }
      }))
  }
]

const mb = (bytes: number) => `${sig(bytes / 1e6)} MB`

/** Storage of `STORAGE_RUNS` runs with full requests and with deltas, on one target. */
const storage = async (target: Target, events: ReadonlyArray<HookEvent.HookEvent>) => {
  const measure = async (requestDeltas: boolean, ring?: Encryption.EncryptionOptions) => {
    const db = await target.fresh()
    const runtime = ManagedRuntime.make(layerOf(db.url, { requestDeltas }, ring)) as Runtime
    try {
      // 20 runs at a time, as concurrent runs would be recorded.
      const runs = copies(events, STORAGE_RUNS, `store-${target.short}`)
      for (let i = 0; i < runs.length; i += 20) await replay(runtime, runs.slice(i, i + 20))
      return await target.bytes(runtime, db.url)
    } finally {
      await runtime.dispose()
      await db.close()
    }
  }
  const full = await measure(false)
  const deltas = await measure(true)
  const sealed = await measure(true, { keys: { k1: key(1) }, current: "k1" })
  const gzip = await measure(true, { keys: { k1: key(1) }, current: "k1", compress: { minBytes: 256 } })
  return { full, deltas, sealed, gzip }
}

/** The sections and figures. */
export const privacy = async (): Promise<ReadonlyArray<BenchSection>> => {
  const events = await template()
  const sections: Array<BenchSection> = []
  const figures: Array<Figure> = []
  const scale = 1000 / STORAGE_RUNS
  for (const target of targets) {
    const s = await storage(target, events)
    figures.push({
      name: `storage ${target.short} per 1000 20-step runs`,
      value: s.deltas.total * scale,
      unit: "bytes per 1,000 runs (request deltas)",
      ratio: s.full.total / s.deltas.total,
      baseline: "the same runs with every request stored in full (before migration 8)"
    })
    const row = (name: string, b: { readonly total: number; readonly llm: number }) => [
      name,
      mb(b.total * scale),
      mb(b.llm * scale),
      `${sig(s.full.total / b.total)}×`
    ]
    sections.push({
      title: `Storage: bytes per 1,000 runs of a ${STEPS}-step run, ${target.name}`,
      markdown: [
        table(
          ["requests stored", "database per 1,000 runs", "llm_interactions per 1,000 runs", "smaller than full by"],
          [
            row("in full (before migration 8)", s.full),
            row("as deltas (default)", s.deltas),
            row("deltas, sealed (AES-256-GCM)", s.sealed),
            row("deltas, sealed, gzip ≥ 256 B", s.gzip)
          ],
          "|---|---:|---:|---:|"
        ),
        "",
        `Measured over ${STORAGE_RUNS} runs (the events of one scripted ${STEPS}-step run, ${events.length} events, ` +
        `replayed with fresh ids, 20 runs at a time) and multiplied by ${sig(scale)}: the growth per run is linear ` +
        "(every run is the same), so only the fixed cost of an empty schema is scaled with it. " +
        (target.short === "sqlite"
          ? "Database: the file's size after a WAL checkpoint and VACUUM; llm_interactions: the stored bytes of its four content columns."
          : "Database: `pg_total_relation_size` of every table after `VACUUM FULL` (indexes and TOAST included); " +
            "llm_interactions: the same for that table. Postgres compresses large values itself (TOAST, pglz), " +
            "which already removes much of the repetition of full requests: the saving on disk is smaller than " +
            "the saving in JSON text, and sealed values (random bytes) do not compress, which is why sealing " +
            "costs more there than on SQLite.")
      ].join("\n"),
      figures: []
    })
  }
  for (const target of targets) {
    const db = await target.fresh()
    const ring = { keys: { k1: key(1) }, current: "k1" }
    const plainRt = ManagedRuntime.make(layerOf(db.url, {})) as Runtime
    const sealedRt = ManagedRuntime.make(layerOf(db.url, {}, ring)) as Runtime
    const gzipRt = ManagedRuntime.make(layerOf(db.url, {}, { ...ring, compress: { minBytes: 256 } })) as Runtime
    try {
      const config = (name: string, runtime: Runtime): Config<ReadonlyArray<ReadonlyArray<HookEvent.HookEvent>>> => ({
        name,
        prepare: () => copies(events, CONCURRENT, `tp-${target.short}`),
        run: (runs) => replay(runtime, runs)
      })
      const measured = await alternate([
        config("unsealed", plainRt),
        config("sealed", sealedRt),
        config("sealed + gzip", gzipRt)
      ], { rounds: ROUNDS, onRound: logRound(`privacy ${target.short}`) })
      const base = measured.unsealed!
      const rows = Object.values(measured).map((m) => [
        m.name,
        spread(m.rate, 1, " events/s"),
        sig(m.cpu.median * 1000) + " µs",
        m === base ? "1×" : ratioText(rateRatio(m, base))
      ])
      for (const name of ["sealed", "sealed + gzip"]) {
        figures.push(rateFigure(measured[name]!, base, {
          name: `recording ${target.short} ${name} vs unsealed`,
          unit: `events/s at ${CONCURRENT} concurrent runs`,
          baseline: "the same runs recorded without encryption",
          cpu: false
        }))
      }
      sections.push({
        title: `Encryption: recording throughput sealed vs unsealed, ${target.name}`,
        markdown: [
          table(["configuration", "events/s", "CPU per event", "vs unsealed (events/s)"], rows, "|---|---:|---:|---:|"),
          "",
          `${CONCURRENT} concurrent runs, each replaying the ${events.length} events of the ${STEPS}-step run and ` +
          `awaiting every write; ${ROUNDS} rounds, configurations alternating; request deltas on in all three. ` +
          "Sealed: every content column AES-256-GCM encrypted (a random IV each value) with its key id; gzip: " +
          "values of 256 bytes and more compressed before encryption." +
          (target.short === "postgres" ? " CPU is this process's only (the server's is not counted)." : "")
        ].join("\n"),
        figures: []
      })
    } finally {
      await plainRt.dispose()
      await sealedRt.dispose()
      await gzipRt.dispose()
      await db.close()
    }
  }
  sections[sections.length - 1] = { ...sections[sections.length - 1]!, figures }
  return sections
}
