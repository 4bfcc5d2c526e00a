/**
 * A Postgres connection that stops answering (a dead network path: no reset, no error), reproduced with a real
 * TCP proxy. Postgres only: SQLite has no connection to lose. No timing assertion: the failures must arrive
 * before a generous deadline (3× the budget), and the other run's completion is checked by order, not time.
 */
import { describe, expect, it } from "@effect/vitest"
import { Agent, RecorderError, ScriptedModel, Tool } from "@sextant/runtime"
import { Duration, Effect, Exit, Layer, Schema } from "effect"
import { Database, SqlRecorder, Sweep } from "../src/index.js"
import { pgProxy, type Proxy } from "./proxy.js"
import { dialects, pgAdmin, recordedEvents, runRow } from "./support.js"

const postgres = dialects[1]!
/** The recorder's default budget (2 seconds): these tests run with the defaults. */
const BUDGET = Duration.seconds(2)
const DEADLINE = Duration.times(BUDGET, 3)

const id = (kind: string) => `${kind}-${Math.random().toString(36).slice(2, 10)}`

/** A one-tool run: the tool called is the run id's prefix (`arm-…` runs call `arm`, `wait-…` runs call `wait`). */
const script: ScriptedModel.ScriptStep = (request) =>
  request.messages.some((m) => m._tag === "tool")
    ? { text: "done", usage: { inputTokens: 2, outputTokens: 1 } }
    : { toolCalls: [{ name: request.runId.split("-")[0]!, arguments: { q: request.runId } }] }

const tool = (name: string, handler: () => Promise<void> | void) =>
  Tool.make(name, {
    description: name,
    parameters: Schema.Struct({ q: Schema.String }),
    handler: async ({ q }) => {
      await handler()
      return { q }
    }
  })

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

const EVENTS_TO_TOOL = ["run.started", "message.appended", "llm.started", "llm.completed", "message.appended"]

/** What a run's record holds, read past the proxy. */
const record = (url: string, runId: string) =>
  Effect.gen(function*() {
    return { events: yield* recordedEvents(runId), run: yield* runRow(runId) }
  }).pipe(Effect.provide(Database.layerFromUrl(url)))

const recorderError = (exit: Exit.Exit<unknown, unknown>): RecorderError => {
  expect(Exit.isFailure(exit)).toBe(true)
  const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit
  expect(error).toBeInstanceOf(RecorderError)
  return error as RecorderError
}

/**
 * Two runs through one recorder over the proxy: `arm-…` arms `trap` from its tool (so its next write is caught),
 * `wait-…` waits in its tool until the trap has caught a connection, then finishes while the other is stuck.
 */
const stuckAndFree = (proxy: Proxy, trap: (armId: string) => Parameters<Proxy["arm"]>[0]) =>
  Effect.gen(function*() {
    const armId = id("arm")
    const waitId = id("wait")
    const order: Array<string> = []
    const layer = Layer.merge(
      ScriptedModel.layer(Array.from({ length: 4 }, () => script)),
      SqlRecorder.layerFromUrl(proxy.url)
    )
    const [stuck, free] = yield* Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "silent",
        instructions: "",
        tools: [tool("arm", () => proxy.arm(trap(armId))), tool("wait", () => until(() => proxy.caught() > 0))]
      })
      const run = (runId: string) =>
        agent.run("go", { runId }).pipe(
          Effect.timeoutFail({
            duration: DEADLINE,
            onTimeout: () => new Error(`${runId}: no outcome within 3× budget`)
          }),
          Effect.exit,
          Effect.tap(() => Effect.sync(() => order.push(runId)))
        )
      return yield* Effect.all([run(armId), run(waitId)], { concurrency: 2 })
    }).pipe(Effect.provide(layer))
    return { armId, waitId, stuck, free, order }
  })

