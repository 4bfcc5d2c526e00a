import { describe, expect, it } from "@effect/vitest"
import { MemoryRecorder, Recorder } from "@sextant/runtime"
import { Effect } from "effect"
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
