import { SqlClient, SqlError } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { HookEvent, Recorder, RecorderError } from "@sextant/runtime"
import { Effect, Exit } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { createTempDir, pgAdminUrl, pgDatabase } from "../../../test-support/databases.js"
import { Database, DatabaseUrlError, Migrations, MigrationsPending, SqlRecorder } from "../src/index.js"
import { dialects, recordedEvents, runRow } from "./support.js"

const failure = <E>(exit: Exit.Exit<unknown, E>): E | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

const base = (runId: string, sequenceIndex: number) => ({
  runId,
  sequenceIndex,
  iteration: 0,
  timestamp: 1_700_000_000_000 + sequenceIndex
})
const started = (runId: string): HookEvent.HookEvent => ({
  _tag: "RunStarted",
  ...base(runId, 0),
  agentName: "a",
  instructions: "",
  input: "hi",
  delegationLevel: 0,
  tools: []
})

describe("bad input is a clear typed error and writes nothing", () => {
  for (const url of ["mysql://localhost/db", "sqlite:", "file.db", "", "postgres://"]) {
    it.effect(`the database URL '${url}' is refused with the accepted forms`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.provide(Effect.void, SqlRecorder.layerFromUrl(url)))
        const error = failure(exit)
        expect(error).toBeInstanceOf(DatabaseUrlError)
        expect((error as DatabaseUrlError).message).toContain("sqlite::memory:")
        expect((error as DatabaseUrlError).message).toContain("postgres://")
      }))
  }

  it.scoped("a bad retry setting fails the layer with InvalidRetryPolicy naming the field", () =>
    Effect.gen(function*() {
      const url = yield* dialects[0]!.database
      for (const [retry, field] of [[{ maxAttempts: 0 }, "maxAttempts"], [{ jitter: 2 }, "jitter"]] as const) {
        const exit = yield* Effect.exit(Effect.provide(Effect.void, SqlRecorder.layerFromUrl(url, { retry })))
        expect(failure(exit)).toMatchObject({ _tag: "InvalidRetryPolicy", field })
      }
    }))

  it.effect("a password in a refused URL is not repeated", () =>
    Effect.sync(() => {
      expect(Database.redactUrl("postgres://u:secret@h/db")).toBe("postgres://u:***@h/db")
    }))

  it.effect("postgres: a database that does not exist: the message names server, port, database and cause", () =>
    Effect.gen(function*() {
      const url = new URL(pgAdminUrl)
      url.password = "hunter2-secret"
      url.pathname = "/sextant_no_such_database"
      const exit = yield* Effect.exit(Effect.provide(Effect.void, SqlRecorder.layerFromUrl(url.toString())))
      const error = failure(exit) as SqlError.SqlError
      expect(error).toBeInstanceOf(SqlError.SqlError)
      expect(error.message).toContain(`${url.hostname}:${url.port || "5432"}`)
      expect(error.message).toContain(`database "sextant_no_such_database"`)
      expect(error.message).toContain(`database "sextant_no_such_database" does not exist (3D000)`)
      expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.toContain("hunter2-secret")
    }))

  it.effect("postgres: a server that refuses the connection: the message names server and port and the cause", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.provide(Effect.void, Database.layerFromUrl("postgres://u:hunter2-secret@127.0.0.1:1/audit"))
      )
      const error = failure(exit) as SqlError.SqlError
      expect(error.message).toMatch(/^cannot connect to Postgres at 127\.0\.0\.1:1 \(database "audit", user "u"\)/)
      expect(error.message).toContain("ECONNREFUSED")
      expect(error.message).not.toContain("hunter2-secret")
    }))

  it("sextant-migrate: the package's bin migrates a database from a URL", async () => {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"))
    // The build compiles src/ into dist/ (tsconfig.build.json rootDir), so the bin is dist/bin/migrate.js.
    expect(pkg.bin).toEqual({ "sextant-migrate": "./dist/bin/migrate.js" })
    const source = fileURLToPath(new URL("../src/bin/migrate.ts", import.meta.url))
    expect(readFileSync(source, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true)
    const dir = createTempDir()
    try {
      const url = `sqlite:${join(dir.path, "m.db")}`
      const root = fileURLToPath(new URL("../../..", import.meta.url))
      const run = () =>
        execFileSync(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", source, url], {
          cwd: root,
          encoding: "utf8"
        })
      expect(run()).toContain(`${url}: up to date (migration ${Migrations.latest})`)
      const usage = spawnSync(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", source], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, DATABASE_URL: "" }
      })
      expect(usage.status).toBe(2)
      expect(usage.stderr).toContain("usage: sextant-migrate <database-url>")
    } finally {
      dir.remove()
    }
  }, 60_000)

  it.scopedLive("postgres: a recorder on an unmigrated database fails with MigrationsPending (how to migrate)", () =>
    Effect.gen(function*() {
      const url = yield* pgDatabase
      const exit = yield* Effect.exit(Effect.provide(Effect.void, SqlRecorder.layerFromUrl(url)))
      const error = failure(exit)
      expect(error).toBeInstanceOf(MigrationsPending)
      expect(error).toMatchObject({ applied: 0, latest: Migrations.latest })
      expect((error as MigrationsPending).message).toContain("npx sextant migrate --database-url <database-url>")
      const tables = yield* Effect.provide(
        Effect.flatMap(
          SqlClient.SqlClient,
          (sql) => sql<{ t: string | null }>`SELECT to_regclass('agent_runs')::text AS t`
        ),
        Database.layerFromUrl(url)
      )
      expect(tables).toEqual([{ t: null }])
    }))

  for (const dialect of dialects) {
    it.scopedLive(`${dialect.name}: a payload that cannot be serialised fails and writes no row`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const circular: Record<string, unknown> = { a: 1 }
        circular.self = circular
        const out = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          yield* recorder.record(started("bad-json"))
          const bigint = yield* Effect.exit(recorder.record({
            _tag: "ToolCallStarted",
            ...base("bad-json", 1),
            correlationId: "call-1",
            toolName: "t",
            target: "server",
            arguments: { n: 10n } as never
          }))
          const cycle = yield* Effect.exit(recorder.record({
            _tag: "MessageAppended",
            ...base("bad-json", 1),
            orderIndex: 0,
            message: {
              _tag: "assistant",
              content: "",
              toolCalls: [{ id: "x", name: "t", arguments: circular as never }]
            }
          }))
          const sql = yield* SqlClient.SqlClient
          const tools = yield* sql`SELECT id FROM tool_calls`
          const traces = yield* sql`SELECT id FROM react_traces`
          const events = yield* recordedEvents("bad-json")
          return { bigint, cycle, tools, traces, events, run: yield* runRow("bad-json") }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        for (const exit of [out.bigint, out.cycle]) {
          const error = failure(exit)
          expect(error).toBeInstanceOf(RecorderError)
          expect(error).toMatchObject({ reason: "serialization", runId: "bad-json", sequenceIndex: 1, attempts: 0 })
        }
        expect((failure(out.bigint) as RecorderError).message).toMatch(/bigint/)
        expect((failure(out.cycle) as RecorderError).message).toMatch(/circular/i)
        expect(out.tools).toEqual([])
        expect(out.traces).toEqual([])
        expect(out.events).toEqual([{ seq: 0, type: "run.started" }])
        expect(out.run).toMatchObject({ status: "error", failure_reason: "recorder", last_sequence_index: 0 })
      }))

    it.scopedLive(`${dialect.name}: status changes are compare-and-swap; a replay is a no-op`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const completed = (seq: number): HookEvent.HookEvent => ({
          _tag: "RunCompleted",
          ...base("cas", seq),
          status: "success",
          iterations: 0,
          usage: { inputTokens: 0, outputTokens: 0 }
        })
        const out = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          yield* recorder.record(started("cas"))
          // The same event again (as after a commit whose reply was lost): already durable, nothing doubles.
          yield* recorder.record(started("cas"))
          const gap = yield* Effect.exit(recorder.record(completed(5)))
          yield* recorder.record(completed(1))
          const twice = yield* Effect.exit(recorder.record({ ...completed(2), timestamp: 1 }))
          const other = yield* Effect.exit(recorder.record({ ...started("cas"), timestamp: 5 }))
          return { gap, twice, other, events: yield* recordedEvents("cas"), run: yield* runRow("cas") }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(failure(out.gap)).toMatchObject({ reason: "conflict", attempts: 1 })
        expect((failure(out.gap) as RecorderError).message).toContain("last recorded event is #0, expected #4")
        expect(failure(out.twice)).toMatchObject({ reason: "conflict" })
        expect((failure(out.twice) as RecorderError).message).toContain("the run is 'success', expected 'running'")
        expect((failure(out.other) as RecorderError).message).toContain(
          "a run with this id or idempotency key already exists"
        )
        expect(out.events).toEqual([{ seq: 0, type: "run.started" }, { seq: 1, type: "run.completed" }])
        expect(out.run).toMatchObject({ status: "success", last_sequence_index: 1 })
      }))
  }
})
