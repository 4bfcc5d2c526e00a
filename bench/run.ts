/**
 * `npm run bench`: runs every `packages/<pkg>/bench/index.ts` (each default-exports a function returning its
 * sections and figures, see `section.ts`) and writes BENCHMARKS.md (machine, date, the targets table, every
 * section, the findings of `findings.md`, how long each section took) and `bench/results.json` (every figure).
 * `npm run bench -- runtime recorder` runs a subset and writes nothing (it prints the figures).
 * `BENCH_SAVE_BASELINE=1 npm run bench` also stores the figures in `bench/baseline.json` as the "before" that
 * later runs are shown against.
 */
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import { gcExposed, num, table } from "./measure.js"
import { type BenchSection, type Figure, meets, targetText } from "./section.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const only = process.argv.slice(2)
const order = [
  "runtime",
  "recorder",
  "notifiers",
  "store",
  "detectors",
  "http-router",
  "providers",
  "trace",
  "dashboard",
  "fleet",
  "cli"
]
const packages = readdirSync(`${root}packages`)
  .filter((p) => existsSync(`${root}packages/${p}/bench/index.ts`))
  .filter((p) => only.length === 0 || only.includes(p))
  .sort((a, b) => order.indexOf(a) - order.indexOf(b))
const unknown = only.filter((p) => !packages.includes(p))
if (unknown.length > 0) {
  console.error(`no benchmark for ${unknown.join(", ")} (packages with one: ${order.join(", ")})`)
  process.exit(2)
}
if (!gcExposed()) {
  console.warn("warning: run with --expose-gc (npm run bench does) so rounds start from a collected heap")
}

const git = (...args: Array<string>) => {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim()
  } catch {
    return ""
  }
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" / ")
const startedAt = new Date()
const loadAtStart = load()
const sections: Array<BenchSection> = []
const timings: Array<readonly [string, number]> = []
const failed: Array<string> = []
for (const pkg of packages) {
  console.log(`== ${pkg}`)
  const started = Date.now()
  let result: ReadonlyArray<BenchSection>
  try {
    const mod = (await import(pathToFileURL(`${root}packages/${pkg}/bench/index.ts`).href)) as {
      default: () => Promise<ReadonlyArray<BenchSection>>
    }
    result = await mod.default()
  } catch (error) {
    // One package's failure must not lose the others' figures; it is reported and the run exits non-zero.
    console.error(`${pkg} failed:`, error)
    failed.push(pkg)
    result = [{
      title: `${pkg}: failed`,
      markdown: `This package's benchmark failed in this run: \`${String(error).split("\n")[0]}\`.`
    }]
  }
  sections.push(...result)
  for (const s of result) console.log(`## ${s.title}\n${s.markdown}\n`)
  const seconds = (Date.now() - started) / 1000
  timings.push([pkg, seconds])
  console.log(`(${pkg}: ${seconds.toFixed(1)} s)`)
}

const figures: Array<Figure & { readonly met?: boolean }> = sections.flatMap((s) =>
  (s.figures ?? []).map((f) => {
    const met = meets(f)
    return met === undefined ? f : { ...f, met }
  })
)

/** The issue's Targets table (issue 20), in its order, with what it reported as "today". */
const TARGETS: ReadonlyArray<readonly [name: string, label: string, issueToday: string]> = [
  ["kernel vs plain Effect", "kernel per iteration vs the plain-Effect loop (CPU)", "~3.5×"],
  ["kernel vs today's kernel", "kernel per iteration vs today's kernel (CPU)", "1.0"],
  [
    "recorder sqlite vs raw incl. serialisation",
    "recorder, 100 concurrent runs, vs raw driver incl. serialisation, SQLite",
    "~0.5"
  ],
  ["recorder postgres vs raw incl. serialisation", "… Postgres", "–"],
  ["recorder vs naive", "recorder vs naive commit-per-event through the same driver (SQLite, 100 runs)", "3–4×"],
  [
    "router vs bare handler same queries",
    "`GET /runs?limit=50` vs bare handler running the same queries (SQLite)",
    "~0.3"
  ],
  ["listRuns sqlite vs driver", "`listRuns` p50 vs driver, SQLite (status + tenant)", "2.75×"],
  ["listRuns postgres vs driver", "`listRuns` p50 vs driver, Postgres (status + tenant)", "1.55×"],
  [
    "notifiers instant tool vs none",
    "run wall time with five notifiers (one sleeping, one throwing) vs none, instant tool",
    "1.63"
  ],
  [
    "sqlite run vs memory run",
    "a scripted 3-turn, 2-tool run recorded to SQLite vs the memory recorder, sequential",
    "~3.9×"
  ],
  [
    "event latency vs raw commit",
    "latency per recorded event at concurrency 1 vs the raw driver committing it alone (SQLite)",
    "~3×"
  ],
  [
    "throughput 100 concurrent vs plain Effect",
    "runs/s at 100 concurrent runs (20 ms tools) vs a plain-Effect loop",
    "not measured"
  ],
  [
    "event loop p99 ms sqlite 100 concurrent",
    "event-loop delay p99 at 100 concurrent runs, SQLite",
    "stalls > 50 ms 98–100 %"
  ],
  ["usage 1M vs 10k", "`usage()` by tenant and day over 1M runs vs 10k", "~160×"]
]

