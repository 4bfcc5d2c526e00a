/**
 * Runs through the agent loop (a `ScriptedModel` stands in for the vendor): the sequences the runtime really
 * emits, on every terminal path, across pauses and resumes, cancellation and idempotency keys. Every event
 * the backend accepted is folded; the backend must hold what the fold says and the runtime must report the
 * fold's totals.
 */
import { describe, expect } from "@effect/vitest"
import { Agent, type HookEvent, RunLedger, Runs, ScriptedModel, Tool } from "@sextant/runtime"
import { Chunk, Deferred, Effect, Either, Fiber, Layer, Option, Schema, Stream } from "effect"
import { type Capabilities, checkEmitted, makeChecker, tap, type Test, uid } from "./harness.js"

const weather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})
const pick = Tool.make("pick_file", {
  description: "Let the user pick a file (runs in the client)",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})
const remove = Tool.make("delete_file", {
  description: "Delete a file",
  parameters: Schema.Struct({ path: Schema.String }),
  handler: ({ path }) => ({ deleted: path })
})

const callWeather: ScriptedModel.ScriptedTurn = {
  toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
  usage: { inputTokens: 10, outputTokens: 5 }
}
const answer = (text: string): ScriptedModel.ScriptedTurn => ({ text, usage: { inputTokens: 20, outputTokens: 4 } })

/** Runs `program` with a scripted model and the backend's recorder tapped into `log`. */
const withModel = <A, E, R>(
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  log: Array<HookEvent.HookEvent>,
  program: Effect.Effect<A, E, R>
) => Effect.provide(program, Layer.merge(ScriptedModel.layer(script), tap(log)))

const agentOf = (config: Omit<Agent.AgentConfig, "name" | "instructions">) =>
  Agent.make({ name: "contract-loop", instructions: "Use the tools.", ...config })

