/**
 * The pause state and `agent_runs.resume_submission` under guardrails and a redaction policy, on both dialects,
 * with and without encryption keys. While paused, the only place a raw value the guardrails mapped may be in
 * clear is the pause state's own mapping (and with keys the whole pause state is ciphertext). While the resumed
 * segment runs, the stored submission holds no raw mapped value and nothing the redaction policy covers (with
 * keys it is ciphertext); after the run it is cleared, and so is the pause state. The SQLite file's bytes
 * (free pages included) are searched too.
 */
import { SqlClient } from "@effect/sql"
import { it } from "@effect/vitest"
import { Encryption, SqlRecorder } from "@sextant/recorder"
import { Agent, Guardrails, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Option, Schema } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { describe, expect } from "vitest"
import { dialects } from "./support.js"

const raw = {
  email: "jane.doe@example.com",
  secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  client: "client.person@example.org",
  password: "hunter2-pw-value-91"
}
const input = `Pay from ${raw.email} with aws_secret_access_key=${raw.secretKey}.`

const hunt = (where: string, text: string) =>
  Object.entries(raw).filter(([, v]) => text.includes(v)).map(([name]) => `${where}: ${name}`)

const key1 = Buffer.alloc(32, 7).toString("base64")

const pay = Tool.make("pay", {
  description: "Client side",
  parameters: Schema.Struct({ amount: Schema.Number }),
  target: "client"
})

interface Snapshot {
  readonly submission: string | null
  readonly pauseState: string | null
}

/** The run's row as stored (Postgres JSONB as its text). */
const runRow = (sql: SqlClient.SqlClient, runId: string) =>
  Effect.map(
    sql<{ s: string | null; p: string | null }>`SELECT ${
      sql.onDialectOrElse({
        pg: () => sql`resume_submission::text AS s, pause_state::text AS p`,
        orElse: () => sql`resume_submission AS s, pause_state AS p`
      })
    } FROM agent_runs WHERE id = ${runId}`,
    (rows): Snapshot => ({ submission: rows[0]?.s ?? null, pauseState: rows[0]?.p ?? null })
  )

