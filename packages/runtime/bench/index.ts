/**
 * Kernel cost per loop iteration. A scripted instant model turn calling one no-op tool, 200 iterations a run,
 * on the memory recorder, against (a) a plain-Effect loop doing the same logical steps (`Effect.gen`, one
 * service call per event, a `Ref` for the sequence, an offer per consumer; see `bench/plainLoop.ts`) and
 * (b) the same steps as a bare async loop. Both with three no-op notifiers (consumers) and without. Also the
 * kernel's CPU per iteration against the figure stored in `bench/baseline.json` (the "before" of the hot-path
 * work), the heap a run retains, and a CPU profile of the kernel.
 */
import { Agent, LanguageModel, Notifier, Notifiers, Recorder, Tool } from "@sextant/runtime"
import { Effect, Exit, Layer, ManagedRuntime, Schema, Scope, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  alternate,
  costRatio,
  gc,
  gcExposed,
  logRound,
  type Measured,
  num,
  ratioText,
  roundsFromEnv,
  spread,
  table
} from "../../../bench/measure.js"
import {
  bareAsyncRun,
  type KernelPatterns,
  loopScript,
  plainConsumers,
  plainEffectRun,
  type PlainEvent,
  PlainModel,
  plainModel,
  PlainSink,
  plainSink,
  responseOf,
  type Script
} from "../../../bench/plainLoop.js"
import { cpuProfile, summarise, summaryMarkdown } from "../../../bench/profile.js"
import { type BenchSection, costFigure, type Figure } from "../../../bench/section.js"
import { redactionSection } from "./redaction.js"

const PER_RUN = 200
const RUNS = Number(process.env.BENCH_KERNEL_RUNS ?? 25)
const ITERATIONS = RUNS * PER_RUN
const ROUNDS = roundsFromEnv(5)
const root = fileURLToPath(new URL("../../../", import.meta.url))
const baselineFile = `${root}bench/baseline.json`

const script = loopScript(PER_RUN, "noop")

/** The benchmark model: the turn for the request's iteration (stateless, so runs may interleave). */
export const benchModel = (s: Script) =>
  Layer.succeed(
    LanguageModel,
    LanguageModel.make({
      provider: "bench",
      model: "bench-1",
      generate: (request) => Effect.sync(() => responseOf(s(request.iteration), request.iteration)),
      stream: (request) =>
        Stream.make({ _tag: "Done" as const, response: responseOf(s(request.iteration), request.iteration) })
    })
  )

const noop = Tool.make("noop", {
  description: "does nothing",
  parameters: Schema.Struct({ i: Schema.Number }),
  handler: ({ i }) => i
})
const agent = Agent.makeSync({ name: "bench", instructions: "", tools: [noop], maxIterations: PER_RUN })
const noopNotifiers = (n: number) =>
  Array.from({ length: n }, (_, k) => Notifier.make({ name: `n${k}`, onEvent: () => undefined }))

type KernelRuntime = ManagedRuntime.ManagedRuntime<LanguageModel | Recorder, never>

const kernel = (notifiers: number) => ({
  name: notifiers === 0 ? "kernel, no notifiers" : `kernel, ${notifiers} no-op notifiers`,
  prepare: async (): Promise<KernelRuntime> => {
    const layers = Layer.mergeAll(benchModel(script), Recorder.memory)
    const rt = ManagedRuntime.make(
      notifiers === 0 ? layers : Layer.merge(layers, Notifiers.layer(noopNotifiers(notifiers)))
    )
    await rt.runPromise(Effect.void)
    return rt as KernelRuntime
  },
  run: async (rt: KernelRuntime) => {
    await rt.runPromise(Effect.forEach(Array.from({ length: RUNS }), () => agent.run("go"), { discard: true }))
    return ITERATIONS
  },
  cleanup: (rt: KernelRuntime) => rt.dispose()
})

interface PlainState {
  readonly scope: Scope.CloseableScope
  readonly consumers: ReadonlyArray<(event: PlainEvent) => void>
}

