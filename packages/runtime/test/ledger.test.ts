import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Logger, Option, Ref, Schema, Stream, TestClock } from "effect"
import {
  Agent,
  HookEvent,
  LanguageModel,
  MemoryRecorder,
  type ModelRequest,
  Recorder,
  RecorderError,
  RunLedger,
  type RunLedgerService,
  ScriptedModel,
  Tool
} from "../src/index.js"

/** `Recorder.memory` with its ledger changed by `wrap`. */
const withLedger = (wrap: (ledger: RunLedgerService) => RunLedgerService) =>
  Layer.map(Recorder.memory, (context) => Context.add(context, RunLedger, wrap(Context.get(context, RunLedger))))

const ledgerError = (operation: "ledger.heartbeat" | "ledger.isCancelRequested", runId: string) =>
  new RecorderError({ operation, runId, attempts: 3, reason: "transient", message: `${operation} timed out` })

const slowTool = Tool.make("slow", {
  description: "works for 35 seconds",
  parameters: Schema.Struct({}),
  handler: () => Effect.as(Effect.sleep("35 seconds"), "done")
})

/** A model that thinks for 25 seconds before answering `text`. */
const slowModel = Layer.succeed(LanguageModel, {
  provider: "slow",
  model: "slow-1",
  generate: (_: ModelRequest) =>
    Effect.as(Effect.sleep("25 seconds"), {
      text: "done",
      toolCalls: [],
      usage: { inputTokens: 1, outputTokens: 1 },
      finishReason: "stop"
    }),
  stream: () => Stream.empty
})

describe("heartbeat: a run refreshes its progress while a call is in flight", () => {
  it.effect("every 10 seconds (the default) during a 35 s tool call, and never once the run has ended", () => {
    const beats: Array<string> = []
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "h", instructions: "", tools: [slowTool] })
      const fiber = yield* Effect.fork(agent.run("go", { runId: "beating" }))
      yield* TestClock.adjust("35 seconds")
      const result = yield* Fiber.join(fiber)
      expect(result.status).toBe("success")
      expect(beats).toEqual(["beating", "beating", "beating"])
      yield* TestClock.adjust("1 minute")
      expect(beats).toHaveLength(3)
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([{ toolCalls: [{ name: "slow", arguments: {} }] }, { text: "ok" }]),
        withLedger((ledger) => ({
          ...ledger,
          heartbeat: (runId) => Effect.zipRight(Effect.sync(() => beats.push(runId)), ledger.heartbeat(runId))
        }))
      ))
    )
  })

  it.effect("at the configured interval during a model call", () =>
    Effect.gen(function*() {
      const beats = yield* Ref.make(0)
      const agent = yield* Agent.make({ name: "h", instructions: "", heartbeatInterval: "5 seconds" })
      const fiber = yield* Effect.fork(
        agent.run("go").pipe(
          Effect.provide(Layer.merge(
            slowModel,
            withLedger((ledger) => ({ ...ledger, heartbeat: () => Ref.update(beats, (n) => n + 1) }))
          ))
        )
      )
      yield* TestClock.adjust("25 seconds")
      expect((yield* Fiber.join(fiber)).status).toBe("success")
      expect(yield* Ref.get(beats)).toBe(5)
    }))

  it.effect("a failing heartbeat is logged with its count and never halts the run", () => {
    const logs: Array<{ message: string; failures: unknown }> = []
    const logger = Logger.make(({ annotations, message }) => {
      const failures = [...annotations].find(([key]) => key === "heartbeatFailures")?.[1]
      logs.push({ message: String(message), failures })
    })
    return Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "h", instructions: "", tools: [slowTool] })
      const fiber = yield* Effect.fork(agent.run("go", { runId: "failing" }))
      yield* TestClock.adjust("35 seconds")
      const result = yield* Fiber.join(fiber)
      expect(result.status).toBe("success")
      const warned = logs.filter((l) => l.message.includes("heartbeat"))
      expect(warned).toEqual([{ message: "heartbeat of run failing failed (1 failure(s) so far)", failures: 1 }])
    }).pipe(
      Effect.provide(Layer.mergeAll(
        ScriptedModel.layer([{ toolCalls: [{ name: "slow", arguments: {} }] }, { text: "ok" }]),
        withLedger((ledger) => ({
          ...ledger,
          heartbeat: (runId) => Effect.fail(ledgerError("ledger.heartbeat", runId))
        })),
        Logger.replace(Logger.defaultLogger, logger)
      ))
    )
  })
})

