import { describe, expect, it } from "@effect/vitest"
import { MemoryRecorder, Recorder } from "@sextant/runtime"
import { Effect, TestClock } from "effect"
import { Trace } from "../src/index.js"

const countStarted = Effect.map(
  Effect.flatMap(MemoryRecorder, (m) => m.events()),
  (events) => events.filter((e) => e._tag === "RunStarted").length
)

describe("sampling", () => {
  it.effect("a rate records that fraction of 10,000 runs, decided by the run id", () =>
    Effect.gen(function*() {
      let sampled = 0
      for (let i = 100; i < 10_100; i++) {
        const run = yield* Trace.run("sampled", { sampleRate: 0.3, runId: `run-${i}` }, (run) =>
          Effect.as(run.event("work", { i }), run.sampled))
        if (run) {
          sampled++
        }
      }
      expect(yield* countStarted).toBe(sampled)
      expect(sampled).toBeGreaterThan(2_850)
      expect(sampled).toBeLessThan(3_150)
      // Deterministic: the same ids are decided the same way again (in a fresh recorder).
      const decide = (i: number) =>
        Trace.run("sampled", { sampleRate: 0.3, runId: `run-${i}` }, (run) =>
          Effect.succeed(run.sampled))
      const first = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], decide)
      const second = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], decide).pipe(Effect.provide(Recorder.memory))
      expect(second).toEqual(first)
    }).pipe(Effect.provide(Recorder.memory)))

  it.effect("an unsampled run records nothing, still runs its tools and returns or fails as usual; children follow", () =>
    Effect.gen(function*() {
      const out = yield* Trace.run("quiet", { sampler: () => false }, (run) =>
        Effect.gen(function*() {
          const value = yield* run.tool("add", {}, Effect.succeed(2))
          const child = yield* Trace.run("child", { sampleRate: 1 }, (c) => Effect.succeed(c.sampled))
          yield* run.final("done")
          return { value, child }
        }))
      expect(out).toEqual({ value: 2, child: false })
      const failed = yield* Effect.flip(Trace.run("quiet", { sampleRate: 0 }, () => Effect.fail("nope" as const)))
      expect(failed).toBe("nope")
      expect(yield* countStarted).toBe(0)
      const loud = yield* Trace.run(
        "loud",
        { sampler: ({ name }) => name === "loud" },
        (run) => Effect.succeed(run.sampled)
      )
      expect(loud).toBe(true)
      expect(yield* countStarted).toBe(1)
    }).pipe(Effect.provide(Recorder.memory)))
})

