import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import { describe, expect, it } from "@effect/vitest"
import {
  Agent,
  type HookEvent,
  Lifecycle,
  Recorder,
  RecorderError,
  RunLedger,
  ScriptedModel,
  Tool
} from "@sextant/runtime"
import { Effect, Either, Exit, Layer, Option, Schema } from "effect"
import { pgDatabase, sqliteDatabase } from "../../../test-support/databases.js"
import { Database, Migrations, SqlRecorder, Sweep, Tables } from "../src/index.js"
import init from "../src/internal/migrations/0001_init.js"
import resume from "../src/internal/migrations/0002_resume.js"
import { plan } from "../src/internal/plan.js"
import { transact } from "../src/internal/write.js"
import { dialects, pgAdmin, readAll, recordedEvents } from "./support.js"

const T0 = 1_700_000_000_000
const base = (runId: string, sequenceIndex: number) => ({
  runId,
  sequenceIndex,
  iteration: 1,
  timestamp: T0 + sequenceIndex
})
const started = (runId: string): HookEvent.HookEvent => ({
  _tag: "RunStarted",
  ...base(runId, 0),
  iteration: 0,
  agentName: "a",
  instructions: "",
  input: "hi",
  delegationLevel: 0,
  tools: []
})
const paused = (runId: string, seq: number): HookEvent.HookEvent => ({
  _tag: "RunPaused",
  ...base(runId, seq),
  status: "waiting_client_tool",
  pendingCalls: [],
  state: { resume: "here" }
})
const message = (runId: string, seq: number): HookEvent.HookEvent => ({
  _tag: "MessageAppended",
  ...base(runId, seq),
  orderIndex: seq,
  message: { _tag: "user", content: "more" }
})
const completed = (runId: string, seq: number, costUsd: number): HookEvent.HookEvent => ({
  _tag: "LlmCallCompleted",
  ...base(runId, seq),
  correlationId: `${runId}-llm-${seq}`,
  provider: "p",
  model: "m",
  text: "",
  toolCalls: [],
  finishReason: "stop",
  usage: { inputTokens: 1, outputTokens: 1, costUsd },
  durationMs: 1,
  request: {}
})

const failure = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

const onRecorder = <A, E>(url: string, effect: Effect.Effect<A, E, Recorder | RunLedger | SqlClient.SqlClient>) =>
  effect.pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))

