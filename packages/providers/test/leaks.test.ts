/**
 * The API key never leaves a provider, on any failure path of any wire format: not in the `ModelError`
 * (message, cause, stack), the run's result or streamed events, the log, or any row of the six tables the
 * SQL recorder writes on a real SQLite file. Every vendor reply below also echoes the key where a vendor
 * could (error bodies, a broken stream's data), so both the scrubbing and the messages built by the
 * provider itself are exercised. Each message stays short and says what went wrong.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Database, SqlRecorder } from "@sextant/recorder"
import { Agent, LanguageModel, type ModelError, type ModelRequest, StreamEvent } from "@sextant/runtime"
import { Cause, Chunk, Effect, HashMap, Layer, Logger, Stream } from "effect"
import { sqliteDatabase } from "../../../test-support/databases.js"
import { MAX_ERROR_MESSAGE } from "../src/internal/seal.js"
import { fakeServer, type Reply } from "./fakeServer.js"
import { INPUT, timeTool, weatherTool } from "./support.js"
import { API_KEY, type Wire, wires } from "./wires.js"

/** Parts of the key: a message cut in the middle of it must not leak the rest either. */
const KEY_PARTS = [API_KEY, API_KEY.slice(-12), API_KEY.slice(0, 12)]
const retry = { baseDelay: "1 millis", maxAttempts: 2 } as const
const TABLES = ["agent_runs", "react_traces", "tool_calls", "llm_interactions", "token_usage", "run_events"]

interface Path {
  readonly name: string
  readonly stream: boolean
  /** What the server answers, attempt after attempt (enough for every retry). */
  readonly replies: (wire: Wire) => ReadonlyArray<Reply>
  /** What the error message must say. */
  readonly says: RegExp
  readonly reason: ModelError["reason"]
}

const twice = (reply: Reply): ReadonlyArray<Reply> => [reply, reply]
const streamOf = (wire: Wire) => (wire.textTurn(true) as Extract<Reply, { sse: unknown }>).sse

const paths: ReadonlyArray<Path> = [
  {
    name: "a 200 whose JSON body is truncated",
    stream: false,
    replies: () => [{ status: 200, headers: { "content-type": "application/json" }, text: "{\"id\": \"x\", \"outp" }],
    says: /malformed response: the body of the HTTP 200 response is not JSON: "\{\\"id\\": \\"x\\", \\"outp"/,
    reason: "malformed"
  },
  {
    name: "a 200 whose body is not JSON (and echoes the key)",
    stream: false,
    replies: () => [{ status: 200, text: `<html>proxy error for key ${API_KEY}</html>` }],
    says: /the body of the HTTP 200 response is not JSON: "<html>proxy error for key \[redacted\]<\/html>"/,
    reason: "malformed"
  },
  {
    name: "a 400",
    stream: false,
    replies: (wire) => [{ status: 400, json: wire.errorJson(`bad request from ${API_KEY}`) }],
    says: /HTTP 400: bad request from \[redacted\]$/,
    reason: "request"
  },
  {
    name: "a 401",
    stream: false,
    replies: (wire) => [{ status: 401, json: wire.errorJson(`Incorrect API key provided: ${API_KEY}`) }],
    says: /HTTP 401: Incorrect API key provided: \[redacted\]$/,
    reason: "auth"
  },
  {
    name: "a 429 on every attempt",
    stream: false,
    replies: (wire) =>
      twice({ status: 429, headers: { "retry-after-ms": "1" }, json: wire.errorJson(`slow down ${API_KEY}`) }),
    says: /HTTP 429: slow down \[redacted\] \(after 2 attempts\)/,
    reason: "rate_limit"
  },
  {
    name: "a 500 on every attempt",
    stream: false,
    replies: (wire) => twice({ status: 500, json: wire.errorJson(`internal error near ${API_KEY}`) }),
    says: /HTTP 500: internal error near \[redacted\] \(after 2 attempts\)/,
    reason: "server"
  },
  {
    name: "a connection reset on every attempt",
    stream: false,
    replies: () => twice({ drop: true }),
    says: /connection failed after 2 attempts: fetch failed/,
    reason: "transport"
  },
  {
    name: "a connection reset in the middle of a 200 body",
    stream: false,
    replies: (wire) => [{ resetMidBody: true, json: (wire.textTurn(false) as { json: unknown }).json }],
    says: /connection failed: the connection broke while the response body was read/,
    reason: "transport"
  },
  {
    name: "a stream cut mid-way",
    stream: true,
    replies: (wire) => [{ sse: streamOf(wire).slice(0, 3), cut: true }],
    says: /connection failed: the connection broke while the response streamed/,
    reason: "transport"
  },
  {
    name: "a stream whose events are not JSON",
    stream: true,
    replies: () => [{ sse: [{ data: `{"type": "message_start", "oops ${API_KEY}` }, { data: "[[[" }] }],
    says: /malformed response: /,
    reason: "malformed"
  }
]