/** The loop's contract. */
export const loopTests = (test: Test, caps: Capabilities): void => {
  describe("runs through the agent loop", () => {
    test("success with a tool call: costs of priced calls sum exactly", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        const result = yield* withModel(
          [
            { ...callWeather, usage: { inputTokens: 100, outputTokens: 20, costUsd: 0.1 } },
            { text: "21 °C", usage: { inputTokens: 50, outputTokens: 10, costUsd: 0.2 } }
          ],
          log,
          agent.run("weather in Lisbon?", { runId: uid("loop"), tenantId: "acme", metadata: { ticket: 7 } })
        )
        expect(result.status).toBe("success")
        expect(result.usage.costUsd, "the run's cost in its result (0.1 + 0.2)").toBe(0.3)
        yield* checkEmitted(caps, makeChecker(), result.runId, log, { result })
      }))

    test("a model that reports no usage: no counts are made up, no billing row, the run's cost unknown", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        const result = yield* withModel(
          [{ ...callWeather, usage: { inputTokens: 100, outputTokens: 20, costUsd: 0.1 } }, { text: "21 °C" }],
          log,
          agent.run("weather in Lisbon?", { runId: uid("loop") })
        )
        expect(result.status).toBe("success")
        expect(result.usage).toEqual({ inputTokens: 100, outputTokens: 20 })
        const calls = log.filter((e) => e._tag === "LlmCallCompleted")
        expect(calls[1]).not.toHaveProperty("usage")
        expect(calls[1]!.costNote).toMatch(/reported no usage/)
        // The tables (one token_usage row, for the call that reported usage) are checked against the fold.
        yield* checkEmitted(caps, makeChecker(), result.runId, log, { result })
      }))

    test("success through the stream: deltas are not recorded, the events are", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        const runId = uid("loop")
        const streamed = yield* withModel(
          [callWeather, answer("21 °C at noon")],
          log,
          Stream.runCollect(agent.stream("weather?", { runId }))
        )
        expect(Chunk.toReadonlyArray(streamed).some((e) => e._tag === "TextDelta"), "the stream had deltas").toBe(true)
        yield* checkEmitted(caps, makeChecker(), runId, log)
      }))

    test("error: a failing model ends the run in error (model)", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        const result = yield* withModel([callWeather, { fail: "upstream 503" }], log, agent.run("weather?"))
        expect(result.status).toBe("error")
        yield* checkEmitted(caps, makeChecker(), result.runId, log, { result })
      }))

    test("max_iterations: a model that keeps calling tools stops at the limit", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather], maxIterations: 2 })
        const result = yield* withModel([callWeather, callWeather, callWeather], log, agent.run("weather?"))
        expect(result.status).toBe("max_iterations")
        yield* checkEmitted(caps, makeChecker(), result.runId, log, { result })
      }))

    test("pause for a client tool, resume with its result, finish: one gapless record", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [pick, weather] })
        const script = [
          {
            toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }, {
              name: "pick_file",
              arguments: { kind: "pdf" }
            }]
          },
          answer("Opened /a.pdf.")
        ]
        const done = yield* withModel(
          script,
          log,
          Effect.gen(function*() {
            const paused = yield* agent.run("open a file", { tenantId: "acme" })
            expect(paused.status).toBe("waiting_client_tool")
            yield* checkEmitted(caps, makeChecker(), paused.runId, log, { result: paused })
            const callId = paused.pendingCalls![0]!.id
            return yield* agent.submitToolResults(paused.runId, [{ callId, result: { path: "/a.pdf" } }])
          })
        )
        expect(done.status).toBe("success")
        yield* checkEmitted(caps, makeChecker(), done.runId, log, { result: done })
      }))

    test("pause for approval, approve, the tool runs, finish", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [remove], requireApproval: ["delete_file"] })
        const done = yield* withModel(
          [{ toolCalls: [{ name: "delete_file", arguments: { path: "/tmp/x" } }] }, answer("deleted")],
          log,
          Effect.gen(function*() {
            const paused = yield* agent.run("clean up")
            expect(paused.status).toBe("waiting_approval")
            return yield* agent.submitApproval(paused.runId, { approved: true })
          })
        )
        expect(done.status).toBe("success")
        yield* checkEmitted(caps, makeChecker(), done.runId, log, { result: done })
      }))

    test("pause for human input, answer, finish", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [Tool.humanInput()] })
        const done = yield* withModel(
          [{ toolCalls: [{ name: "ask_human", arguments: { question: "Which city?" } }] }, answer("Lisbon it is")],
          log,
          Effect.gen(function*() {
            const paused = yield* agent.run("weather somewhere")
            expect(paused.status).toBe("waiting_human_input")
            return yield* agent.submitInput(paused.runId, "Lisbon")
          })
        )
        expect(done.status).toBe("success")
        yield* checkEmitted(caps, makeChecker(), done.runId, log, { result: done })
      }))

    test("concurrent runs each keep their own gapless record", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        // One scripted model serves every run: each asks for the weather once, then answers.
        const step: ScriptedModel.ScriptStep = (request) =>
          request.messages.some((m) => m._tag === "tool") ? answer("21 °C") : callWeather
        const results = yield* withModel(
          Array(16).fill(step),
          log,
          Effect.all(Array.from({ length: 8 }, (_, i) => agent.run(`weather ${i}?`)), { concurrency: "unbounded" })
        )
        for (const result of results) {
          expect(result.status).toBe("success")
          yield* checkEmitted(caps, makeChecker(), result.runId, log, { result })
        }
      }))

    test("a retry is a new run linked to the one it retries", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        const { first, second } = yield* withModel(
          [{ fail: "upstream 503" }, answer("21 °C")],
          log,
          Effect.gen(function*() {
            const first = yield* agent.run("weather?", { tenantId: "acme", metadata: { ticket: 9 } })
            return { first, second: yield* agent.retry(first.runId) }
          })
        )
        expect([first.status, second.status]).toEqual(["error", "success"])
        const started = log.find((e) => e.runId === second.runId && e._tag === "RunStarted")
        expect(started, "the retry's run.started").toMatchObject({ retryOfRunId: first.runId, tenantId: "acme" })
        yield* checkEmitted(caps, makeChecker(), first.runId, log, { result: first })
        yield* checkEmitted(caps, makeChecker(), second.runId, log, { result: second })
      }))

    test("concurrent submitters: exactly one resumes the run, the others are told why not", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [pick] })
        const script = [
          { toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] },
          ...Array(6).fill(answer("ok"))
        ]
        const { outcomes, runId } = yield* withModel(
          script,
          log,
          Effect.gen(function*() {
            const paused = yield* agent.run("open a file")
            const callId = paused.pendingCalls![0]!.id
            const outcomes = yield* Effect.all(
              Array.from(
                { length: 6 },
                (_, i) => Effect.either(agent.submitToolResults(paused.runId, [{ callId, result: { n: i } }]))
              ),
              { concurrency: "unbounded" }
            )
            return { outcomes, runId: paused.runId }
          })
        )
        const won = outcomes.filter(Either.isRight)
        expect(won, "submitters that resumed the run").toHaveLength(1)
        for (const lost of outcomes.filter(Either.isLeft)) {
          expect(["RunAlreadyClaimed", "RunAlreadyTerminal", "RunNotPaused"], "why a submitter lost").toContain(
            lost.left._tag
          )
        }
        expect(log.filter((e) => e.runId === runId && e._tag === "RunResumed"), "run.resumed events").toHaveLength(1)
        yield* checkEmitted(caps, makeChecker(), runId, log, { result: won[0]!.right })
      }))
  })

  describe("cancellation through the runtime", () => {
    test("cancel while running (in this process): the run stops at its tool call and keeps its usage", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const entered = yield* Deferred.make<void>()
        const hang = Tool.make("hang", {
          description: "Never returns",
          parameters: Schema.Struct({}),
          handler: () => Effect.zipRight(Deferred.succeed(entered, undefined), Effect.never)
        })
        const agent = yield* agentOf({ tools: [hang] })
        const runId = uid("loop")
        const { cancel, result } = yield* withModel(
          [{ toolCalls: [{ name: "hang", arguments: {} }] }],
          log,
          Effect.gen(function*() {
            const fiber = yield* Effect.fork(agent.run("hang", { runId }))
            yield* Deferred.await(entered)
            const cancel = yield* Runs.cancelRun(runId)
            return { cancel, result: yield* Fiber.join(fiber) }
          })
        )
        expect(cancel).toEqual({ runId, status: "cancelled", cancelled: true })
        expect(result.status).toBe("cancelled")
        yield* checkEmitted(caps, makeChecker(), runId, log, { result, cancelRequested: true })
      }))

    test("cancel flagged by another process: the run stops at its next step", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const ledger = yield* RunLedger
        const flag = Tool.make("flag_cancel", {
          description: "Another process asks to cancel this run",
          parameters: Schema.Struct({}),
          handler: (_, context) => ledger.requestCancel(context.runId)
        })
        const agent = yield* agentOf({ tools: [flag] })
        const result = yield* withModel(
          [{ toolCalls: [{ name: "flag_cancel", arguments: {} }] }, answer("never reached")],
          log,
          agent.run("go")
        )
        expect(result.status).toBe("cancelled")
        yield* checkEmitted(caps, makeChecker(), result.runId, log, { result, cancelRequested: true })
      }))

    test("cancel while paused: the run ends cancelled with the usage it had", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [pick] })
        const { cancel, runId } = yield* withModel(
          [{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }],
          log,
          Effect.gen(function*() {
            const paused = yield* agent.run("open a file")
            expect(paused.status).toBe("waiting_client_tool")
            return { cancel: yield* Runs.cancelRun(paused.runId), runId: paused.runId }
          })
        )
        expect(cancel).toEqual({ runId, status: "cancelled", cancelled: true })
        yield* checkEmitted(caps, makeChecker(), runId, log, { cancelRequested: true })
      }))
  })

  describe("idempotency keys (runtime)", () => {
    test("the same key and input return the earlier run's result without a second run", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [weather] })
        const key = uid("key")
        const [first, again] = yield* withModel(
          [callWeather, answer("21 °C")],
          log,
          Effect.all([agent.run("weather?", { idempotencyKey: key }), agent.run("weather?", { idempotencyKey: key })])
        )
        expect(again, "the second start's result").toEqual(first)
        expect(log.filter((e) => e._tag === "RunStarted" && e.idempotencyKey === key), "run.started events")
          .toHaveLength(1)
        yield* checkEmitted(caps, makeChecker(), first.runId, log, { result: first })
      }))

    test("the same key with another input is an IdempotencyConflict; while paused, RunAlreadyActive", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const agent = yield* agentOf({ tools: [pick] })
        const key = uid("key")
        const { active, conflict, paused } = yield* withModel(
          [{ toolCalls: [{ name: "pick_file", arguments: { kind: "pdf" } }] }],
          log,
          Effect.gen(function*() {
            const paused = yield* agent.run("open a file", { idempotencyKey: key })
            const active = yield* Effect.flip(agent.run("open a file", { idempotencyKey: key }))
            const conflict = yield* Effect.flip(agent.run("open another file", { idempotencyKey: key }))
            return { active, conflict, paused }
          })
        )
        expect(active).toMatchObject({ _tag: "RunAlreadyActive", runId: paused.runId, status: "waiting_client_tool" })
        expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", runId: paused.runId, idempotencyKey: key })
        yield* checkEmitted(caps, makeChecker(), paused.runId, log, { result: paused })
      }))

    test("concurrent starts with one key resolve to one run", () =>
      Effect.gen(function*() {
        const log: Array<HookEvent.HookEvent> = []
        const ledger = yield* RunLedger
        const agent = yield* agentOf({})
        const key = uid("key")
        const outcomes = yield* withModel(
          Array(6).fill(answer("hello")),
          log,
          Effect.all(
            Array.from({ length: 6 }, () => Effect.either(agent.run("hi", { idempotencyKey: key }))),
            { concurrency: "unbounded" }
          )
        )
        const starts = log.filter((e) => e._tag === "RunStarted" && e.idempotencyKey === key)
        expect(starts, "run.started events recorded for the key").toHaveLength(1)
        const runId = starts[0]!.runId
        for (const outcome of outcomes) {
          if (Either.isRight(outcome)) expect(outcome.right.runId, "a start's run").toBe(runId)
          else expect(outcome.left, "a start that lost").toMatchObject({ _tag: "RunAlreadyActive", runId })
        }
        const found = yield* ledger.findByIdempotencyKey(key)
        expect(Option.map(found, (r) => r.runId), "findByIdempotencyKey").toEqual(Option.some(runId))
        yield* checkEmitted(caps, makeChecker(), runId, log)
      }))
  })
}