for (const dialect of dialects) {
  describe(`${dialect.name}: the lifecycle's table guards every write`, () => {
    it.scoped("an in-segment event on a paused run is a conflict, alone or in a shared batch", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const out = yield* onRecorder(
          url,
          Effect.gen(function*() {
            const recorder = yield* Recorder
            for (const e of [started("p"), paused("p", 1), started("q")]) yield* recorder.record(e)
            const alone = yield* Effect.exit(recorder.record(message("p", 2)))
            // The batched progress UPDATE carries the same guard: the batch does not move the paused run.
            const sql = yield* SqlClient.SqlClient
            const batch = yield* Effect.either(transact(sql, [plan(sql, message("p", 2)), plan(sql, message("q", 1))]))
            yield* recorder.record(message("q", 1))
            return { alone, batch, p: yield* recordedEvents("p"), q: yield* recordedEvents("q") }
          })
        )
        expect(failure(out.alone)).toMatchObject({ reason: "conflict", eventType: "message.appended" })
        expect((failure(out.alone) as RecorderError).message).toContain(
          "the run is 'waiting_client_tool', expected 'running'"
        )
        expect(Either.isLeft(out.batch) && out.batch.left.message).toMatch(/did not move/)
        expect(out.p.map((e) => e.type)).toEqual(["run.started", "run.paused"])
        expect(out.q.map((e) => e.type)).toEqual(["run.started", "message.appended"])
      }))

    it.scopedLive("a write after the sweep ended the run says the sweep ended it", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const out = yield* onRecorder(
          url,
          Effect.gen(function*() {
            const recorder = yield* Recorder
            yield* recorder.record(started("swept"))
            const swept = yield* Sweep.run({ staleRunningAfter: "0 millis", abandonedWaitingAfter: "1 hour" })
            const late = yield* Effect.exit(recorder.record(message("swept", 1)))
            return { swept, late, rows: yield* readAll("swept") }
          })
        )
        expect(out.swept.interrupted).toEqual(["swept"])
        const error = failure(out.late) as RecorderError
        expect(error).toMatchObject({ reason: "conflict", runId: "swept", sequenceIndex: 1 })
        expect(error.message).toContain("the run was ended by the sweep")
        expect(error.message).toContain("stale_running")
        expect(out.rows.agent_runs[0]).toMatchObject({
          status: "error",
          failure_reason: "stale_running",
          error_tag: "RunInterrupted",
          pause_state: null
        })
        expect(out.rows.agent_runs[0]!.error_message).toMatch(/^swept by the stale-run sweep/)
      }))

    it.scopedLive("heartbeat refreshes a running run's progress and leaves a paused one alone", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const out = yield* onRecorder(
          url,
          Effect.gen(function*() {
            const recorder = yield* Recorder
            const ledger = yield* RunLedger
            for (const e of [started("live"), started("idle"), paused("idle", 1)]) yield* recorder.record(e)
            yield* ledger.heartbeat("live")
            yield* ledger.heartbeat("idle")
            yield* ledger.heartbeat("no-such-run")
            const rows = (yield* readAll()).agent_runs
            return Object.fromEntries(rows.map((r) => [r.id, r.last_progress_at]))
          })
        )
        expect(out.live! > new Date(T0 + 1000).toISOString()).toBe(true)
        expect(out.idle).toBe(new Date(T0 + 1).toISOString())
      }))

    it.scoped("a claim is idempotent per submission: retried with its id it wins again, another id loses", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const out = yield* onRecorder(
          url,
          Effect.gen(function*() {
            const recorder = yield* Recorder
            const ledger = yield* RunLedger
            for (const e of [started("c"), paused("c", 1)]) yield* recorder.record(e)
            const first = yield* ledger.claim("c", "waiting_client_tool", { results: [1] }, "sub-1")
            const retried = yield* ledger.claim("c", "waiting_client_tool", { results: [1] }, "sub-1")
            const other = yield* ledger.claim("c", "waiting_client_tool", { results: [2] }, "sub-2")
            return { first, retried, other, row: (yield* readAll("c")).agent_runs[0]! }
          })
        )
        expect(out).toMatchObject({ first: true, retried: true, other: false })
        expect(out.row).toMatchObject({
          status: "running",
          resume_submission: { results: [1] },
          resume_submission_id: "sub-1"
        })
      }))

    it.scopedLive("a ledger statement that fails halts the run marked error/recorder, and a sweep keeps that cause", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        // Another client breaks the cancel flag's column while the tool runs: the next cancel check fails for good.
        const breakColumn = yield* columnBreaker(dialect.name, url)
        const flaky = Tool.make("flaky", {
          description: "breaks the ledger",
          parameters: Schema.Struct({}),
          handler: () => breakColumn()
        })
        const out = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "ledger", instructions: "", tools: [flaky] })
          const exit = yield* Effect.exit(agent.run("go", { runId: "halted" }))
          const swept = yield* Sweep.run({ staleRunningAfter: "0 millis", abandonedWaitingAfter: "1 hour" })
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql<{ status: string; failure_reason: string; error_message: string }>`
            SELECT status, failure_reason, error_message FROM agent_runs WHERE id = 'halted'`
          return { exit, swept, row: rows[0]!, events: yield* recordedEvents("halted") }
        }).pipe(Effect.provide(Layer.merge(
          ScriptedModel.layer([{ toolCalls: [{ name: "flaky", arguments: {} }] }, { text: "never" }]),
          SqlRecorder.layerFromUrl(url)
        )))
        const error = failure(out.exit) as RecorderError
        expect(error).toBeInstanceOf(RecorderError)
        expect(error).toMatchObject({ operation: "ledger.isCancelRequested", runId: "halted", reason: "permanent" })
        expect(out.swept).toEqual({ interrupted: [], abandoned: [] })
        expect(out.row).toMatchObject({ status: "error", failure_reason: "recorder" })
        expect(out.row.error_message).toContain("ledger.isCancelRequested of run halted failed")
        // The record ends at the last commit point (the tool's start): what the tool's end staged waited for the
        // commit before the next model call, which the failed check stopped (docs/commit-points.md).
        expect(out.events.at(-1)?.type).toBe("tool.started")
      }))

    it.scoped("costs are summed as integer nano-dollars: the totals equal the lifecycle's, batched or not", () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const costs = [0.1, 0.2, 0.000001, 0.7]
        const runs = ["cost-a", "cost-b", "cost-c"]
        const out = yield* onRecorder(
          url,
          Effect.gen(function*() {
            const recorder = yield* Recorder
            // Concurrent runs share batches (the batched UPDATE); each run's events go one after another.
            yield* Effect.forEach(runs, (runId) =>
              Effect.gen(function*() {
                yield* recorder.record(started(runId))
                for (const [i, cost] of costs.entries()) yield* recorder.record(completed(runId, i + 1, cost))
              }), { concurrency: "unbounded" })
            const ledger = yield* RunLedger
            const stored = yield* Effect.forEach(runs, (r) => Effect.map(ledger.get(r), Option.getOrThrow))
            return { rows: yield* readAll(), stored }
          })
        )
        const expected = costs.reduce(
          (t, costUsd) => Lifecycle.addUsage(t, { inputTokens: 1, outputTokens: 1, costUsd }),
          Lifecycle.emptyTotals
        )
        expect(expected.usage.costUsd).toBe(1.000001)
        for (const run of out.rows.agent_runs) {
          expect(run).toMatchObject({ total_cost_usd: 1.000001, total_cost_nanos: 1_000_001_000, model_call_count: 4 })
        }
        for (const stored of out.stored) expect(stored.usage).toEqual(expected.usage)
        expect(out.rows.token_usage.map((u) => u.cost_nanos).sort()).toEqual(
          runs.flatMap(() => costs.map(Lifecycle.toNanos)).sort()
        )
        expect(out.rows.llm_interactions.every((i) => i.cost_nanos === Lifecycle.toNanos(i.cost_usd!))).toBe(true)
      }))
  })
}

