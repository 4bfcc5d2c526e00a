/**
 * The leak hunt: a run with guardrails `PII()` + `SecretDetection({ action: "redact" })` is seeded with known raw
 * values through every entry point (input, metadata, a tool echoing a secret it was given, a failing tool's
 * error, streamed model text, an approval rejection reason, a client tool result, human input), then every sink
 * is searched for them: every column of every table, the SQLite file's bytes, the NDJSON export, a notifier,
 * the JSONL file, OTel spans with content capture on and off, the model's requests and the caller's stream.
 * Every table is also searched at each pause (approval, client tool, human input): the only raw values then are
 * the pause state's own placeholder mapping, and with encryption keys none at all (every content value is
 * sealed, and the export, decrypted with the keys, is still clean).
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { JsonlFileNotifier, OpenTelemetryNotifier } from "@sextant/notifiers"
import { Encryption, SqlRecorder, Tables } from "@sextant/recorder"
import { Agent, Guardrails, Notifier, Notifiers, ScriptedModel, StreamEvent as Events, Tool } from "@sextant/runtime"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"

type StreamEvent = Events.StreamEvent
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createTempDir } from "../../../test-support/databases.js"
import { RunStore } from "../src/index.js"
import { dialectNamed, tableNames } from "./support.js"

const raw = {
  accessKey: "AKIAIOSFODNN7EXAMPLE",
  secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  email: "jane.doe@example.com",
  card: "4111 1111 1111 1111",
  phone: "+44 20 7946 0958",
  streamedPhone: "+33 6 12 34 56 78",
  reviewer: "dpo.office@example.com",
  client: "client.person@example.org",
  human: "5555 5555 5555 4444",
  metadata: "meta.person@example.net"
}

const input = `Deploy with aws_access_key_id=${raw.accessKey} aws_secret_access_key=${raw.secretKey}; ` +
  `mail ${raw.email}, card ${raw.card}, phone ${raw.phone}.`

/** Where a raw value was found: the sink and the value's name. */
const hunt = (sink: string, text: string): Array<string> =>
  Object.entries(raw).filter(([, value]) => text.includes(value)).map(([name]) => `${sink}: ${name}`)

/** The text deltas of a list of events, concatenated: an entity split across deltas is found whole. */
const streamedText = (events: ReadonlyArray<StreamEvent>) =>
  events.map((e) => (e._tag === "TextDelta" || e._tag === "ToolArgumentsDelta" ? e.delta : "")).join("")

const placeholderOf = (text: string, type: string) => text.match(new RegExp(`<<${type}_\\d+>>`))?.[0] ?? "<<none>>"

const lookup = Tool.make("lookup", {
  description: "Looks a key up (echoes it)",
  parameters: Schema.Struct({ key: Schema.String }),
  handler: ({ key }) => ({ echoed: key })
})
const broken = Tool.make("broken", {
  description: "Fails quoting its argument",
  parameters: Schema.Struct({ key: Schema.String }),
  handler: ({ key }) => Effect.fail(new Error(`cannot use ${key}`))
})
const deploy = Tool.make("deploy", {
  description: "Deploys (needs approval)",
  parameters: Schema.Struct({ env: Schema.String }),
  handler: () => ({ ok: true })
})
const pay = Tool.make("pay", {
  description: "Client side",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

const usage = { inputTokens: 10, outputTokens: 2 }

/** Turn 1 echoes the secret's placeholder to two tools, streaming raw model text; then approval, client, human. */
const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  (request) => {
    const secret = placeholderOf(request.messages[0]!.content as string, "AWS_SECRET_KEY")
    return {
      text: `Noted; I will call ${raw.streamedPhone} later.`,
      toolCalls: [{ name: "lookup", arguments: { key: secret } }, { name: "broken", arguments: { key: secret } }],
      usage
    }
  },
  { toolCalls: [{ name: "deploy", arguments: { env: "prod" } }], usage },
  { toolCalls: [{ name: "pay", arguments: { amount: 3 } }], usage },
  { toolCalls: [{ name: "ask_human", arguments: { question: "Which card?" } }], usage },
  (request) => ({ text: `Done for ${placeholderOf(request.messages[0]!.content as string, "EMAIL")}.`, usage })
]

const collect = <E, R>(stream: Stream.Stream<StreamEvent, E, R>) => Effect.map(Stream.runCollect(stream), Chunk.toArray)

const pendingOf = (events: ReadonlyArray<StreamEvent>) => {
  const paused = events.find((e) => e._tag === "RunPaused")
  if (paused?._tag !== "RunPaused") throw new Error(`the segment did not pause: ${events.at(-1)?._tag}`)
  return paused.pendingCalls[0]!.id
}

const tracing = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, tracer: provider.getTracer("leak-hunt") }
}

