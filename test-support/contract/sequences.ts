/**
 * Hand-built event sequences fed to `Recorder.record`: the order rules (gapless, one `run.started`, the
 * transition table's status guard) and the totals of every terminal path, each checked against the fold
 * after every step.
 */
import { describe, expect } from "@effect/vitest"
import type { HookEvent } from "@sextant/runtime"
import { Lifecycle, Recorder, RunLedger } from "@sextant/runtime"
import { Effect, Either, Option } from "effect"
import * as E from "./events.js"
import {
  type Capabilities,
  check,
  drive,
  expectConflict,
  makeChecker,
  past,
  records,
  type Test,
  uid
} from "./harness.js"
import * as Oracle from "./oracle.js"

// Call ids are the kernel's correlation ids, unique across runs: each run gets its own.
const weatherOf = (s: E.Stamper) => E.call(`${s.runId}-weather`, "get_weather", { city: "Lisbon" }, "prov-1")
const pickOf = (s: E.Stamper) => E.call(`${s.runId}-pick`, "pick_file", { kind: "pdf" })
const usage10x5: HookEvent.Usage = { inputTokens: 10, outputTokens: 5 }

/** The opening of a run: started, the user's message, one model call asking for `calls`, its message. */
const opening = (
  s: E.Stamper,
  calls: ReadonlyArray<HookEvent.ToolCallRef>,
  usage: HookEvent.Usage = usage10x5,
  started: E.StartedOptions = {}
): ReadonlyArray<HookEvent.HookEvent> => [
  s.next(E.started({ tenantId: "acme", metadata: { ticket: 7, tags: ["a", "b"] }, ...started }), 0),
  s.next(E.user(0, "What is the weather in Lisbon?"), 0),
  s.next(E.llmStarted(`${s.runId}-llm-1`), 1),
  s.next(E.llmCompleted(`${s.runId}-llm-1`, usage, { toolCalls: calls }), 1),
  s.next(E.assistant(1, "", calls), 1)
]

/** One server tool call executed and its result appended. */
const toolRound = (s: E.Stamper, c: HookEvent.ToolCallRef, orderIndex: number, result: HookEvent.Json) => [
  s.next(E.toolStarted(c)),
  s.next(E.toolCompleted(c, result)),
  s.next(E.toolMessage(orderIndex, c, JSON.stringify(result)))
]

/** A run's totals as the fold sums them, for the usage the terminal event carries. */
const sum = (...calls: ReadonlyArray<HookEvent.Usage>): HookEvent.Usage =>
  calls.reduce((t, u) => Lifecycle.addUsage(t, u), Lifecycle.emptyTotals).usage

/** Drives a fresh run through `build(stamper)` with a fresh checker. */
const scenario = (
  caps: Capabilities,
  build: (s: E.Stamper) => ReadonlyArray<Oracle.Step>,
  hoursAgo = 1
) =>
  Effect.gen(function*() {
    const runId = uid("seq")
    const s = E.stamper(runId, yield* past(hoursAgo))
    return yield* drive(caps, makeChecker(), build(s), Oracle.empty(runId))
  })