/** A way to make `cancel_requested` unreadable from another connection (as a broken schema or grant would). */
const columnBreaker = (dialect: "sqlite" | "postgres", url: string) =>
  Effect.gen(function*() {
    const statement = "ALTER TABLE agent_runs DROP COLUMN cancel_requested"
    if (dialect === "postgres") {
      const admin = yield* pgAdmin(url)
      return () => admin(statement).then(() => undefined)
    }
    const other = yield* SqliteClient.make({ filename: url.slice("sqlite:".length) }).pipe(
      Effect.provide(Reactivity.layer)
    )
    return () => Effect.runPromise(Effect.asVoid(other.unsafe(statement)))
  })

describe("migration 0003 backfills the nano-dollar columns from the REAL ones", () => {
  const partial = Migrator.make({})({
    loader: Migrator.fromRecord({ "0001_init": init, "0002_resume": resume }),
    table: Migrations.table
  })
  const seedAndMigrate = Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* partial
    const at = new Date(T0).toISOString()
    yield* sql`INSERT INTO agent_runs (id, agent_name, status, input, instructions, total_cost_usd, created_at,
      updated_at, last_progress_at) VALUES ('old', 'a', 'success', '', '', ${0.1 + 0.2}, ${at}, ${at}, ${at})`
    yield* sql`INSERT INTO token_usage (id, agent_run_id, llm_interaction_id, agent_name, iteration, provider, model,
      input_tokens, output_tokens, cost_usd, created_at) VALUES ('u', 'old', 'u', 'a', 1, 'p', 'm', 1, 1, 0.1, ${at})`
    yield* Migrations.run
    const rows = yield* sql`SELECT * FROM agent_runs`
    const usage = yield* sql`SELECT * FROM token_usage`
    return {
      run: Either.getOrThrow(Tables.agentRuns.decode(rows))[0]!,
      usage: Either.getOrThrow(Tables.tokenUsage.decode(usage))[0]!
    }
  })
  const check = (out: Effect.Effect.Success<typeof seedAndMigrate>) => {
    expect(out.run).toMatchObject({ total_cost_nanos: 300_000_000, total_cost_usd: 0.3 })
    expect(out.usage).toMatchObject({ cost_nanos: 100_000_000, cost_usd: 0.1 })
  }

  it.scoped("sqlite", () =>
    Effect.gen(function*() {
      const url = yield* sqliteDatabase
      const client = yield* SqliteClient.make({ filename: url.slice("sqlite:".length) }).pipe(
        Effect.provide(Reactivity.layer)
      )
      check(yield* Effect.provideService(seedAndMigrate, SqlClient.SqlClient, client))
    }))

  it.scoped("postgres", () =>
    Effect.gen(function*() {
      const url = yield* pgDatabase
      check(yield* seedAndMigrate.pipe(Effect.provide(Database.layerFromUrl(url))))
    }))
})