const spanText = (exporter: InMemorySpanExporter) =>
  JSON.stringify(exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })))

/** Every row of every table as JSON text per table. */
const snapshot = (sql: SqlClient.SqlClient, dialect: "sqlite" | "postgres") =>
  Effect.gen(function*() {
    const rows: Record<string, string> = {}
    for (const table of yield* tableNames(sql, dialect)) {
      rows[table] = JSON.stringify(yield* sql.unsafe(`SELECT * FROM ${table}`))
    }
    return rows
  })

/**
 * The raw values found in a snapshot taken while the run is paused. Without keys the pause state's own mapping
 * (`redactions`, placeholder → raw value) is the one place allowed to hold them, and is left out of the search;
 * with keys nothing is left out.
 */
const huntPaused = (when: string, rows: Record<string, string>, encrypted: boolean) =>
  Object.entries(rows).flatMap(([table, text]) => {
    if (table !== "agent_runs" || encrypted) return hunt(`${when}: table ${table}`, text)
    const runs = (JSON.parse(text) as Array<Record<string, unknown>>).map(({ pause_state, ...row }) => {
      if (typeof pause_state !== "string" && (typeof pause_state !== "object" || pause_state === null)) return row
      const state = (typeof pause_state === "string" ? JSON.parse(pause_state) : pause_state) as Record<string, unknown>
      const { redactions: _mapping, ...rest } = state
      return { ...row, pause_state: rest }
    })
    return hunt(`${when}: table ${table}`, JSON.stringify(runs))
  })

const encryptionKeys = { keys: { k1: Buffer.alloc(32, 11).toString("base64") }, current: "k1" }

