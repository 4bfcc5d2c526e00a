/**
 * Detection cost: all fifteen detectors over one recorded ~50-event run (read back from SQLite, so the input
 * is the store's records) against reading that run's events through the RunStore; and the throughput of a
 * backfill (`Detectors.backfill`: read, baseline query, detect, one transaction of writes per run) over
 * recorded runs. The backfill database is seeded through the real agent loop (`BENCH_DETECT_RUNS`, default
 * 1,000 runs; the 100,000 takes about 50× longer to seed and is left to an explicit run).
 */
import { SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Effect, Layer, Logger, LogLevel, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { num, table, time } from "../../../bench/measure.js"
import type { BenchSection, Figure } from "../../../bench/section.js"
import { Catalogue, Detectors, RunEvents } from "../src/index.js"

const RUNS = Number(process.env.BENCH_DETECT_RUNS ?? 1_000)
const REPEAT = 2_000

const search = Tool.make("search", {
  description: "Searches",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => ({ hits: [q] })
})
// 7 tool turns and an answer: 51 events.
const script = (n: number): ReadonlyArray<ScriptedModel.ScriptStep> =>
  Array.from({ length: n }, (_, run) => [
    ...Array.from({ length: 7 }, (_, i) => ({
      toolCalls: [{ name: "search", arguments: { q: `${run}-${i % 3}` } }],
      usage: { inputTokens: 100 * (i + 1), outputTokens: 10, costUsd: 0.001 }
    })),
    { text: "done", usage: { inputTokens: 900, outputTokens: 10, costUsd: 0.001 } }
  ]).flat()

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const dir = mkdtempSync(join(tmpdir(), "sextant-bench-detect-"))
  try {
    const url = `sqlite:${join(dir, "bench.db")}`
    const recorder = SqlRecorder.layerFromUrl(url)
    const seeded = await Effect.runPromise(
      Effect.gen(function*() {
        const agent = yield* Agent.make({ name: "bench", instructions: "", tools: [search] })
        const ids: Array<string> = []
        for (let i = 0; i < RUNS; i++) ids.push((yield* agent.run("go")).runId)
        return ids
      }).pipe(
        Effect.provide(Layer.merge(ScriptedModel.layer(script(RUNS)), recorder)),
        Logger.withMinimumLogLevel(LogLevel.None)
      )
    )

    const store = await RunStore.fromDatabaseUrl(url)
    const runId = seeded[0]!
    const page = await store.getEvents(runId, { limit: 1000 })
    const events = page.items.map(RunEvents.fromStored)
    const read = await time(async () => {
      for (let i = 0; i < REPEAT; i++) await store.getEvents(runId, { limit: 1000 })
    })
    const detect = await time(async () => {
      for (let i = 0; i < REPEAT; i++) Catalogue.detect(runId, events)
    })
    await store.close()

    const backfill = await Effect.runPromise(
      Effect.gen(function*() {
        const detectors = yield* Detectors
        return yield* Effect.promise(() =>
          time(() => Effect.runPromise(detectors.backfill({ since: "2000-01-01T00:00:00Z" })))
        )
      }).pipe(Effect.provide(Detectors.layer({}).pipe(Layer.provide(recorder), Layer.orDie)))
    )

    const detectUs = (detect.wallMs / REPEAT) * 1000
    const readUs = (read.wallMs / REPEAT) * 1000
    const perSecond = RUNS / (backfill.wallMs / 1000)
    const figures: Array<Figure> = [
      {
        name: "detectors.detect_per_run_us",
        value: detectUs,
        unit: "µs",
        ratio: detectUs / readUs,
        baseline: "RunStore.getEvents of the same run"
      },
      { name: "detectors.backfill_runs_per_s", value: perSecond, unit: "runs/s", ratio: null }
    ]
    return [{
      title: "Detectors: detection per run and backfill throughput",
      markdown: [
        `All 15 detectors over one recorded run of ${events.length} events, ${REPEAT} times, against reading the`,
        `run's events through the RunStore (SQLite), ${REPEAT} times; then \`Detectors.backfill\` over ${RUNS} recorded`,
        "runs (each: run row, events, baseline query, detect, one write transaction).",
        "",
        table(["measure", "wall", "CPU"], [
          ["detect, per run", `${num(detectUs, 1)} µs`, `${num((detect.cpuMs / REPEAT) * 1000, 1)} µs`],
          ["read events, per run", `${num(readUs, 1)} µs`, `${num((read.cpuMs / REPEAT) * 1000, 1)} µs`],
          [
            `backfill of ${RUNS} runs`,
            `${num(backfill.wallMs / 1000, 2)} s (${num(perSecond, 0)} runs/s)`,
            `${num(backfill.cpuMs / 1000, 2)} s`
          ]
        ])
      ].join("\n"),
      figures
    }]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