/** The order rules, and every terminal path's totals, on hand-built sequences. */
export const sequenceTests = (test: Test, caps: Capabilities): void => {
  describe("event order and gaplessness", () => {
    test("a run recorded event by event matches the lifecycle fold after every event", () =>
      scenario(caps, (s) => {
        const time = E.call(`${s.runId}-time`, "get_time", { tz: "Europe/Lisbon" })
        return records([
          ...opening(s, [weatherOf(s), time], {
            inputTokens: 100,
            outputTokens: 20,
            cacheReadTokens: 30,
            costUsd: 0.1
          }),
          s.next(E.toolStarted(weatherOf(s))),
          s.next(E.toolStarted(time)),
          s.next(E.toolCompleted(time, "12:00")),
          s.next(E.toolCompleted(weatherOf(s), { city: "Lisbon", tempC: 21, hourly: [20, 21, null] })),
          s.next(E.toolMessage(2, weatherOf(s), "{\"city\":\"Lisbon\",\"tempC\":21}")),
          s.next(E.toolMessage(3, time, "12:00")),
          s.next(E.llmStarted(`${s.runId}-llm-2`, 4), 2),
          s.next(
            E.llmCompleted(
              `${s.runId}-llm-2`,
              { inputTokens: 50, outputTokens: 10, reasoningTokens: 4, costUsd: 0.2 },
              {
                text: "21 °C at noon."
              }
            ),
            2
          ),
          s.next(E.assistant(4, "21 °C at noon."), 2),
          s.next(
            E.completed(
              "success",
              2,
              sum({ inputTokens: 100, outputTokens: 20, cacheReadTokens: 30, costUsd: 0.1 }, {
                inputTokens: 50,
                outputTokens: 10,
                reasoningTokens: 4,
                costUsd: 0.2
              }),
              "21 °C at noon."
            ),
            2
          )
        ])
      }))

    test("a gap in the sequence is a conflict and changes nothing", () =>
      scenario(caps, (s) => [
        ...records(opening(s, [weatherOf(s)])),
        { _tag: "Record", event: s.at(s.nextIndex() + 1, E.toolStarted(weatherOf(s))) },
        ...records([s.next(E.toolStarted(weatherOf(s)))])
      ]))

    test("a repeated sequence index with another event is a conflict", () =>
      scenario(caps, (s) => {
        const events = opening(s, [weatherOf(s)])
        const last = events[events.length - 1]!
        return [
          ...records(events),
          { _tag: "Record", event: s.at(s.nextIndex() - 1, E.toolStarted(weatherOf(s))) },
          // The same type at the same index but another time is another event, not a retried write.
          { _tag: "Record", event: { ...last, timestamp: last.timestamp + 1 } },
          ...records([s.next(E.toolStarted(weatherOf(s)))])
        ]
      }))

    test("the same event recorded twice is accepted once (a retried write) and changes nothing", () =>
      scenario(caps, (s) => {
        const events = opening(s, [weatherOf(s)])
        return [...records(events), { _tag: "Record", event: events[events.length - 1]! }]
      }))

    test("run.started must be event #0: at another index it is a conflict and creates nothing", () =>
      scenario(caps, (s) => [
        { _tag: "Record", event: s.at(2, E.started()) },
        { _tag: "Record", event: s.at(1, E.started()) },
        ...records([s.next(E.started(), 0), s.next(E.user(0, "hi"))])
      ]))

    test("an event of a run that does not exist is a conflict", () =>
      scenario(caps, (s) => [{ _tag: "Record", event: s.at(1, E.user(0, "hello")) }]))

    test("a second run.started of a run is a conflict", () =>
      Effect.gen(function*() {
        const runId = uid("seq")
        const t0 = yield* past(1)
        const s = E.stamper(runId, t0)
        const again = E.stamper(runId, t0 + 500).next(E.started({ input: "another input" }), 0)
        yield* drive(caps, makeChecker(), [
          ...records([s.next(E.started(), 0), s.next(E.user(0, "hi"))]),
          { _tag: "Record", event: again }
        ], Oracle.empty(runId))
      }))

    test("an event inside a segment is refused while the run is paused", () =>
      scenario(caps, (s) => [
        ...records([...opening(s, [pickOf(s)]), s.next(E.paused("waiting_client_tool", [pickOf(s)]))]),
        { _tag: "Record", event: s.at(s.nextIndex(), E.user(2, "are you there?")) },
        { _tag: "Record", event: s.at(s.nextIndex(), E.llmStarted(`${s.runId}-llm-2`)) }
      ]))

    test("an event after the run ended is refused", () =>
      scenario(caps, (s) => [
        ...records([
          s.next(E.started(), 0),
          s.next(E.user(0, "hi"), 0),
          s.next(E.llmStarted(`${s.runId}-llm-1`), 1),
          s.next(E.llmCompleted(`${s.runId}-llm-1`, usage10x5, { text: "hello" }), 1),
          s.next(E.assistant(1, "hello"), 1),
          s.next(E.completed("success", 1, usage10x5, "hello"), 1)
        ]),
        { _tag: "Record", event: s.at(s.nextIndex(), E.user(2, "one more thing")) },
        { _tag: "Record", event: s.at(s.nextIndex(), E.llmStarted(`${s.runId}-llm-2`), 2) },
        { _tag: "Record", event: s.at(s.nextIndex(), E.completed("success", 1, usage10x5, "again")) }
      ]))

    test("run.resumed of a paused run nobody claimed is refused", () =>
      scenario(caps, (s) => [
        ...records([...opening(s, [pickOf(s)]), s.next(E.paused("waiting_client_tool", [pickOf(s)]))]),
        { _tag: "Record", event: s.at(s.nextIndex(), E.resumed("waiting_client_tool", { path: "/a.pdf" })) }
      ]))

    test("a sweep event whose previous status is not the run's is refused", () =>
      scenario(caps, (s) => [
        ...records(opening(s, [weatherOf(s)])),
        { _tag: "Record", event: s.at(s.nextIndex(), E.abandoned("waiting_approval")) },
        ...records([s.next(E.interrupted("running"))])
      ]))

    test("concurrent writes of many runs are each accepted or refused on their own", () =>
      Effect.gen(function*() {
        const recorder = yield* Recorder
        const t0 = yield* past(1)
        const runs = yield* Effect.forEach(Array.from({ length: 6 }, (_, i) => i), (i) =>
          Effect.gen(function*() {
            const s = E.stamper(uid(`batch${i}`), t0 + i)
            const model = yield* drive(caps, makeChecker(), records(opening(s, [weatherOf(s)])), Oracle.empty(s.runId))
            // Every other run gets a gap, which must fail that write alone.
            const event = i % 2 === 0
              ? s.next(E.toolStarted(weatherOf(s)))
              : s.at(s.nextIndex() + 1, E.toolStarted(weatherOf(s)))
            return { model, event }
          }))
        const results = yield* Effect.all(runs.map((r) => Effect.either(recorder.record(r.event))), {
          concurrency: "unbounded"
        })
        for (const [i, { event, model }] of runs.entries()) {
          const next = Oracle.step(model, { _tag: "Record", event })
          if (next.outcome._tag === "Conflict") {
            expectConflict(results[i]!, event, next.outcome.conflict.message)
          } else {
            expect(Either.isRight(results[i]!), `${Oracle.label(event)} of ${event.runId} must be recorded`).toBe(true)
          }
          yield* check(caps, makeChecker(), next.model, "after the concurrent writes")
        }
      }))

    test("a tool or model call id another run recorded is a conflict; that run's rows are untouched", () =>
      Effect.gen(function*() {
        const recorder = yield* Recorder
        const t0 = yield* past(1)
        const a = E.stamper(uid("owner"), t0)
        const owner = yield* drive(
          caps,
          makeChecker(),
          records([...opening(a, [weatherOf(a)]), ...toolRound(a, weatherOf(a), 2, { tempC: 21 })]),
          Oracle.empty(a.runId)
        )
        const b = E.stamper(uid("reuser"), t0 + 100)
        const ownCall = E.call(`${b.runId}-weather`, "get_weather", { city: "Porto" })
        const reuser = yield* drive(caps, makeChecker(), records(opening(b, [ownCall])), Oracle.empty(b.runId))
        // Ids are the kernel's correlation ids, unique across runs: the per-run fold cannot see a reuse, so each
        // refusal is asserted directly, at the reuser's next index (a refused event moves nothing).
        const taken = weatherOf(a)
        const foreign: ReadonlyArray<E.Input> = [
          E.toolStarted(taken),
          E.toolCompleted(taken, { tempC: 0 }, { target: "client" }),
          E.llmStarted(`${a.runId}-llm-1`),
          E.llmCompleted(`${a.runId}-llm-1`, { inputTokens: 1, outputTokens: 1, costUsd: 9 }, { text: "x" }),
          E.llmFailed(`${a.runId}-llm-1`, "overwritten")
        ]
        for (const input of foreign) {
          const event = b.at(b.nextIndex(), input, 1)
          expectConflict(yield* Effect.either(recorder.record(event)), event, "the call id is another run's")
          yield* check(caps, makeChecker(), reuser, `after the refused ${Oracle.label(event)}`)
          yield* check(caps, makeChecker(), owner, `after the other run's refused ${Oracle.label(event)}`)
        }
        // The refusals left the reuser's sequence where it was: its own calls go on.
        yield* drive(caps, makeChecker(), records(toolRound(b, ownCall, 2, { tempC: 19 })), reuser)
        // Written together (one commit where the backend groups them), only the reusing event is refused.
        const runs = yield* Effect.forEach(Array.from({ length: 4 }, (_, i) => i), (i) =>
          Effect.gen(function*() {
            const s = E.stamper(uid(`together${i}`), t0 + 200 + i)
            const model = yield* drive(caps, makeChecker(), records(opening(s, [weatherOf(s)])), Oracle.empty(s.runId))
            return { model, event: s.next(E.toolStarted(i === 2 ? taken : weatherOf(s))) }
          }))
        const results = yield* Effect.all(runs.map((r) => Effect.either(recorder.record(r.event))), {
          concurrency: "unbounded"
        })
        for (const [i, { event, model }] of runs.entries()) {
          if (i === 2) {
            expectConflict(results[i]!, event, "the call id is another run's")
            yield* check(caps, makeChecker(), model, "after the concurrent writes")
          } else {
            expect(Either.isRight(results[i]!), `${Oracle.label(event)} of ${event.runId} must be recorded`).toBe(true)
            yield* check(
              caps,
              makeChecker(),
              Oracle.step(model, { _tag: "Record", event }).model,
              "after the concurrent writes"
            )
          }
        }
        yield* check(caps, makeChecker(), owner, "after the concurrent writes")
      }))

    test("a child run keeps its tenant, metadata, parent and retry links", () =>
      Effect.gen(function*() {
        const t0 = yield* past(1)
        const parent = E.stamper(uid("parent"), t0)
        yield* drive(caps, makeChecker(), records([parent.next(E.started(), 0)]), Oracle.empty(parent.runId))
        const child = E.stamper(uid("child"), t0 + 100)
        yield* drive(
          caps,
          makeChecker(),
          records([
            child.next(
              E.started({
                tenantId: "acme",
                parentRunId: parent.runId,
                retryOfRunId: parent.runId,
                metadata: { nested: { deep: [1, "two", null, true] } }
              }),
              0
            ),
            child.next(E.user(0, "child input"))
          ]),
          Oracle.empty(child.runId)
        )
      }))
  })

  describe("usage and totals per terminal path", () => {
    test("success: token totals add up and costs sum exactly (0.1 + 0.2 is 0.3)", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        const model = yield* scenario(caps, (s) => {
          const first = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 30, costUsd: 0.1 }
          const second = { inputTokens: 50, outputTokens: 10, cacheWriteTokens: 7, reasoningTokens: 4, costUsd: 0.2 }
          return records([
            ...opening(s, [weatherOf(s)], first),
            ...toolRound(s, weatherOf(s), 2, { tempC: 21 }),
            s.next(E.llmStarted(`${s.runId}-llm-2`, 3), 2),
            s.next(E.llmCompleted(`${s.runId}-llm-2`, second, { text: "21 °C" }), 2),
            s.next(E.assistant(3, "21 °C"), 2),
            s.next(E.completed("success", 2, sum(first, second), "21 °C"), 2)
          ])
        })
        const stored = yield* ledger.get(model.runId)
        expect(Option.map(stored, (r) => r.usage.costUsd), "the run's cost").toEqual(Option.some(0.3))
      }))

    test("a call's cost is kept in whole nano-dollars: float noise and sub-nano-dollar digits never reach a total", () =>
      Effect.gen(function*() {
        const ledger = yield* RunLedger
        // 3 × 0.1 in floating point, and a cost below a nano-dollar's precision (1.23456e-7 is 123.456 nanos).
        const first = { inputTokens: 10, outputTokens: 5, costUsd: 0.1 * 3 }
        const second = { inputTokens: 10, outputTokens: 5, costUsd: 1.23456e-7 }
        const model = yield* scenario(caps, (s) =>
          records([
            ...opening(s, [weatherOf(s)], first),
            ...toolRound(s, weatherOf(s), 2, { tempC: 21 }),
            s.next(E.llmStarted(`${s.runId}-llm-2`, 3), 2),
            s.next(E.llmCompleted(`${s.runId}-llm-2`, second, { text: "21 °C" }), 2),
            s.next(E.assistant(3, "21 °C"), 2),
            s.next(E.completed("success", 2, sum(first, second), "21 °C"), 2)
          ]))
        const stored = yield* ledger.get(model.runId)
        expect(Option.map(stored, (r) => r.usage.costUsd), "the run's cost").toEqual(Option.some(0.300000123))
      }))

    test("success with an unpriced call: the run's cost is unknown", () =>
      scenario(caps, (s) => {
        const priced = { inputTokens: 10, outputTokens: 5, costUsd: 0.25 }
        return records([
          ...opening(s, [weatherOf(s)], priced),
          ...toolRound(s, weatherOf(s), 2, { tempC: 21 }),
          s.next(E.llmStarted(`${s.runId}-llm-2`, 3), 2),
          s.next(E.llmCompleted(`${s.runId}-llm-2`, usage10x5, { text: "21 °C" }), 2),
          s.next(E.assistant(3, "21 °C"), 2),
          s.next(E.completed("success", 2, sum(priced, usage10x5), "21 °C"), 2)
        ])
      }))

    test("error: a failed model call ends the run in error with the usage so far", () =>
      scenario(caps, (s) => [
        ...records([
          ...opening(s, [weatherOf(s)]),
          s.next(E.toolStarted(weatherOf(s))),
          s.next(E.toolCompleted(weatherOf(s), { error: "no such city" }, { error: "no such city" })),
          s.next(E.toolMessage(2, weatherOf(s), "{\"error\":\"no such city\"}", true)),
          s.next(E.llmStarted(`${s.runId}-llm-2`, 3), 2),
          s.next(E.llmFailed(`${s.runId}-llm-2`, "upstream 503 after 3 attempts"), 2),
          s.next(
            E.failed(2, usage10x5, { tag: "ModelError", message: "upstream 503 after 3 attempts" }, "model"),
            2
          )
        ])
      ]))

    test("max_iterations: the run ends without an answer", () =>
      scenario(caps, (s) => {
        const second = E.call(`${s.runId}-weather-2`, "get_weather", { city: "Porto" })
        return records([
          ...opening(s, [weatherOf(s)]),
          ...toolRound(s, weatherOf(s), 2, { tempC: 21 }),
          s.next(E.llmStarted(`${s.runId}-llm-2`, 3), 2),
          s.next(E.llmCompleted(`${s.runId}-llm-2`, usage10x5, { toolCalls: [second] }), 2),
          s.next(E.assistant(3, "", [second]), 2),
          ...toolRound(s, second, 4, { tempC: 19 }),
          s.next(E.completed("max_iterations", 2, sum(usage10x5, usage10x5)), 2)
        ])
      }))

    test("cancel while running: the flag is set and the run ends cancelled with its usage", () =>
      scenario(caps, (s) => [
        ...records([...opening(s, [weatherOf(s)]), s.next(E.toolStarted(weatherOf(s)))]),
        { _tag: "RequestCancel" },
        ...records([
          s.next(E.toolCompleted(weatherOf(s), { tempC: 21 })),
          s.next(E.toolMessage(2, weatherOf(s), "{\"tempC\":21}")),
          s.next(E.cancelled(1, usage10x5))
        ])
      ]))

    test("cancel while paused: the canceller claims the run, then it ends cancelled with its usage", () =>
      scenario(caps, (s) => [
        ...records([...opening(s, [pickOf(s)]), s.next(E.paused("waiting_client_tool", [pickOf(s)]))]),
        { _tag: "RequestCancel" },
        { _tag: "Claim", expected: "waiting_client_tool", submission: { kind: "cancel" }, submissionId: uid("sub") },
        ...records([s.next(E.cancelled(1, usage10x5))])
      ]))

    test("pause, claim, resume, finish: the pause state is kept while paused and dropped at the end", () =>
      scenario(caps, (s) => {
        const final = { inputTokens: 30, outputTokens: 6 }
        return [
          ...records([...opening(s, [pickOf(s)]), s.next(E.paused("waiting_client_tool", [pickOf(s)]))]),
          {
            _tag: "Claim",
            expected: "waiting_client_tool",
            submission: { kind: "tool_results", results: [{ callId: pickOf(s).id, result: { path: "/a.pdf" } }] },
            submissionId: uid("sub")
          },
          ...records([
            s.next(
              E.resumed("waiting_client_tool", { results: [{ callId: pickOf(s).id, result: { path: "/a.pdf" } }] })
            ),
            s.next(E.toolStarted(pickOf(s), "client")),
            s.next(E.toolCompleted(pickOf(s), { path: "/a.pdf" }, { target: "client" })),
            s.next(E.toolMessage(2, pickOf(s), "{\"path\":\"/a.pdf\"}")),
            s.next(E.llmStarted(`${s.runId}-llm-2`, 3), 2),
            s.next(E.llmCompleted(`${s.runId}-llm-2`, final, { text: "Opened /a.pdf." }), 2),
            s.next(E.assistant(3, "Opened /a.pdf."), 2),
            s.next(E.completed("success", 2, sum(usage10x5, final), "Opened /a.pdf."), 2)
          ])
        ]
      }))

    test("a pause without an execution state stores none", () =>
      scenario(
        caps,
        (s) => records([...opening(s, [pickOf(s)]), s.next(E.paused("waiting_client_tool", [pickOf(s)], null))])
      ))

    test("sweep, interrupted: a stale running run ends in error (stale_running) with its usage", () =>
      scenario(
        caps,
        (s) => records([...opening(s, [weatherOf(s)]), s.next(E.toolStarted(weatherOf(s))), s.next(E.interrupted())])
      ))

    test("sweep, abandoned: a run waiting too long ends in error (abandoned_waiting) with its usage", () =>
      scenario(caps, (s) => {
        const remove = E.call(`${s.runId}-delete`, "delete_file", { path: "/tmp/x" })
        return records([
          ...opening(s, [remove]),
          s.next({ _tag: "ApprovalRequested", correlationId: remove.id, toolName: remove.name, arguments: {} }),
          s.next(E.paused("waiting_approval", [remove])),
          s.next(E.abandoned("waiting_approval"))
        ])
      }))
  })
}
