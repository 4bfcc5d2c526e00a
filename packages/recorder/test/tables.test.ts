import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { type HookEvent, Recorder, RunLedger, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Either, Layer, Option, Schema } from "effect"
import { SqlRecorder, Tables } from "../src/index.js"
import { dialects, memoryRun, readAll } from "./support.js"

/** NUL, a lone high and a lone low surrogate, the escape character, text that looks like an escape, a pair. */
const NASTY = "a\u0000b \ud800 c\udc00 d\u0010e \u00100 \u0010xd800 \u0010\u0010 \\u0000 \\\u0010 😀 end\ud83d"

describe("Tables: the string escape", () => {
  it("round-trips every string, and leaves ordinary ones untouched", () => {
    for (const s of [NASTY, "", "plain", "\u0010", "\u0010x", "\u0010xd8", "\u0000\u0000", "\udfff\ud800", "😀"]) {
      const stored = Tables.escapeText(s)
      expect(stored.includes("\u0000")).toBe(false)
      expect(/[\ud800-\udfff]/u.test(stored)).toBe(false)
      expect(Tables.unescapeText(stored)).toBe(s)
    }
    expect(Tables.escapeText("plain 😀 text")).toBe("plain 😀 text")
    // Random code units, lone surrogates and escape characters included.
    const units = [0, 0x10, 0x30, 0x78, 0x64, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0x41, 0x5c]
    for (let i = 0; i < 2000; i++) {
      const s = String.fromCharCode(
        ...Array.from({ length: 8 }, () => units[Math.floor(Math.random() * units.length)]!)
      )
      expect(Tables.unescapeText(Tables.escapeText(s))).toBe(s)
    }
  })

  it("JSON: every key and string escaped on the text, the same as escaping each string", () => {
    const value = { [NASTY]: [NASTY, 1, null, { k: NASTY, "\u0000": true }], plain: "x" }
    const text = Tables.encodeJson(value)
    // What Postgres would store: no NUL and no lone surrogate in any key or string.
    const strings = (v: unknown): Array<string> =>
      typeof v === "string"
        ? [v]
        : v !== null && typeof v === "object"
        ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)])
        : []
    expect(strings(JSON.parse(text)).filter((s) => s.includes("\u0000") || /[\ud800-\udfff]/u.test(s))).toEqual([])
    const walked = JSON.stringify({
      [Tables.escapeText(NASTY)]: [Tables.escapeText(NASTY), 1, null, { k: Tables.escapeText(NASTY), "\u00100": true }],
      plain: "x"
    })
    expect(text).toBe(walked)
    expect(Tables.decodeJson(text)).toEqual(value)
    // A value another driver already parsed decodes the same way.
    expect(Tables.decodeJson(JSON.parse(text))).toEqual(value)
    expect(Tables.encodeJson({ a: "x" })).toBe("{\"a\":\"x\"}")
  })
})

describe("Tables: the definitions are the migrated schema", () => {
  for (const dialect of dialects) {
    it.scoped(`${dialect.name}: every table's columns and types, in order`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const columns = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const out: Record<string, ReadonlyArray<readonly [string, string, boolean]>> = {}
          for (const table of Tables.all) {
            out[table.name] = dialect.name === "sqlite"
              ? (yield* sql<{ name: string; type: string; notnull: number; pk: number }>`
                  SELECT name, type, "notnull", pk FROM pragma_table_info(${table.name})`)
                .map((c) => [c.name, c.type, c.notnull === 0 && c.pk === 0] as const)
              : (yield* sql<{ name: string; type: string; nullable: string; dflt: string | null }>`
                  SELECT column_name AS name, data_type AS type, is_nullable AS nullable, column_default AS dflt
                  FROM information_schema.columns WHERE table_name = ${table.name} ORDER BY ordinal_position`)
                .map((c) => [c.name, c.type, c.nullable === "YES"] as const)
          }
          return out
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        const pgNames: Record<string, string> = {
          TEXT: "text",
          JSONB: "jsonb",
          BOOLEAN: "boolean",
          INTEGER: "integer",
          BIGINT: "bigint",
          "DOUBLE PRECISION": "double precision",
          TIMESTAMPTZ: "timestamp with time zone",
          BIGSERIAL: "bigint"
        }
        for (const table of Tables.all) {
          const expected = Object.entries(table.definition as Record<string, Tables.Column<unknown>>).map((
            [name, c]
          ) => {
            const type = Tables.sqlType(c.kind, dialect.name === "sqlite" ? "sqlite" : "pg")
            // A primary key is NOT NULL on Postgres; SQLite reports it as nullable-but-key (checked via pk above).
            return [name, dialect.name === "sqlite" ? type : pgNames[type], c.nullable] as const
          })
          expect([table.name, columns[table.name]]).toEqual([table.name, expected])
        }
      }))
  }
})