describe("a failed ledger call halts the run exactly as a failed write does", () => {
  for (
    const [failAt, expectedRequests, label] of [
      [1, 0, "before the first model call"],
      [2, 1, "before the first tool batch"]
    ] as const
  ) {
    it.effect(`isCancelRequested failing ${label} stops the run there with that RecorderError`, () =>
      Effect.gen(function*() {
        let checks = 0
        let executed = 0
        const tool = Tool.make("work", {
          description: "works",
          parameters: Schema.Struct({}),
          handler: () => {
            executed++
            return "ok"
          }
        })
        const agent = yield* Agent.make({ name: "l", instructions: "", tools: [tool] })
        const layer = Layer.merge(
          ScriptedModel.layer([{ toolCalls: [{ name: "work", arguments: {} }] }, { text: "ok" }]),
          withLedger((ledger) => ({
            ...ledger,
            isCancelRequested: (runId) =>
              ++checks >= failAt
                ? Effect.fail(ledgerError("ledger.isCancelRequested", runId))
                : ledger.isCancelRequested(runId)
          }))
        )
        const { events, exit, requests } = yield* Effect.gen(function*() {
          const exit = yield* Effect.exit(agent.run("go", { runId: "halted" }))
          const requests = yield* (yield* ScriptedModel.Requests).requests
          const events = yield* (yield* MemoryRecorder).events()
          return { exit, requests, events }
        }).pipe(Effect.provide(layer))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error).toBeInstanceOf(RecorderError)
        expect(error).toMatchObject({ operation: "ledger.isCancelRequested", runId: "halted" })
        expect(requests).toHaveLength(expectedRequests)
        expect(executed).toBe(0)
        expect(events.some((e) => HookEvent.eventType(e).startsWith("run.") && e._tag !== "RunStarted")).toBe(false)
      }))
  }
})

describe("claims are idempotent per submission", () => {
  it.effect("the memory ledger answers a retried claim of the same submission true, another submission false", () =>
    Effect.gen(function*() {
      const pick = Tool.make("pick", { description: "client", parameters: Schema.Struct({}), target: "client" })
      const agent = yield* Agent.make({ name: "c", instructions: "", tools: [pick] })
      const paused = yield* agent.run("go")
      const ledger = yield* RunLedger
      expect(yield* ledger.claim(paused.runId, "waiting_client_tool", { kind: "input", text: "a" }, "s1")).toBe(true)
      // The reply of that claim was lost and it is retried: it recognises its own win.
      expect(yield* ledger.claim(paused.runId, "waiting_client_tool", { kind: "input", text: "a" }, "s1")).toBe(true)
      expect(yield* ledger.claim(paused.runId, "waiting_client_tool", { kind: "input", text: "b" }, "s2")).toBe(false)
      expect(Option.map(yield* ledger.get(paused.runId), (r) => r.status)).toEqual(Option.some("running"))
    }).pipe(
      Effect.provide(
        Layer.merge(ScriptedModel.layer([{ toolCalls: [{ name: "pick", arguments: {} }] }]), Recorder.memory)
      )
    ))

  const ids: Array<string> = []
  it.live("each submit call claims with its own submission id", () =>
    Effect.gen(function*() {
      const pick = Tool.make("pick", { description: "client", parameters: Schema.Struct({}), target: "client" })
      const agent = yield* Agent.make({ name: "c", instructions: "", tools: [pick] })
      const paused = yield* agent.run("go")
      const callId = paused.pendingCalls![0]!.id
      const outcomes = yield* Effect.all(
        [1, 2].map(() => Effect.either(agent.submitToolResults(paused.runId, [{ callId, result: "x" }]))),
        { concurrency: "unbounded" }
      )
      expect(outcomes.filter((o) => o._tag === "Right")).toHaveLength(1)
      expect(ids).toHaveLength(2)
      expect(new Set(ids).size).toBe(2)
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ toolCalls: [{ name: "pick", arguments: {} }] }, { text: "ok" }]),
      withLedger((ledger) => ({
        ...ledger,
        // Reads answer late, as a database does, so both submitters see the run paused.
        get: (runId) => Effect.tap(ledger.get(runId), () => Effect.sleep("5 millis")),
        claim: (runId, expected, submission, submissionId) => {
          ids.push(submissionId)
          return ledger.claim(runId, expected, submission, submissionId)
        }
      }))
    ))))
})