const leakHunt = (dialect: "sqlite" | "postgres", encrypted = false) =>
  Effect.gen(function*() {
    const dir = createTempDir()
    yield* Effect.addFinalizer(() => Effect.sync(dir.remove))
    const file = join(dir.path, "leak.db")
    const url = dialect === "sqlite"
      ? `sqlite:${file}`
      : yield* dialectNamed("postgres").database
    const seen: Array<string> = []
    const seenEvents: Array<StreamEvent> = []
    const captured = Notifier.make({
      name: "captured",
      onEvent: (event) => {
        seen.push(JSON.stringify(event))
        seenEvents.push(event)
      }
    })
    const jsonl = join(dir.path, "events.jsonl")
    const withContent = tracing()
    const withoutContent = tracing()
    const notifiers = Notifiers.layer([
      captured,
      JsonlFileNotifier.make({ path: jsonl }),
      OpenTelemetryNotifier.make({ name: "otel-content", tracer: withContent.tracer, captureContent: true }),
      OpenTelemetryNotifier.make({ name: "otel-bare", tracer: withoutContent.tracer })
    ])
    const model = ScriptedModel.layer(script)
    const agent = yield* Agent.make({
      name: "leaky",
      instructions: "Be careful.",
      tools: [lookup, broken, deploy, pay, Tool.humanInput()],
      requireApproval: ["deploy"],
      guardrails: [Guardrails.PII(), Guardrails.SecretDetection({ action: "redact" })]
    })
    const { atPauses, caller, exported, plainContent, requests, rows, runId } = yield* Effect.gen(function*() {
      const caller: Array<StreamEvent> = []
      const segment = <E, R>(stream: Stream.Stream<StreamEvent, E, R>) =>
        Effect.tap(collect(stream), (events) => Effect.sync(() => caller.push(...events)))
      const sql = yield* SqlClient.SqlClient
      const atPauses: Array<string> = []
      const paused = (when: string) =>
        Effect.map(snapshot(sql, dialect), (rows) => void atPauses.push(...huntPaused(when, rows, encrypted)))
      const first = yield* segment(agent.stream(input, { metadata: { contact: raw.metadata } }))
      const runId = first[0]!.runId
      pendingOf(first)
      yield* paused("waiting for approval")
      const approval = yield* segment(
        agent.streamSubmitApproval(runId, { approved: false, reason: `ask ${raw.reviewer}` })
      )
      const clientCall = pendingOf(approval)
      yield* paused("waiting for the client")
      const paid = yield* segment(
        agent.streamSubmitToolResults(runId, [{
          callId: clientCall,
          result: { email: raw.client, echo: raw.secretKey }
        }])
      )
      pendingOf(paid)
      yield* paused("waiting for human input")
      yield* segment(agent.streamSubmitInput(runId, `use ${raw.human}`))
      const requests = yield* (yield* ScriptedModel.Requests).requests
      const rows = yield* snapshot(sql, dialect)
      // With keys, every content value is sealed.
      const plainContent: Array<string> = []
      if (encrypted) {
        for (const [table, columns] of Object.entries(Tables.contentColumns)) {
          for (const column of Object.keys(columns)) {
            const values = yield* sql<{ v: string | null }>`SELECT ${
              dialect === "postgres" ? sql`${sql(column)}::text` : sql`${sql(column)}`
            } AS v FROM ${sql(table)}`
            for (const { v } of values) {
              if (v !== null && !Encryption.isSealed(v)) plainContent.push(`${table}.${column}`)
            }
          }
        }
      }
      const store = yield* RunStore
      const exported = Chunk.toArray(yield* Stream.runCollect(store.exportRuns())).join("\n")
      return { atPauses, caller, exported, plainContent, requests, rows, runId }
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          model,
          RunStore.layer.pipe(
            Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
            Layer.provideMerge(encrypted ? Encryption.layer(encryptionKeys) : Layer.empty),
            Layer.orDie
          )
        )
      ),
      Effect.provide(notifiers),
      Effect.scoped
    )
    // The whole run happened and every sink saw it.
    expect(Object.keys(rows)).toEqual(expect.arrayContaining(["agent_runs", "run_events", "tool_calls"]))
    expect(caller.at(-1)?._tag).toBe("RunCompleted")
    expect(seen.some((e) => e.includes("TextDelta"))).toBe(true)
    // Held-back text is released when the call ends: the deltas add up to the recorded (redacted) text.
    expect(streamedText(seenEvents.filter((e) => e._tag === "TextDelta"))).toMatch(
      /^Noted; I will call <<PHONE_\d+>> later\.Done for <<EMAIL_1>>\.$/
    )
    expect(atPauses).toEqual([])
    expect(plainContent).toEqual([])
    // The export decrypted (with keys) holds what the record holds: placeholders.
    expect(exported).toContain("<<EMAIL_")
    const leaks = [
      ...Object.entries(rows).flatMap(([table, text]) => hunt(`table ${table}`, text)),
      ...hunt("export", exported),
      ...hunt("notifier", seen.join("\n")),
      ...hunt("notifier deltas", streamedText(seenEvents)),
      ...hunt("caller stream deltas", streamedText(caller)),
      ...hunt("jsonl", readFileSync(jsonl, "utf8")),
      ...hunt("otel (content)", spanText(withContent.exporter)),
      ...hunt("otel (no content)", spanText(withoutContent.exporter)),
      ...hunt("model requests", JSON.stringify(requests)),
      ...hunt("caller stream", JSON.stringify(caller.slice(0, -1))),
      ...(dialect === "sqlite"
        ? [file, `${file}-wal`].filter(existsSync).flatMap((f) => hunt(`file ${f}`, readFileSync(f, "latin1")))
        : [])
    ]
    expect(leaks).toEqual([])
    // The caller's stream gets the answer de-anonymised, as the non-streaming result does.
    const terminal = caller.at(-1)
    expect(terminal?._tag === "RunCompleted" && terminal.answer).toBe(`Done for ${raw.email}.`)
    // The approval reason is not on a span without content capture, redacted with it.
    expect(spanText(withoutContent.exporter)).not.toContain("sextant.reason")
    expect(spanText(withContent.exporter)).toContain("ask <<EMAIL_")
    // A consumed submission is not kept.
    expect(JSON.parse(rows["agent_runs"]!)[0].resume_submission).toBeNull()
    expect(runId).toBeTypeOf("string")
  })

describe("leak hunt", () => {
  it.scoped(
    "SQLite: no raw value reaches any table, the file, a notifier, a span, the model or the stream",
    () => leakHunt("sqlite"),
    { timeout: 60_000 }
  )
  it.scoped(
    "Postgres: no raw value reaches any table, a notifier, a span, the model or the stream",
    () => leakHunt("postgres"),
    { timeout: 60_000 }
  )
  it.scoped(
    "SQLite with encryption keys: every content value sealed, none raw at a pause, the decrypted export clean",
    () => leakHunt("sqlite", true),
    { timeout: 60_000 }
  )
  it.scoped(
    "Postgres with encryption keys: every content value sealed, none raw at a pause, the decrypted export clean",
    () => leakHunt("postgres", true),
    { timeout: 60_000 }
  )
})