const request: ModelRequest = {
  runId: "run-direct",
  iteration: 1,
  system: "",
  messages: [{ _tag: "user", content: "hi" }],
  tools: [],
  reportRetry: () => Effect.void
}

/** Every log line (with its cause) written while `effect` runs. */
const capturingLogs = <A, E, R>(effect: Effect.Effect<A, E, R>, into: Array<string>) =>
  Effect.provide(
    effect,
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, cause, message }) => {
        into.push(
          `${JSON.stringify(message)} ${Cause.pretty(cause)} ${JSON.stringify([...HashMap.toEntries(annotations)])}`
        )
      })
    )
  )

const expectNoKey = (what: string, text: string) => {
  for (const part of KEY_PARTS) expect(text, `${what} holds the key`).not.toContain(part)
}

describe.each(wires)("$name: the API key on every failure path", (wire) => {
  for (const path of paths) {
    it.scopedLive(path.name, () =>
      Effect.gen(function*() {
        const logs: Array<string> = []

        // The error as the provider returns it.
        const direct = yield* fakeServer(...path.replies(wire))
        const model = yield* Effect.provide(LanguageModel, wire.layer(direct.url, retry))
        const error = yield* capturingLogs(
          path.stream ? Stream.runDrain(model.stream(request)).pipe(Effect.flip) : Effect.flip(model.generate(request)),
          logs
        )
        expect(error._tag).toBe("ModelError")
        const modelError = error as ModelError
        expect(modelError.reason).toBe(path.reason)
        expect(modelError.message).toMatch(path.says)
        expect(modelError.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE + 40)
        expectNoKey("the ModelError", JSON.stringify(modelError))
        expectNoKey("its message", modelError.message)
        expectNoKey("its cause", String(modelError.cause))
        expectNoKey("its stack", String(modelError.stack))
        expect(wire.keyOf(direct.received[0]!.headers)).toBe(API_KEY) // the key was really sent

        // The same failure inside a run recorded by the SQL recorder on a SQLite file.
        const served = yield* fakeServer(...path.replies(wire))
        const url = yield* sqliteDatabase
        const { outcome, rows } = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({
            name: "travel",
            instructions: "Use tools.",
            tools: [weatherTool, timeTool]
          })
          const outcome = path.stream
            ? Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream(INPUT, { runId: "run-leak" })))
              .filter((e) => !StreamEvent.isDelta(e))
            : yield* agent.run(INPUT, { runId: "run-leak" })
          const sql = yield* SqlClient.SqlClient
          const all = yield* Effect.forEach(TABLES, (t) => sql.unsafe<Record<string, unknown>>(`SELECT * FROM ${t}`))
          return { outcome, rows: Object.fromEntries(TABLES.map((t, i) => [t, all[i]!])) }
        }).pipe(
          Effect.provide(
            Layer.mergeAll(
              wire.layer(served.url, retry),
              SqlRecorder.layer().pipe(Layer.provideMerge(Database.layerFromUrl(url)))
            )
          ),
          (effect) => capturingLogs(effect, logs)
        )

        const run = rows.agent_runs![0]!
        expect(run.status).toBe("error")
        expect(String(run.error_message)).toMatch(path.says)
        const types = rows.run_events!.map((r) => r.event_type)
        expect(types.slice(-2)).toEqual(["llm.failed", "run.failed"])
        expect(rows.llm_interactions!.map((r) => r.status)).toEqual(["failed"])
        expect(String(rows.llm_interactions![0]!.error_message)).toMatch(path.says)
        for (const table of TABLES) expectNoKey(`table ${table}`, JSON.stringify(rows[table]))
        expectNoKey(path.stream ? "the streamed events" : "the RunResult", JSON.stringify(outcome))
        if (!path.stream) expect((outcome as { error?: { message: string } }).error?.message).toMatch(path.says)
        expectNoKey("the log", logs.join("\n"))
      }))
  }
})
