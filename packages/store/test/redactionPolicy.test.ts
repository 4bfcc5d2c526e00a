/**
 * The redaction policy against the real record, on SQLite and Postgres: a metadata-only run keeps the same
 * usage sums (per call and per run) as a normal run of the same script, and no table, notifier, JSONL line or
 * span (content capture on) holds any of its content;
 * a run with key, pattern and tool-path rules leaves none of the values they cover in any of those.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { JsonlFileNotifier, OpenTelemetryNotifier } from "@sextant/notifiers"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Notifier, Notifiers, Redaction, ScriptedModel, Tool } from "@sextant/runtime"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { readFileSync } from "node:fs"
import { createTempDir } from "../../../test-support/databases.js"
import { RunStore } from "../src/index.js"
import { dialectNamed, tableNames } from "./support.js"

const content = {
  instructions: "Answer as the concierge.",
  input: "Where is parcel PX-778812 for Ms Quill?",
  argument: "parcel-PX-778812",
  password: "s3cret-passphrase",
  result: "left at the blue door",
  text: "Looking the parcel up",
  answer: "Your parcel was left at the blue door.",
  metadata: "concierge-desk-7"
}

const track = Tool.make("track", {
  description: "Tracks a parcel",
  parameters: Schema.Struct({ parcel: Schema.String, password: Schema.String }),
  handler: () => ({ status: "delivered", note: content.result })
})

const usage = { inputTokens: 31, outputTokens: 7, cacheReadTokens: 5, costUsd: 0.0021 }
const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    text: content.text,
    toolCalls: [{ name: "track", arguments: { parcel: content.argument, password: content.password } }],
    usage
  },
  { text: content.answer, usage: { ...usage, outputTokens: 11 } }
]

/**
 * Runs the script (streamed) with `redaction`; every table's rows as text, the export, the usage sums, and what
 * the notifiers got (a capturing one, the JSONL file, OTel spans with content capture on).
 */
const recordRun = (dialect: "sqlite" | "postgres", redaction: Redaction.Config | undefined) =>
  Effect.gen(function*() {
    const url = yield* dialectNamed(dialect).database
    const dir = yield* Effect.acquireRelease(Effect.sync(createTempDir), (d) => Effect.sync(d.remove))
    const jsonl = `${dir.path}/events.jsonl`
    const exporter = new InMemorySpanExporter()
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("t")
    const seen: Array<string> = []
    const notifiers = Notifiers.layer([
      Notifier.make({ name: "seen", onEvent: (e) => void seen.push(JSON.stringify(e)) }),
      JsonlFileNotifier.make({ path: jsonl }),
      OpenTelemetryNotifier.make({ name: "otel", tracer, captureContent: true })
    ])
    const recorded = yield* Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "concierge",
        instructions: content.instructions,
        tools: [track],
        ...(redaction === undefined ? {} : { redaction })
      })
      yield* Stream.runDrain(agent.stream(content.input, { metadata: { desk: content.metadata } }))
      const sql = yield* SqlClient.SqlClient
      const rows: Record<string, string> = {}
      for (const table of yield* tableNames(sql, dialect)) {
        rows[table] = JSON.stringify(yield* sql.unsafe(`SELECT * FROM ${table}`))
      }
      const perCall = yield* sql<Record<string, unknown>>`
        SELECT input_tokens, output_tokens, cache_read_tokens, cost_nanos FROM token_usage ORDER BY iteration`
      const perRun = yield* sql<Record<string, unknown>>`
        SELECT status, iteration_count, total_input_tokens, total_output_tokens, total_cache_read_tokens,
               total_cost_nanos FROM agent_runs`
      const exported = Chunk.toArray(yield* Stream.runCollect((yield* RunStore).exportRuns())).join("\n")
      return { rows, exported, sums: JSON.stringify({ perCall, perRun }) }
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          ScriptedModel.layer(script),
          RunStore.layer.pipe(Layer.provideMerge(SqlRecorder.layerFromUrl(url)))
        )
      ),
      Effect.provide(notifiers),
      Effect.scoped
    )
    const spans = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events }))
    )
    return { ...recorded, notified: seen.join("\n"), jsonl: readFileSync(jsonl, "utf8"), spans }
  })

const found = (where: string, text: string, values: Record<string, string>) =>
  Object.entries(values).filter(([, v]) => text.includes(v)).map(([name]) => `${where}: ${name}`)

const suite = (dialect: "sqlite" | "postgres") =>
  describe(`redaction policy on ${dialect}`, () => {
    it.scoped("metadata-only keeps the usage sums of a normal run and stores no content in any table or sink", () =>
      Effect.gen(function*() {
        const normal = yield* recordRun(dialect, undefined)
        const bare = yield* recordRun(dialect, { metadataOnly: true })
        expect(bare.sums).toBe(normal.sums)
        expect(bare.sums).toContain("success")
        // The normal run does store the content (so the search below can find it).
        expect(found("normal", JSON.stringify(normal.rows), content).length).toBeGreaterThan(4)
        expect([
          ...Object.entries(bare.rows).flatMap(([table, text]) =>
            found(`table ${table}`, text, content)
          ),
          ...found("export", bare.exported, content),
          ...found("notifier", bare.notified, content),
          ...found("jsonl", bare.jsonl, content),
          ...found("otel (content capture on)", bare.spans, content)
        ]).toEqual([])
        expect(found("normal spans", normal.spans, content).length).toBeGreaterThan(0)
        // The spans still carry the run's usage.
        expect(bare.spans).toContain("gen_ai.usage.input_tokens")
      }), { timeout: 60_000 })

    it.scoped("key, pattern and tool-path rules leave none of their values in any table or sink", () =>
      Effect.gen(function*() {
        const run = yield* recordRun(dialect, {
          hashKey: "host-hmac-key-0123456789",
          rules: [
            { keys: ["password"], action: "drop" },
            { pattern: /PX-\d{6}/, action: "hash" },
            { tool: "track", result: { allow: ["$.status"] }, action: "mask" }
          ]
        })
        const covered = { password: content.password, parcel: "PX-778812", result: content.result }
        expect([
          ...Object.entries(run.rows).flatMap(([table, text]) =>
            found(`table ${table}`, text, covered)
          ),
          ...found("export", run.exported, covered),
          ...found("notifier", run.notified, covered),
          ...found("jsonl", run.jsonl, covered),
          ...found("otel (content capture on)", run.spans, covered)
        ]).toEqual([])
        expect(run.rows["tool_calls"]).toContain("delivered")
        expect(run.rows["run_events"]).toContain("redacted")
      }), { timeout: 60_000 })
  })

suite("sqlite")
suite("postgres")
