import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import type { Recorder, RunLedger } from "@sextant/runtime"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { Catalogue, Detectors, type Signal, Signals } from "../src/index.js"
import { dialects, loop, runAgent, stack } from "./support.js"

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

describe.each(dialects)("live detection ($name)", (dialect) => {
  const withStack = <A, E>(
    body: Effect.Effect<A, E, Detectors | Signals | SqlClient.SqlClient | Recorder | RunLedger>,
    config?: Parameters<typeof stack>[1],
    options?: Parameters<typeof stack>[2]
  ) => Effect.flatMap(dialect.database, (url) => Effect.provide(body, stack(url, config, options))).pipe(quiet)

  it.scopedLive("a run that loops on one tool raises TOOL_LOOP, explained, stored and announced", () => {
    const announced: Array<Signal.Signal> = []
    return withStack(
      Effect.gen(function*() {
        const result = yield* runAgent("looper", loop("search", 5))
        expect(result.status).toBe("success")
        const signals = yield* (yield* Signals).forRun(result.runId)
        const loopSignal = signals.find((s) => s.signal.type === "TOOL_LOOP")!
        expect(loopSignal.signal).toMatchObject({
          runId: result.runId,
          agentName: "looper",
          severity: "HIGH",
          confidence: 0.95,
          shadow: false,
          label: null,
          evidence: { tool: "search", count: 5, distinctArguments: 1 }
        })
        expect(loopSignal.explanation.title).toBe("Tool loop")
        expect(loopSignal.explanation.whyItMatters).toMatch(/cost \$0\.00[45]/)
        // Announced once: TOOL_LOOP is live.
        expect(announced.map((s) => s.type)).toEqual(["TOOL_LOOP"])
        const listed = yield* (yield* Signals).list({ agentName: "looper" })
        expect(listed.map((s) => s.type)).toEqual(["TOOL_LOOP"])
        expect(yield* (yield* Detectors).stats).toMatchObject({ evaluated: 1, failed: 0 })
      }),
      { live: ["TOOL_LOOP"] },
      { announce: (s) => void announced.push(s) }
    )
  })

  it.scopedLive("new types start in shadow: stored, not announced, not listed unless asked for", () => {
    const announced: Array<Signal.Signal> = []
    return withStack(
      Effect.gen(function*() {
        const result = yield* runAgent("looper", loop("search", 5))
        const signals = yield* Signals
        expect(announced).toEqual([])
        expect(yield* signals.list()).toEqual([])
        const shadow = yield* signals.list({ shadow: true })
        expect(shadow.map((s) => [s.type, s.shadow, s.runId])).toEqual([["TOOL_LOOP", true, result.runId]])
      }),
      {},
      { announce: (s) => void announced.push(s) }
    )
  })

  it.scopedLive("model names and tool success survive the record: RETRY_STORM and FIRST_STEP_FAILURE fire", () =>
    withStack(Effect.gen(function*() {
      const result = yield* runAgent("payer", loop("pay", 3, { amount: 5 }))
      const types = (yield* (yield* Signals).forRun(result.runId)).map((s) => s.signal)
      expect(types.find((s) => s.type === "RETRY_STORM")?.evidence).toEqual({
        tool: "pay",
        attempts: 3,
        identicalArguments: true,
        identicalErrors: true
      })
      expect(types.find((s) => s.type === "FIRST_STEP_FAILURE")?.evidence).toMatchObject({ reason: "tool_failed" })
      const sql = yield* SqlClient.SqlClient
      const events = yield* Effect.flatMap(
        sql<{ n: number }>`SELECT COUNT(*) AS n FROM run_events WHERE agent_run_id = ${result.runId}`,
        (rows) => Effect.succeed(Number(rows[0]!.n))
      )
      expect(events).toBeGreaterThan(0)
    })))

  it.scopedLive("a model call with no usage recorded does not raise EMPTY_LLM_RESPONSE; an empty answer does", () =>
    withStack(Effect.gen(function*() {
      const signals = yield* Signals
      const ok = yield* runAgent("quiet", [{ text: "fine" }])
      expect((yield* signals.forRun(ok.runId)).map((s) => s.signal.type)).toEqual([])
      const empty = yield* runAgent("quiet", [{ text: "" }])
      expect((yield* signals.forRun(empty.runId)).map((s) => s.signal.type)).toContain("EMPTY_LLM_RESPONSE")
    })))

  it.scopedLive("a detector that throws changes nothing about the run; its failure is counted", () =>
    withStack(Effect.gen(function*() {
      const baseline = yield* runAgent("looper", loop("search", 5))
      const registry = Catalogue.detectors as Record<string, Catalogue.Detector>
      const original = registry.TOOL_LOOP!
      registry.TOOL_LOOP = () => {
        throw new Error("detector bug")
      }
      const broken = yield* Effect.ensuring(
        runAgent("looper", loop("search", 5)),
        Effect.sync(() => {
          registry.TOOL_LOOP = original
        })
      )
      expect(broken.status).toBe(baseline.status)
      expect(broken.answer).toBe(baseline.answer)
      expect(broken.usage).toEqual(baseline.usage)
      const sql = yield* SqlClient.SqlClient
      const count = (id: string) =>
        Effect.map(
          sql<{ n: number }>`SELECT COUNT(*) AS n FROM run_events WHERE agent_run_id = ${id}`,
          (r) => Number(r[0]!.n)
        )
      expect(yield* count(broken.runId)).toBe(yield* count(baseline.runId))
      expect((yield* (yield* Detectors).stats).failed).toBe(1)
      expect((yield* (yield* Signals).forRun(broken.runId)).map((s) => s.signal.type)).not.toContain("TOOL_LOOP")
    })))

  it.scopedLive("an evaluation that hangs is cut at its timeout and counted; the run is unaffected", () =>
    withStack(
      Effect.gen(function*() {
        const result = yield* runAgent("looper", loop("search", 5))
        expect(result.status).toBe("success")
        expect(result.answer).toBe("done")
        expect(yield* (yield* Detectors).stats).toMatchObject({ failed: 1 })
      }),
      { live: ["TOOL_LOOP"] },
      { announce: () => Effect.never, evaluationTimeout: "200 millis" }
    ))

  it.scopedLive("backfill evaluates recorded runs and is idempotent", () =>
    withStack(Effect.gen(function*() {
      const detectors = yield* Detectors
      const sql = yield* SqlClient.SqlClient
      const a = yield* runAgent("looper", loop("search", 5))
      yield* runAgent("payer", loop("pay", 3, { amount: 1 }))
      yield* sql`DELETE FROM failure_signals`
      const first = yield* detectors.backfill({ since: "2000-01-01T00:00:00Z" })
      const rows1 = yield* sql<
        { id: string; signal_type: string }
      >`SELECT id, signal_type FROM failure_signals ORDER BY id`
      const second = yield* detectors.backfill({ since: "2000-01-01T00:00:00Z" })
      const rows2 = yield* sql<
        { id: string; signal_type: string }
      >`SELECT id, signal_type FROM failure_signals ORDER BY id`
      expect(first).toEqual(second)
      expect(first.runs).toBe(2)
      expect(rows2).toEqual(rows1)
      expect(rows1.length).toBe(first.signals)
      expect((yield* (yield* Signals).forRun(a.runId)).map((s) => s.signal.type)).toContain("TOOL_LOOP")
      const bad = yield* Effect.flip(detectors.backfill({ since: "yesterday" }))
      expect(bad.message).toContain("not an ISO-8601 datetime")
    })))

  it.scopedLive("labels measure precision per type; an unknown signal id is SignalNotFound", () =>
    withStack(Effect.gen(function*() {
      const signals = yield* Signals
      const r1 = yield* runAgent("looper", loop("search", 5))
      const r2 = yield* runAgent("looper", loop("search", 5))
      const s1 = (yield* signals.forRun(r1.runId)).find((s) => s.signal.type === "TOOL_LOOP")!.signal
      const s2 = (yield* signals.forRun(r2.runId)).find((s) => s.signal.type === "TOOL_LOOP")!.signal
      expect((yield* signals.label(s1.id, "true_positive")).label).toBe("true_positive")
      yield* signals.label(s2.id, "false_positive")
      const p = (yield* signals.precision).find((x) => x.type === "TOOL_LOOP")
      expect(p).toEqual({ type: "TOOL_LOOP", truePositives: 1, falsePositives: 1, precision: 0.5 })
      expect((yield* signals.precision).find((x) => x.type === "SLOW_STEP")?.precision).toBeNull()
      expect((yield* Effect.flip(signals.label("nope", "true_positive")))._tag).toBe("SignalNotFound")
      // Re-detection keeps the label.
      yield* (yield* Detectors).evaluate(r1.runId)
      expect((yield* signals.forRun(r1.runId)).find((s) => s.signal.type === "TOOL_LOOP")!.signal.label).toBe(
        "true_positive"
      )
    })))

  it.scopedLive("insights count live signals per type per day with their rate per run", () =>
    withStack(
      Effect.gen(function*() {
        const signals = yield* Signals
        yield* runAgent("looper", loop("search", 5))
        yield* runAgent("looper", [{ text: "fine" }])
        const today = new Date().toISOString().slice(0, 10)
        const days = yield* signals.insights("looper", { from: "2000-01-01T00:00:00Z", to: "2999-01-01T00:00:00Z" })
        expect(days).toEqual([{ day: today, runs: 2, signals: [{ type: "TOOL_LOOP", count: 1, rate: 0.5 }] }])
        const bad = yield* Effect.flip(signals.insights("looper", { from: "x", to: "2999-01-01T00:00:00Z" }))
        expect(bad).toMatchObject({ _tag: "DetectorConfigError", path: "from" })
        const badList = yield* Effect.flip(signals.list({ type: "NOPE" as never }))
        expect(badList._tag).toBe("DetectorConfigError")
      }),
      { live: ["TOOL_LOOP"] }
    ))

  it.scopedLive("issues open, resolve after N clean runs and reopen", () =>
    withStack(
      Effect.gen(function*() {
        const signals = yield* Signals
        const issue = (resolveAfter: number) =>
          Effect.map(signals.issues({ agentName: "looper", resolveAfter }), (all) =>
            all.map((i) => [i.type, i.status, i.occurrences, i.cleanRunsSince]))
        const first = yield* runAgent("looper", loop("search", 5))
        expect(yield* issue(2)).toEqual([["TOOL_LOOP", "open", 1, 0]])
        yield* runAgent("looper", [{ text: "fine" }])
        expect(yield* issue(2)).toEqual([["TOOL_LOOP", "open", 1, 1]])
        yield* runAgent("looper", [{ text: "fine" }])
        expect(yield* issue(2)).toEqual([["TOOL_LOOP", "resolved", 1, 2]])
        expect(yield* issue(3)).toEqual([["TOOL_LOOP", "open", 1, 2]])
        const again = yield* runAgent("looper", loop("search", 5))
        const [reopened] = yield* signals.issues({ resolveAfter: 2 })
        expect(reopened).toMatchObject({
          agentName: "looper",
          type: "TOOL_LOOP",
          status: "reopened",
          occurrences: 2,
          firstRunId: first.runId,
          lastRunId: again.runId
        })
        expect(yield* signals.issues({ agentName: "someone-else" })).toEqual([])
        expect(yield* Effect.flip(signals.issues({ resolveAfter: 0 }))).toMatchObject({ path: "resolveAfter" })
      }),
      { live: ["TOOL_LOOP"] }
    ))

  it.scopedLive("an invalid configuration fails the layer with the setting's path", () =>
    Effect.gen(function*() {
      const url = yield* dialect.database
      const error = yield* Effect.flip(
        Effect.provide(
          Detectors,
          Detectors.layer({ agents: { a: { SLOW_STEP: { toolMs: -1 } } } }).pipe(
            Layer.provide(Layer.orDie(stack(url)))
          )
        )
      )
      expect(error).toMatchObject({ _tag: "DetectorConfigError", path: "agents.a.SLOW_STEP.toolMs" })
    }))
})