describe("onlyOnError", () => {
  const failing = (i: number) => i % 7 === 0

  it.effect("over 10,000 runs only the failures are recorded, each whole; rate and onlyOnError compose", () =>
    Effect.gen(function*() {
      let failures = 0
      for (let i = 0; i < 10_000; i++) {
        const exit = yield* Effect.exit(
          Trace.run("held", { onlyOnError: true, runId: `held-${i}`, input: "go" }, (run) =>
            Effect.gen(function*() {
              yield* run.llm({ model: "m", provider: "p", text: "t", usage: { inputTokens: 1, outputTokens: 1 } })
              yield* run.tool("step", { i }, Effect.succeed(i))
              if (failing(i)) return yield* Effect.fail(`boom ${i}` as const)
              return "ok"
            }))
        )
        if (exit._tag === "Failure") failures++
      }
      const events = yield* Effect.flatMap(MemoryRecorder, (m) => m.events())
      const recorded = [...new Set(events.map((e) => e.runId))]
      expect(failures).toBe(1429)
      expect(recorded.length).toBe(failures)
      expect(recorded.every((id) => failing(Number(id.slice("held-".length))))).toBe(true)
      // Each failure is recorded whole: gapless, from run.started to run.failed.
      const one = events.filter((e) => e.runId === "held-7")
      expect(one.map((e) => e.sequenceIndex)).toEqual(one.map((_, k) => k))
      expect(one.map((e) => e._tag)).toEqual([
        "RunStarted",
        "MessageAppended",
        "LlmCallStarted",
        "LlmCallCompleted",
        "MessageAppended",
        "ToolCallStarted",
        "ToolCallCompleted",
        "MessageAppended",
        "RunFailed"
      ])

      // With a rate: of the runs the rate keeps, only the failures are recorded.
      const before = recorded.length
      let expected = 0
      for (let i = 0; i < 2_000; i++) {
        const runId = `both-${i}`
        const exit = yield* Effect.exit(
          Trace.run("both", { onlyOnError: true, sampleRate: 0.5, runId }, (run) =>
            Effect.gen(function*() {
              if (run.sampled && i % 2 === 0) expected++
              return i % 2 === 0 ? yield* Effect.fail("x") : "ok"
            }))
        )
        expect(exit._tag).toBe(i % 2 === 0 ? "Failure" : "Success")
      }
      const after = new Set((yield* Effect.flatMap(MemoryRecorder, (m) => m.events())).map((e) => e.runId)).size
      expect(after - before).toBe(expected)
      expect(expected).toBeGreaterThan(400)
      expect(expected).toBeLessThan(600)
    }).pipe(Effect.provide(Recorder.memory)))

  it.effect("a failed held run is recorded exactly as recording straight away would (timestamps included)", () =>
    Effect.gen(function*() {
      const body = (run: Trace.TraceRun) =>
        Effect.gen(function*() {
          yield* run.memoryRead("k", { v: 1 })
          yield* TestClock.adjust("5 millis")
          yield* Effect.ignore(run.tool("broken", {}, Effect.fail(new Error("down")), { callId: `${run.runId}-call` }))
          yield* TestClock.adjust("3 millis")
          yield* run.fail(new Error("gave up"))
        })
      yield* Trace.run("agent", { runId: "run-direct", input: "x" }, body)
      yield* Trace.run("agent", { runId: "run-held", input: "x", onlyOnError: true }, body)
      const events = yield* Effect.flatMap(MemoryRecorder, (m) => m.events())
      // The same events, ids apart, at the same offsets from the run's start.
      const strip = (runId: string) => {
        const own = events.filter((e) => e.runId === runId)
        return own.map((e) => {
          const { correlationId: _c, runId: _r, ...rest } = e as typeof e & { correlationId?: string }
          const text = JSON.stringify({ ...rest, timestamp: e.timestamp - own[0]!.timestamp })
          return JSON.parse(text.replaceAll(runId, "<run>")) as unknown
        })
      }
      expect(strip("run-held")).toEqual(strip("run-direct"))
    }).pipe(Effect.provide(Recorder.memory)))

  it.effect("a held tree is recorded whole when its root fails, and forgotten when it succeeds", () =>
    Effect.gen(function*() {
      const tree = (runId: string, rootFails: boolean) =>
        Effect.exit(Trace.run("root", { runId, onlyOnError: true }, (run) =>
          Effect.gen(function*() {
            yield* run.event("before")
            // The child fails, the root recovers: only the root's own end decides.
            yield* Effect.ignore(Trace.run("child", { runId: `${runId}-child` }, () => Effect.fail("child broke")))
            yield* Trace.run("ok-child", { runId: `${runId}-ok` }, (c) => c.event("fine"))
            if (rootFails) yield* Effect.fail("root broke")
          })))
      yield* tree("kept", true)
      yield* tree("forgotten", false)
      const events = yield* Effect.flatMap(MemoryRecorder, (m) => m.events())
      const runs = [...new Set(events.map((e) => e.runId))]
      expect(runs).toEqual(["kept", "kept-child", "kept-ok"])
      const started = events.filter((e) => e._tag === "RunStarted")
      expect(started.map((e) => [e.runId, (e as { parentRunId?: string }).parentRunId])).toEqual([
        ["kept", undefined],
        ["kept-child", "kept"],
        ["kept-ok", "kept"]
      ])
      expect(events.filter((e) => e.runId === "kept-child").at(-1)?._tag).toBe("RunFailed")
      // A pluggable sampler can hold a run too.
      const verdicts = yield* Effect.forEach(
        ["a", "b"],
        (runId) =>
          Effect.exit(Trace.run("s", {
            runId,
            sampler: () => "onError"
          }, () => runId === "a" ? Effect.fail("x") : Effect.succeed("ok")))
      )
      expect(verdicts.map((v) => v._tag)).toEqual(["Failure", "Success"])
      const last = yield* Effect.flatMap(MemoryRecorder, (m) => m.events())
      expect([...new Set(last.map((e) => e.runId))]).toEqual(["kept", "kept-child", "kept-ok", "a"])
    }).pipe(Effect.provide(Recorder.memory)))
})