const baselineFile = `${root}bench/baseline.json`
const baseline = existsSync(baselineFile)
  ? (JSON.parse(readFileSync(baselineFile, "utf8")) as {
    readonly figures?: { readonly commit: string; readonly measuredAt: string; readonly list: ReadonlyArray<Figure> }
  })
  : {}
const before = new Map((baseline.figures?.list ?? []).map((f) => [f.name, f]))

const shown = (f: Figure | undefined) => {
  if (f === undefined) return "not measured"
  const v = f.target?.of === "value" || f.ratio === null
    ? `${num(f.value, 1)} ${f.unit.split(" ")[0]}`
    : `${num(f.ratio, 2)}×`
  return f.spread === undefined ? v : `${v} (${num(f.spread[0], 2)}–${num(f.spread[1], 2)})`
}
const targetsTable = table(
  [
    "figure",
    "issue's \"today\"",
    ...(before.size === 0 ? [] : [`before (${baseline.figures!.commit.slice(0, 10)})`]),
    "this run (spread)",
    "other clock",
    "target",
    "met"
  ],
  TARGETS.map(([name, label, issueToday]) => {
    const f = figures.find((x) => x.name === name)
    return [
      `${label} — \`${name}\``,
      issueToday,
      ...(before.size === 0 ? [] : [shown(before.get(name))]),
      shown(f),
      f?.cpuRatio !== undefined
        ? `CPU ${num(f.cpuRatio, 2)}×`
        : f?.wallRatio !== undefined
        ? `wall ${num(f.wallRatio, 2)}×`
        : "",
      f === undefined ? "" : targetText(f),
      f === undefined ? "" : f.met === true ? "yes" : "**no**"
    ]
  })
)

const cpus = os.cpus()
const commit = git("rev-parse", "HEAD")
// What the bench itself writes does not make the measured sources dirty.
const dirty = git(
  "status",
  "--porcelain",
  "--untracked-files=no",
  "--",
  "packages",
  "bench",
  ":!bench/baseline.json",
  ":!bench/results.json"
) !== ""
const findings = existsSync(`${root}bench/findings.md`) ? readFileSync(`${root}bench/findings.md`, "utf8").trim() : ""
const total = timings.reduce((s, [, t]) => s + t, 0)
const markdown = [
  "# Benchmarks",
  "",
  "Written by `npm run bench` (`bench/run.ts`); the figures are also in `bench/results.json`. Every figure that",
  "depends on the machine is a ratio against a baseline doing the same work, measured in the same process in",
  "alternating rounds (A B A B …, order rotated, a young-generation GC before each round and a full one before each comparison, warm-up rounds first), so it means",
  "the same thing on another machine; absolute numbers are for orientation. Wall time and CPU time",
  "(`process.cpuUsage`: user + system of every thread of the process) are given side by side, as medians with",
  "the min–max of the rounds; a ratio is the ratio of the medians, with the min–max of the round-by-round ratios.",
  "This machine is shared with other work: the spread says how much to trust a figure. See `bench/measure.ts`.",
  "",
  `- Date: ${startedAt.toISOString()} (${total.toFixed(0)} s in all)`,
  `- Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${
    (os.totalmem() / 2 ** 30).toFixed(0)
  } GiB, ${os.platform()} ${os.release()}; load average (1/5/15 min) ${loadAtStart} at the start, ${load()} at the end`,
  `- Node ${process.version}, ${gcExposed() ? "--expose-gc" : "without --expose-gc (rounds not collected)"}`,
  `- Commit ${commit.slice(0, 12)}${dirty ? " (with uncommitted changes)" : ""}`,
  "",
  "## Targets (issue 20)",
  "",
  targetsTable,
  "",
  "\"This run\" is the ratio in the form its target is stated (throughput or wall time, unless the figure says CPU),",
  "with the min–max of the round-by-round ratios; \"other clock\" is the same ratio by CPU (or wall) time. On a",
  "machine shared with other work, wall time includes waiting for a CPU and CPU time does not (see the findings).",
  "",
  ...sections.flatMap((s) => [`## ${s.title}`, "", s.markdown, ""]),
  ...(findings === "" ? [] : [findings, ""]),
  "## How long each part took",
  "",
  table(["package", "seconds"], timings.map(([p, t]) => [p, t.toFixed(0)]), "|---|---:|"),
  ""
].join("\n")

if (only.length === 0) {
  writeFileSync(`${root}BENCHMARKS.md`, markdown)
  writeFileSync(`${root}bench/results.json`, JSON.stringify(figures, null, 2) + "\n")
  if (process.env.BENCH_SAVE_BASELINE === "1" && failed.length === 0) {
    const current = existsSync(baselineFile) ? JSON.parse(readFileSync(baselineFile, "utf8")) : {}
    writeFileSync(
      baselineFile,
      JSON.stringify(
        { ...current, figures: { commit, sourceClean: !dirty, measuredAt: startedAt.toISOString(), list: figures } },
        null,
        2
      ) + "\n"
    )
    console.log("stored the figures in bench/baseline.json as the \"before\"")
  }
  console.log("wrote BENCHMARKS.md and bench/results.json")
} else {
  console.log(JSON.stringify(figures, null, 2))
  console.log("(partial run: BENCHMARKS.md and bench/results.json not written)")
}
if (failed.length > 0) {
  console.error(`failed: ${failed.join(", ")}`)
  process.exitCode = 1
}