const pick = Tool.make("pick", {
  description: "client",
  parameters: Schema.Struct({ q: Schema.String }),
  target: "client"
})
const echo = Tool.make("echo", {
  description: "echo",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => ({ echoed: q, [NASTY]: NASTY })
})

describe("strings a column cannot hold are recorded losslessly and identically on both dialects", () => {
  it.scoped("NUL, lone surrogates and the escape character in the input, model text, tool arguments and result", () =>
    Effect.gen(function*() {
      const runId = `nasty-${NASTY}`
      const events = (yield* memoryRun(
        { name: "nasty", instructions: NASTY, tools: [echo, pick] },
        [
          { text: NASTY, toolCalls: [{ name: "echo", arguments: { q: NASTY } }] },
          { text: `answer ${NASTY}`, toolCalls: [{ name: "pick", arguments: { q: NASTY } }] }
        ],
        "nasty"
      )).map((e) => ({ ...e, runId }))
      // The run's own options are the runtime's to validate; here they carry the strings as a caller's would.
      const input = events.map((e): HookEvent.HookEvent =>
        e._tag === "RunStarted" ? { ...e, input: NASTY, metadata: { [NASTY]: NASTY }, tenantId: NASTY } : e
      )
      const recorded = (url: string) =>
        Effect.gen(function*() {
          const recorder = yield* Recorder
          for (const event of input) yield* recorder.record(event)
          const stored = yield* (yield* RunLedger).get(runId)
          return { rows: yield* readAll(runId), stored: Option.getOrThrow(stored) }
        }).pipe(Effect.provide(Layer.merge(SqlRecorder.layerFromUrl(url), ScriptedModel.layer([]))))
      const a = yield* recorded(yield* dialects[0]!.database)
      const b = yield* recorded(yield* dialects[1]!.database)
      expect(a).toEqual(b)

      const run = a.rows.agent_runs[0]!
      expect(run).toMatchObject({
        id: runId,
        input: NASTY,
        instructions: NASTY,
        tenant_id: NASTY,
        status: "waiting_client_tool"
      })
      expect(run.metadata).toEqual({ [NASTY]: NASTY })
      expect(a.stored).toMatchObject({ runId, input: NASTY, tenantId: NASTY, metadata: { [NASTY]: NASTY } })
      const contents = a.rows.react_traces.map((t) => t.content)
      expect(contents).toContain(NASTY)
      expect(contents).toContain(`answer ${NASTY}`)
      const echoed = a.rows.tool_calls.find((c) => c.tool_name === "echo")!
      expect(echoed.params).toEqual({ q: NASTY })
      expect(echoed.result).toEqual({ echoed: NASTY, [NASTY]: NASTY })
      expect(a.rows.llm_interactions[0]!.semantic_response).toMatchObject({ text: NASTY })
      // Every event's data reads back as the event (minus the fields with their own columns).
      for (const row of a.rows.run_events) {
        const event = input[row.sequence_index]! as Record<string, unknown>
        expect(row.agent_run_id).toBe(runId)
        for (const [key, value] of Object.entries(row.data as Record<string, unknown>)) {
          expect([row.event_type, key, value]).toEqual([row.event_type, key, event[key]])
        }
      }
      const paused = input.at(-1)! as HookEvent.RunPaused
      expect(a.stored.pauseState).toEqual(paused.state)
    }))
})

describe("Tables: rows decode to identical values whatever the driver returns", () => {
  it("timestamps, booleans, numbers and JSON", () => {
    const decode = Schema.decodeUnknownEither(Tables.runEvents.Row)
    const sqlite = decode({
      id: 1,
      agent_run_id: "r",
      sequence_index: 0,
      event_type: "run.started",
      iteration: 0,
      correlation_id: null,
      data: "{\"a\":\"\\u00100\"}",
      created_at: "2024-01-02T03:04:05.006Z"
    })
    const pg = decode({
      id: "1",
      agent_run_id: "r",
      sequence_index: 0,
      event_type: "run.started",
      iteration: 0,
      correlation_id: null,
      data: { a: "\u00100" },
      created_at: new Date("2024-01-02T03:04:05.006Z")
    })
    expect(Either.isRight(sqlite) && sqlite.right).toEqual(Either.isRight(pg) && pg.right)
    expect(Either.isRight(sqlite) && sqlite.right).toMatchObject({ id: 1, data: { a: "\u0000" } })
    expect(Either.isLeft(decode({ id: 1 }))).toBe(true)
    expect(Schema.decodeUnknownSync(Tables.Bool)(1)).toBe(true)
    expect(Schema.decodeUnknownSync(Tables.Num)("5000000000")).toBe(5_000_000_000)
  })
})
