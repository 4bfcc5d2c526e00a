/**
 * Detection over encrypted content on both dialects: the detectors take the key ring of their layer, so live
 * evaluations (run in the bus's fibers, whose context need not hold it) open sealed event data, and
 * `sextant-detect` takes the keys from `SEXTANT_ENCRYPTION_KEYS`; without them it fails naming the key.
 */
import { describe, expect, it } from "@effect/vitest"
import { Encryption, SqlRecorder } from "@sextant/recorder"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { Detectors, Signals } from "../src/index.js"
import { backfillArgs, detectCli, dialects, loop, runAgent } from "./support.js"

const key = Buffer.alloc(32, 5).toString("base64")
const cli = (url: string, env: Record<string, string>) => detectCli(backfillArgs(url), env)

describe.each(dialects)("detection over encrypted content ($name)", (dialect) => {
  it.scopedLive(
    "live evaluations open sealed events with the layer's key ring; so does sextant-detect",
    () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        // The key ring is given to the layers only: the run's own context does not hold it.
        const ring = Encryption.layer({ keys: { k1: key }, current: "k1" })
        const layers = Layer.mergeAll(Detectors.layer(), Signals.layer).pipe(
          Layer.provideMerge(SqlRecorder.layerFromUrl(url).pipe(Layer.provide(ring))),
          Layer.provide(ring),
          Layer.orDie
        )
        const runId = yield* Effect.gen(function*() {
          const result = yield* runAgent("looper", loop("search", 5))
          const signals = yield* (yield* Signals).forRun(result.runId)
          expect(signals.map((s) => s.signal.type)).toContain("TOOL_LOOP")
          expect(yield* (yield* Detectors).stats).toMatchObject({ evaluated: 1, failed: 0 })
          return result.runId
        }).pipe(Effect.provide(layers), Logger.withMinimumLogLevel(LogLevel.None))
        expect(runId).toBeTypeOf("string")

        const withKeys = cli(url, { SEXTANT_ENCRYPTION_KEYS: `k1:${key}` })
        expect(withKeys.stderr).toBe("")
        expect(withKeys.stdout).toMatch(/evaluated 1 run\(s\), 1 signal\(s\) stored$/m)
        const without = cli(url, {})
        expect(without.status).toBe(1)
        expect(without.stderr).toContain("key 'k1'")
        expect(without.stderr).toContain("SEXTANT_ENCRYPTION_KEYS")
      }),
    { timeout: 60_000 }
  )
})