const plain = (consumers: number, patterns?: { readonly label: string; readonly add: KernelPatterns }) => ({
  name: patterns !== undefined
    ? `plain Effect + ${patterns.label}`
    : consumers === 0
    ? "plain Effect, no consumers"
    : `plain Effect, ${consumers} consumers`,
  prepare: async (): Promise<PlainState> => {
    const scope = Effect.runSync(Scope.make())
    const made = await Effect.runPromise(Scope.extend(plainConsumers(consumers), scope))
    return { scope, consumers: made }
  },
  run: async (state: PlainState) => {
    const { sink } = plainSink(true)
    const tools = { noop: (args: unknown) => Effect.succeed((args as { i: number }).i) }
    await Effect.runPromise(
      Effect.forEach(
        Array.from({ length: RUNS }),
        (_, r) =>
          plainEffectRun({
            runId: `r${r}`,
            input: "go",
            maxIterations: PER_RUN,
            tools,
            consumers: state.consumers,
            ...(patterns === undefined ? {} : { patterns: patterns.add })
          }),
        { discard: true }
      ).pipe(Effect.provideService(PlainModel, plainModel(script)), Effect.provideService(PlainSink, sink))
    )
    return ITERATIONS
  },
  cleanup: (state: PlainState) => Effect.runPromise(Scope.close(state.scope, Exit.void))
})

const bare = {
  name: "bare async loop",
  run: async () => {
    const tools = { noop: async (args: unknown) => (args as { i: number }).i }
    for (let r = 0; r < RUNS; r++) {
      await bareAsyncRun({ runId: `r${r}`, input: "go", maxIterations: PER_RUN, script, tools, events: [] })
    }
    return ITERATIONS
  }
}

/** Heap retained per run of 20 iterations when the memory recorder keeps every event. */
const memoryPerRun = async (): Promise<number> => {
  if (!gcExposed()) return Number.NaN
  const runs = 200
  const small = Agent.makeSync({ name: "mem", instructions: "", tools: [noop], maxIterations: 20 })
  const rt = ManagedRuntime.make(Layer.merge(benchModel(loopScript(20, "noop")), Recorder.memory))
  try {
    await rt.runPromise(Effect.void)
    gc()
    const before = process.memoryUsage().heapUsed
    await rt.runPromise(Effect.forEach(Array.from({ length: runs }), () => small.run("go"), { discard: true }))
    gc()
    return (process.memoryUsage().heapUsed - before) / runs
  } finally {
    await rt.dispose()
  }
}

interface Baseline {
  readonly kernel?: {
    readonly commit: string
    readonly sourceClean: boolean
    readonly measuredAt: string
    readonly cpuUsPerIteration: number
    readonly wallUsPerIteration: number
    readonly plainEffectCpuUsPerIteration: number
    readonly note: string
  }
}

const readBaseline = (): Baseline =>
  existsSync(baselineFile) ? (JSON.parse(readFileSync(baselineFile, "utf8")) as Baseline) : {}

const git = (...args: Array<string>) => {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim()
  } catch {
    return ""
  }
}

/** Stores today's kernel figures as the "before" (only when `BENCH_SAVE_BASELINE=1`). */
const saveBaseline = (k: Measured, p: Measured) => {
  const next: Baseline = {
    ...readBaseline(),
    kernel: {
      commit: git("rev-parse", "HEAD"),
      sourceClean: git("status", "--porcelain", "packages/runtime/src") === "",
      measuredAt: new Date().toISOString(),
      cpuUsPerIteration: k.cpu.median * 1000,
      wallUsPerIteration: k.wall.median * 1000,
      plainEffectCpuUsPerIteration: p.cpu.median * 1000,
      note: "kernel with the memory recorder and 3 no-op notifiers, 200-iteration runs of one no-op tool call; " +
        "written by BENCH_SAVE_BASELINE=1 npm run bench -- runtime"
    }
  }
  writeFileSync(baselineFile, JSON.stringify(next, null, 2) + "\n")
}

const PROFILE_MARKERS: ReadonlyArray<readonly [string, RegExp]> = [
  ["tool call: `executeTool` (incl. its `timeoutFail` race)", /^executeTool |toolExecution\.ts/],
  [
    "fiber fork (`unsafeFork`, FiberRefs copied: the timeout race, forked fibers)",
    /unsafeFork|forkAs|unsafeMakeChildFiber/
  ],
  [
    "timer armed or cleared (`setTimeout`/`clearTimeout`, the 120 s tool timeout)",
    /setTimeout|clearTimeout|unsafeSchedule/
  ],
  ["semaphore (`withPermits`: the emit lock)", /withPermits|Semaphore|semaphore|\btake\b.*circular|release/],
  ["bus `emit`", /bus\.ts/],
  ["memory recorder", /Recorder\.ts/],
  ["notifier dispatch (`dispatch.ts`, `Notifiers.ts`)", /dispatch\.ts|Notifiers\.ts/],
  ["Schema (decode/encode)", /effect\/dist\/esm\/(Schema|ParseResult|SchemaAST)\.js/],
  ["ids (`Ids.make`, ULID)", /Ids\.ts|ulid/i],
  ["JSON sanitising (`sanitize.ts`, `json.ts`)", /sanitize\.ts|internal\/json\.ts/]
]