describe("postgres: a connection that goes silent", () => {
  for (const where of ["INSERT", "COMMIT"] as const) {
    it.scopedLive(
      `mid-${where}: the write fails within its budget, the run halts marked, another run goes on`,
      () =>
        Effect.gen(function*() {
          const url = yield* postgres.database
          const proxy = yield* pgProxy(url)
          const out = yield* stuckAndFree(proxy, (armId) => ({
            action: "hold",
            when: where === "INSERT"
              ? (statement) => statement.includes("INSERT INTO run_events") && statement.includes(armId)
              : (statement, transaction) => statement.includes("COMMIT") && transaction.includes(armId)
          }))
          const error = recorderError(out.stuck)
          expect(error).toMatchObject({
            operation: "record",
            runId: out.armId,
            eventType: "tool.completed",
            sequenceIndex: 6,
            reason: "transient"
          })
          // Every attempt was caught by a silent connection, and each was cut and retried on a fresh one.
          expect(error.attempts).toBeGreaterThanOrEqual(2)
          expect(proxy.caught()).toBeGreaterThanOrEqual(error.attempts)
          expect(error.message).toMatch(/did not answer/)
          // The other run finished while this one was still retrying, through the same recorder.
          expect(Exit.isSuccess(out.free) && out.free.value.status).toBe("success")
          expect(out.order).toEqual([out.waitId, out.armId])
          const stuck = yield* record(url, out.armId)
          expect(stuck.events.map((e) => e.type)).toEqual([...EVENTS_TO_TOOL, "tool.started"])
          expect(stuck.run).toMatchObject({ status: "error", failure_reason: "recorder", last_sequence_index: 5 })
          const free = yield* record(url, out.waitId)
          expect(free.events.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i))
          expect(free.run).toMatchObject({ status: "success" })
        }),
      { timeout: 30_000 }
    )
  }

  it.scopedLive(
    "the COMMIT's reply is lost and the budget spent: the committed event is not reported failed",
    () =>
      Effect.gen(function*() {
        const url = yield* postgres.database
        const proxy = yield* pgProxy(url)
        const runId = id("arm")
        const result = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({
            name: "lost",
            instructions: "",
            tools: [
              tool("arm", () =>
                proxy.arm({
                  action: "drop-reply",
                  times: 1,
                  when: (statement, transaction) => statement.includes("COMMIT") && transaction.includes(runId)
                }))
            ]
          })
          return yield* agent.run("go", { runId })
        }).pipe(
          // One attempt only: the durability check, not a retry, must find the committed event.
          Effect.provide(Layer.merge(
            ScriptedModel.layer([script, script]),
            SqlRecorder.layerFromUrl(proxy.url, { retry: { maxAttempts: 1 } })
          )),
          Effect.timeout(DEADLINE)
        )
        expect(result.status).toBe("success")
        expect(proxy.caught()).toBe(1)
        const { events, run } = yield* record(url, runId)
        expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i))
        expect(events[6]!.type).toBe("tool.completed")
        expect(run).toMatchObject({ status: "success", last_sequence_index: 11 })
      }),
    { timeout: 30_000 }
  )

  it.scopedLive(
    "a claim whose reply is lost: the only submitter still wins and the run continues",
    () =>
      Effect.gen(function*() {
        const url = yield* postgres.database
        const proxy = yield* pgProxy(url)
        const pick = Tool.make("pick", { description: "client", parameters: Schema.Struct({}), target: "client" })
        const agent = yield* Agent.make({ name: "claim", instructions: "", tools: [pick] })
        const paused = yield* agent.run("go").pipe(
          Effect.provide(Layer.merge(
            ScriptedModel.layer([{ toolCalls: [{ name: "pick", arguments: {} }] }]),
            SqlRecorder.layerFromUrl(url)
          ))
        )
        expect(paused.status).toBe("waiting_client_tool")
        proxy.arm({
          action: "drop-reply",
          times: 1,
          when: (statement) =>
            statement.includes("UPDATE agent_runs SET status = 'running', resume_submission") &&
            statement.includes(paused.runId)
        })
        const done = yield* agent.submitToolResults(paused.runId, [{ callId: paused.pendingCalls![0]!.id, result: 1 }])
          .pipe(
            Effect.provide(Layer.merge(
              ScriptedModel.layer([{ text: "picked" }]),
              SqlRecorder.layerFromUrl(proxy.url)
            )),
            Effect.timeout(DEADLINE)
          )
        expect(done).toMatchObject({ status: "success", answer: "picked" })
        expect(proxy.caught()).toBe(1)
        const { events, run } = yield* record(url, paused.runId)
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i))
        expect(events.map((e) => e.type)).toContain("run.resumed")
        expect(run).toMatchObject({ status: "success" })
      }),
    { timeout: 30_000 }
  )

  it.scopedLive(
    "a ledger read on a silent connection halts the run like a failed write; a sweep keeps the cause",
    () =>
      Effect.gen(function*() {
        const url = yield* postgres.database
        const proxy = yield* pgProxy(url)
        const runId = id("arm")
        const exit = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({
            name: "ledger",
            instructions: "",
            tools: [
              tool("arm", () =>
                proxy.arm({
                  action: "hold",
                  when: (statement) => statement.includes("SELECT cancel_requested") && statement.includes(runId)
                }))
            ]
          })
          return yield* Effect.exit(agent.run("go", { runId }))
        }).pipe(
          Effect.provide(Layer.merge(
            ScriptedModel.layer([script, script]),
            SqlRecorder.layerFromUrl(proxy.url)
          )),
          Effect.timeout(DEADLINE)
        )
        const error = recorderError(exit)
        expect(error).toMatchObject({ operation: "ledger.isCancelRequested", runId, reason: "transient" })
        expect(error.eventType).toBeUndefined()
        const swept = yield* Sweep.run({ staleRunningAfter: "0 millis", abandonedWaitingAfter: "1 hour" }).pipe(
          Effect.provide(Database.layerFromUrl(url))
        )
        expect(swept.interrupted).not.toContain(runId)
        const { events, run } = yield* record(url, runId)
        // Halted at the cancel check before the next model call. The check is no commit point: the tool's
        // completion and message were staged for the commit before the next model call, which never came, so the
        // record ends at the last commit point (docs/commit-points.md), as after a crash.
        expect(events.map((e) => e.type).slice(-2)).toEqual(["message.appended", "tool.started"])
        expect(run).toMatchObject({ status: "error", failure_reason: "recorder" })
        const admin = yield* pgAdmin(url)
        const [row] = yield* Effect.promise(() =>
          admin<{ error_message: string }>("SELECT error_message FROM agent_runs WHERE id = $1", [runId])
        )
        expect(row!.error_message).toContain("ledger.isCancelRequested")
      }),
    { timeout: 30_000 }
  )
})