/** Every row of every table, as JSON text per table. */
const allTables = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const names = yield* sql.onDialectOrElse({
      pg: () =>
        Effect.map(
          sql<{ n: string }>`SELECT table_name AS n FROM information_schema.tables WHERE table_schema = 'public'`,
          (rows) => rows.map((r) => r.n)
        ),
      orElse: () =>
        Effect.map(
          sql<{ n: string }>`SELECT name AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
          (rows) => rows.map((r) => r.n)
        )
    })
    const out: Record<string, string> = {}
    for (const name of names) out[name] = JSON.stringify(yield* sql.unsafe(`SELECT * FROM ${name}`))
    return out
  })

const scenario = (url: string, encrypted: boolean) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ring = Option.getOrUndefined(yield* Encryption.current)
    expect(ring !== undefined).toBe(encrypted)
    let inflight: Snapshot | undefined
    // A server tool the model calls after the client's result: it sees the row while the resumed segment runs.
    const peek = Tool.make("peek", {
      description: "Reads the run's row",
      parameters: Schema.Struct({ runId: Schema.String }),
      handler: ({ runId }) => Effect.map(runRow(sql, runId), (row) => (inflight = row, { ok: true }))
    })
    const agent = yield* Agent.make({
      name: "payer",
      instructions: "Pay.",
      tools: [pay, peek],
      guardrails: [Guardrails.PII(), Guardrails.SecretDetection({ action: "redact" })],
      redaction: { rules: [{ keys: ["password"], action: "mask" }] }
    })
    const paused = yield* agent.run(input).pipe(
      Effect.provide(ScriptedModel.layer([{ toolCalls: [{ name: "pay", arguments: { amount: 3 } }] }]))
    )
    expect(paused.status).toBe("waiting_client_tool")
    const runId = paused.runId
    const atPause = yield* allTables(sql)
    const pauseRow = yield* runRow(sql, runId)
    yield* agent.submitToolResults(runId, [{
      callId: paused.pendingCalls![0]!.id,
      result: { email: raw.client, password: raw.password }
    }]).pipe(
      Effect.provide(ScriptedModel.layer([
        { toolCalls: [{ name: "peek", arguments: { runId } }] },
        { text: "paid" }
      ]))
    )
    const atEnd = yield* allTables(sql)
    const endRow = yield* runRow(sql, runId)
    const open = (text: string) => (ring === undefined ? text : ring.open(text))

    // While paused: with keys the pause state is ciphertext and nothing raw is in clear anywhere; without keys
    // a raw mapped value is only in the pause state's own mapping.
    expect(pauseRow.pauseState).not.toBeNull()
    if (encrypted) {
      expect(Encryption.isSealed(pauseRow.pauseState)).toBe(true)
      expect(Object.entries(atPause).flatMap(([t, text]) => hunt(`paused: table ${t}`, text))).toEqual([])
      expect(hunt("paused: pause state opened", open(pauseRow.pauseState!))).toEqual([
        "paused: pause state opened: email",
        "paused: pause state opened: secretKey"
      ])
    } else {
      const { agent_runs, ...others } = atPause
      expect(Object.entries(others).flatMap(([t, text]) => hunt(`paused: table ${t}`, text))).toEqual([])
      const state = JSON.parse(pauseRow.pauseState!) as Record<string, unknown>
      const { redactions, ...rest } = state
      expect(hunt("paused: mapping", JSON.stringify(redactions))).toHaveLength(2)
      expect(hunt("paused: pause state outside its mapping", JSON.stringify(rest))).toEqual([])
      const runsOutside = (JSON.parse(agent_runs!) as Array<Record<string, unknown>>).map((
        { pause_state: _state, ...r }
      ) => r)
      expect(hunt("paused: agent_runs outside pause_state", JSON.stringify(runsOutside))).toEqual([])
    }

    // While the resumed segment runs: the stored submission is sanitised (and sealed with keys).
    expect(inflight?.submission).toBeTypeOf("string")
    if (encrypted) expect(Encryption.isSealed(inflight!.submission)).toBe(true)
    const submission = open(inflight!.submission!)
    expect(hunt("running: resume_submission", submission)).toEqual([])
    expect(submission).toMatch(/<<EMAIL_\d+>>/)
    expect(submission).toContain("[redacted]")

    // After the run: both cleared; nothing raw in any table (nor, on SQLite, in the file's free pages).
    expect(endRow).toEqual({ submission: null, pauseState: null })
    const leaks = Object.entries(atEnd).flatMap(([t, text]) => hunt(`ended: table ${t}`, text))
    expect(leaks).toEqual([])
    if (url.startsWith("sqlite:")) {
      // The database file (secure_delete zeroes cleared values); the WAL's frames hold the page images written
      // while the run was paused until they are checkpointed and overwritten, so without keys only the file is
      // searched (with keys nothing plain was ever written).
      const file = url.slice("sqlite:".length)
      const files = encrypted ? [file, `${file}-wal`].filter(existsSync) : [file]
      expect(files.flatMap((f) => hunt(`ended: ${f}`, readFileSync(f).toString("latin1")))).toEqual([])
    }
  })

for (const dialect of dialects) {
  describe(`pause state and resume submission on ${dialect.name}`, () => {
    for (const encrypted of [false, true]) {
      it.scoped(
        encrypted ? "with encryption keys: ciphertext while paused and running, cleared after" : "without keys: " +
          "raw mapped values only in the pause state's mapping; the submission sanitised, then cleared",
        () =>
          Effect.gen(function*() {
            const url = yield* dialect.database
            const recorder = SqlRecorder.layerFromUrl(url).pipe(Layer.orDie)
            yield* scenario(url, encrypted).pipe(
              Effect.provide(
                encrypted
                  ? recorder.pipe(
                    Layer.provideMerge(Encryption.layer({ keys: { k1: key1 }, current: "k1" })),
                    Layer.orDie
                  )
                  : recorder
              )
            )
          }),
        { timeout: 60_000 }
      )
    }
  })
}