/** The kernel's patterns the issue names as its hot spots, added to the plain loop (3 consumers) one at a time. */
const ABLATIONS: ReadonlyArray<{ readonly label: string; readonly add: KernelPatterns; readonly what: string }> = [
  {
    label: "tool timeout race",
    add: { toolTimeout: true },
    what: "each tool call in `Effect.timeoutFail` (120 s) + `Effect.exit`, as `executeTool` does"
  },
  { label: "emit lock", add: { emitLock: true }, what: "each emit in `Semaphore.withPermits(1)`, as the bus does" },
  {
    label: "kernel-shaped emit",
    add: { kernelEmit: true },
    what: "emit as the bus shapes it: `Clock` lookup, `uninterruptible` + `tap`, `Effect.forEach` over sinks"
  },
  {
    label: "all three",
    add: { toolTimeout: true, emitLock: true, kernelEmit: true },
    what: "the three together"
  }
]

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const configs = [kernel(3), plain(3), kernel(0), plain(0), bare, ...ABLATIONS.map((a) => plain(3, a))]
  const m = await alternate(configs, { rounds: ROUNDS, warmup: 1, onRound: logRound("runtime") })
  const k3 = m["kernel, 3 no-op notifiers"]!
  const k0 = m["kernel, no notifiers"]!
  const p3 = m["plain Effect, 3 consumers"]!
  const p0 = m["plain Effect, no consumers"]!
  const b = m["bare async loop"]!
  if (process.env.BENCH_SAVE_BASELINE === "1") saveBaseline(k3, p3)
  const saved = readBaseline().kernel
  const mem = await memoryPerRun()

  // A profile of the kernel as it is, for whoever optimises it: one round's worth of runs.
  const state = await kernel(3).prepare()
  const profile = await cpuProfile("kernel", () => kernel(3).run(state))
  await state.dispose()
  const profiled = summarise(profile, PROFILE_MARKERS)

  const us = (s: Measured["wall"]) => spread(s, 1000, " µs")
  const rows = [
    [k3, p3],
    [p3, p3],
    [k0, p0],
    [p0, p0],
    [b, p3]
  ].map(([x, base]) => {
    const r = costRatio(x!, base!)
    return [
      x!.name,
      us(x!.cpu),
      us(x!.wall),
      x === base ? "1 (baseline)" : ratioText(r.cpu),
      x === base ? "" : ratioText(r.wall)
    ]
  })
  const gap = (k3.cpu.median - p3.cpu.median) * 1000
  const ablationRows = ABLATIONS.map((a) => {
    const x = m[`plain Effect + ${a.label}`]!
    const added = (x.cpu.median - p3.cpu.median) * 1000
    return [a.label, a.what, us(x.cpu), `+${num(added, 1)} µs`, `${num((100 * added) / gap, 0)}%`]
  })
  const today = saved === undefined ? undefined : k3.cpu.median * 1000 / saved.cpuUsPerIteration
  const todayNormalised = saved === undefined
    ? undefined
    : (k3.cpu.median / p3.cpu.median) / (saved.cpuUsPerIteration / saved.plainEffectCpuUsPerIteration)
  const figures: Array<Figure> = [
    costFigure(k3, p3, {
      name: "kernel vs plain Effect",
      clock: "cpu",
      scale: 1000,
      unit: "µs CPU per iteration",
      baseline: "plain-Effect loop, same logical steps, 3 consumers (CPU)",
      target: { of: "ratio", max: 1.5 }
    }),
    costFigure(k3, p3, {
      name: "kernel vs plain Effect (wall)",
      scale: 1000,
      unit: "µs wall per iteration",
      baseline: "plain-Effect loop, same logical steps, 3 consumers (wall)",
      other: false
    }),
    costFigure(k0, p0, {
      name: "kernel without notifiers vs plain Effect without consumers",
      clock: "cpu",
      scale: 1000,
      unit: "µs CPU per iteration",
      baseline: "plain-Effect loop, no consumers (CPU)"
    }),
    costFigure(k3, b, {
      name: "kernel vs bare async loop",
      clock: "cpu",
      scale: 1000,
      unit: "µs CPU per iteration",
      baseline: "bare async loop pushing the same events into an array (CPU)"
    }),
    {
      name: "kernel vs today's kernel",
      value: k3.cpu.median * 1000,
      unit: "µs CPU per iteration",
      ratio: today ?? null,
      baseline: saved === undefined
        ? "no bench/baseline.json"
        : `bench/baseline.json: ${num(saved.cpuUsPerIteration, 1)} µs CPU per iteration at ${
          saved.commit.slice(0, 10)
        }`,
      target: { of: "ratio", max: 0.4 }
    }
  ]
  const markdown = [
    `${ITERATIONS.toLocaleString("en-US")} iterations a round (${RUNS} runs × ${PER_RUN}), each a scripted instant ` +
    "model turn calling one no-op tool, on the memory recorder; " +
    `${ROUNDS} measured rounds after a warm-up, configurations alternating, a young-generation GC before each round (see \`bench/measure.ts\`). ` +
    "CPU is `process.cpuUsage` (user + system, all threads) per iteration; medians with the min–max of the rounds; " +
    "ratios are of the medians, with the min–max of the round-by-round ratios.",
    "",
    "- **kernel**: the full loop (every event stamped, recorded to the memory recorder, offered to each notifier's " +
    "mailbox; the tool call decoded, timed out, its result checked).",
    "- **plain Effect** (the baseline): the same logical steps written plainly in Effect (`bench/plainLoop.ts`): " +
    "`Effect.gen`, one model service call per turn, the tool's effect, and per event a `Ref` for the sequence, one " +
    "sink service call (an in-memory array, as the memory recorder) and a synchronous offer to each consumer's " +
    "mailbox, each drained by its own fiber.",
    "- **bare async loop**: the same steps as a plain async function (an extra row: the floor without Effect).",
    "",
    table(
      ["configuration", "CPU per iteration", "wall per iteration", "CPU vs baseline", "wall vs baseline"],
      rows,
      "|---|---:|---:|---:|---:|"
    ),
    "",
    `Baselines: kernel rows against the plain-Effect row with the same number of consumers; the bare loop against plain ` +
    "Effect with 3 consumers.",
    "",
    saved === undefined
      ? "No `bench/baseline.json`: run `BENCH_SAVE_BASELINE=1 npm run bench -- runtime` to store today's kernel as the \"before\"."
      : `**Against the stored "before"** (\`bench/baseline.json\`, commit \`${saved.commit.slice(0, 10)}\`${
        saved.sourceClean ? "" : ", runtime sources modified"
      }, ${saved.measuredAt.slice(0, 10)}: ${num(saved.cpuUsPerIteration, 1)} µs CPU per iteration, plain Effect ${
        num(saved.plainEffectCpuUsPerIteration, 1)
      } µs): now **${num(today!, 2)}×** by CPU; normalised by the plain-Effect loop of each run (which cancels a ` +
        `faster or slower machine) ${num(todayNormalised!, 2)}×. Target ≤ 0.4.`,
    "",
    "**What the kernel's hot spots cost** (the issue's ablation, run the other way round: the kernel's patterns " +
    "added one at a time to the plain-Effect loop with 3 consumers, so the kernel's sources stay untouched). " +
    `The kernel costs ${num(gap, 0)} µs CPU per iteration more than the plain loop; each row's share is of that gap.`,
    "",
    table(
      ["added to the plain loop", "what", "CPU per iteration", "added", "share of the kernel's extra cost"],
      ablationRows,
      "|---|---|---:|---:|---:|"
    ),
    "",
    `Heap retained per 20-iteration run (the memory recorder keeps its 122 events): ${
      Number.isNaN(mem) ? "n/a (run with --expose-gc)" : `${num(mem / 1024, 1)} KiB`
    }.`
  ].join("\n")
  return [
    { title: "Runtime: kernel cost per loop iteration", markdown, figures },
    {
      title: "Runtime: where the kernel's time goes (CPU profile)",
      markdown: [
        `One round of the kernel row (${
          ITERATIONS.toLocaleString("en-US")
        } iterations, 3 no-op notifiers), sampled by ` +
        "V8's profiler in-process (`bench/profile.ts`; `BENCH_PROFILE_DIR=dir` keeps the `.cpuprofile`).",
        "",
        summaryMarkdown(profiled)
      ].join("\n")
    },
    await redactionSection()
  ]
}
