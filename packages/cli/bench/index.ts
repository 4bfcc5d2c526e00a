/**
 * The CLI's data lifecycle: prune throughput on each dialect. `BENCH_PRUNE_RUNS` finished runs (default
 * 100,000; each with 4 events, 2 messages, a tool call, a model call with ~3 KB of payload and a usage row,
 * seeded by bulk SQL) are pruned by `Retention.prune` (what `sextant prune` runs: batches of 1,000 runs, one
 * transaction each, counts per table) and, on a fresh copy of the same rows, by the raw driver deleting the
 * same runs 1,000 ids per transaction (the same keyset), and by one `DELETE … WHERE` of them all. Each prune
 * runs in a process of its own, so its peak RSS is its own. The ratio is Retention's rate over the raw
 * batched rate (1.0 = no overhead; the counting queries are the gap).
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { BenchSection, Figure } from "../../../bench/section.js"
import { bulkSeed, freshDatabase } from "../test/support.js"

const RUNS = Number(process.env.BENCH_PRUNE_RUNS ?? 100_000)
const child = fileURLToPath(new URL("./prune-child.ts", import.meta.url))
const root = fileURLToPath(new URL("../../..", import.meta.url))
const modes = ["retention", "raw-batched", "raw-one"] as const

const measure = (mode: string, url: string) =>
  JSON.parse(
    execFileSync(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", child, mode, url], {
      cwd: root,
      encoding: "utf8"
    })
  ) as { runs: number; ms: number; maxRssMb: number }

export default async (): Promise<ReadonlyArray<BenchSection>> => {
  const rows: Array<Array<string>> = []
  const figures: Array<Figure> = []
  for (const dialect of ["sqlite", "postgres"] as const) {
    const results: Record<string, { runs: number; ms: number; maxRssMb: number }> = {}
    for (const mode of modes) {
      const db = await freshDatabase(dialect)
      try {
        await bulkSeed(db.url, RUNS)
        const r = measure(mode, db.url)
        if (r.runs !== RUNS) throw new Error(`${dialect} ${mode} pruned ${r.runs} of ${RUNS} runs`)
        results[mode] = r
        console.log(
          `cli prune ${dialect} ${mode}: ${Math.round(r.runs / (r.ms / 1000))} runs/s, ${r.maxRssMb.toFixed(0)} MB`
        )
      } finally {
        await db.drop()
      }
    }
    const rate = (mode: string) => results[mode]!.runs / (results[mode]!.ms / 1000)
    for (const mode of modes) {
      rows.push([
        dialect,
        mode,
        Math.round(rate(mode)).toLocaleString("en-US"),
        (results[mode]!.ms / 1000).toFixed(1),
        results[mode]!.maxRssMb.toFixed(0),
        (rate(mode) / rate("raw-batched")).toFixed(2)
      ])
    }
    figures.push({
      name: `prune rate ${dialect}`,
      value: Math.round(rate("retention")),
      unit: "runs/s",
      ratio: rate("retention") / rate("raw-batched"),
      baseline: "the raw driver deleting the same runs 1,000 ids per transaction"
    }, {
      name: `prune peak RSS ${dialect}`,
      value: Math.round(results.retention!.maxRssMb),
      unit: "MB",
      ratio: results.retention!.maxRssMb / results["raw-batched"]!.maxRssMb,
      baseline: "the raw batched delete's peak RSS"
    })
  }
  const table = [
    "| dialect | prune | runs/s | seconds | peak RSS (MB) | rate vs raw batched |",
    "|---|---|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")
  return [{
    title: `cli: prune of ${RUNS.toLocaleString("en-US")} runs`,
    markdown: `${table}\n\nEach prune in its own process (peak RSS is that process's \`maxRSS\`, start-up included); ` +
      "retention = `Retention.prune` in batches of 1,000 runs with counts per table (what `sextant prune` runs); " +
      "raw-batched = the driver deleting the same runs 1,000 ids per transaction by the same keyset; raw-one = one " +
      "`DELETE … WHERE` of them all (one transaction holding every row lock: what a batched prune avoids).",
    figures
  }]
}
