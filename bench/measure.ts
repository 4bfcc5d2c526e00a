/**
 * The one way every benchmark measures: configurations run in alternating rounds in one process (A B A B …),
 * each round timed by the wall clock and by the process's CPU time (`process.cpuUsage`, user + system, every
 * thread of the process), after warm-up rounds; a full GC before the comparison and a young-generation GC
 * before every round (`--expose-gc`, which `npm run bench` passes). Not a full GC before every round: the
 * second after a forced full GC was 1.5–3× dearer in CPU for allocation-heavy Effect code (measured: a
 * 2,000-iteration kernel round 300 → 470 µs per iteration, most likely V8 rebuilding its heap sizing and
 * pretenuring feedback), which would penalise the configurations that retain the most; a young-generation GC
 * shows no such cost.
 * A figure is the median of its rounds with their spread (min–max); a ratio is the ratio of the medians of
 * two configurations measured in the same rounds, with the spread of the round-by-round ratios beside it, so
 * a machine shared with other work shows up as spread instead of as a wrong figure.
 */
import { monitorEventLoopDelay } from "node:perf_hooks"

/** Median, quartiles and extremes of a sample. */
export interface Stats {
  readonly n: number
  readonly median: number
  readonly min: number
  readonly max: number
  readonly q1: number
  readonly q3: number
}

/** Summary statistics of a sample (an empty sample gives NaN everywhere). */
export const stats = (xs: ReadonlyArray<number>): Stats => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (p: number) => {
    if (s.length === 0) return Number.NaN
    const i = (s.length - 1) * p
    const lo = Math.floor(i)
    const hi = Math.ceil(i)
    return s[lo]! + (s[hi]! - s[lo]!) * (i - lo)
  }
  return {
    n: s.length,
    median: at(0.5),
    min: s[0] ?? Number.NaN,
    max: s[s.length - 1] ?? Number.NaN,
    q1: at(0.25),
    q3: at(0.75)
  }
}

/** The p-quantile (0..1) of a sorted sample, nearest rank. */
export const quantile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!

/** Runs a full garbage collection when the process was started with `--expose-gc`. */
export const gc = (): void => (globalThis as { gc?: () => void }).gc?.()

/** Collects the young generation only (see the module comment for why rounds start with this). */
export const minorGc = (): void => (globalThis as { gc?: (o?: { type: "minor" }) => void }).gc?.({ type: "minor" })

/** Whether `gc()` really collects (the process has `--expose-gc`). */
export const gcExposed = (): boolean => typeof (globalThis as { gc?: unknown }).gc === "function"

/** Wall and CPU time of a piece of work, in ms. */
export interface Timing {
  readonly wallMs: number
  readonly cpuMs: number
}

/** Starts both clocks (wall, and the process's CPU time: user + system); `stop()` reads what has passed. */
export const startClocks = (): { readonly stop: () => Timing } => {
  const cpu = process.cpuUsage()
  const started = performance.now()
  return {
    stop: () => {
      const wallMs = performance.now() - started
      const used = process.cpuUsage(cpu)
      return { wallMs, cpuMs: (used.user + used.system) / 1000 }
    }
  }
}

/** Times `work` by the wall clock and by the process's CPU time (user + system). */
export const time = async <A>(work: () => Promise<A>): Promise<Timing & { readonly value: A }> => {
  const clocks = startClocks()
  const value = await work()
  return { ...clocks.stop(), value }
}

/** Event-loop responsiveness during a round. */
export interface LoopStats {
  /** `monitorEventLoopDelay` percentiles, ms. */
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  /** Share of the round's wall time spent in stalls longer than 50 ms (from a 5 ms ticker's gaps). */
  readonly stalledShare: number
}

/** Starts watching the event loop; `stop()` returns what it saw. */
export const watchEventLoop = (): { readonly stop: () => LoopStats } => {
  const histogram = monitorEventLoopDelay({ resolution: 5 })
  histogram.enable()
  const TICK = 5
  const started = performance.now()
  let last = started
  let stalled = 0
  const ticker = setInterval(() => {
    const now = performance.now()
    const gap = now - last
    if (gap > 50 + TICK) stalled += gap
    last = now
  }, TICK)
  return {
    stop: () => {
      clearInterval(ticker)
      histogram.disable()
      const now = performance.now()
      if (now - last > 50 + TICK) stalled += now - last
      const ms = (ns: number) => ns / 1e6
      return {
        p50Ms: ms(histogram.percentile(50)),
        p99Ms: ms(histogram.percentile(99)),
        maxMs: ms(histogram.max),
        stalledShare: stalled / Math.max(1, now - started)
      }
    }
  }
}

/** One configuration of an alternating comparison. */
export interface Config<S = unknown> {
  readonly name: string
  /** Builds the round's inputs before its clocks start (not measured). */
  readonly prepare?: () => S | Promise<S>
  /**
   * The measured work of one round; returns how many units (iterations, events, runs, requests) it did, or
   * the units with its own timing of the part that counts (when the round also does work that must not count).
   */
  readonly run: (state: S) => Promise<number | SelfTimed>
  /** Releases what `prepare` built, after the round's clocks stopped (not measured). */
  readonly cleanup?: (state: S) => unknown
  /** Also watch the event loop during each round. */
  readonly eventLoop?: boolean
}

/** A round that timed its own measured part (see `time`). */
export interface SelfTimed extends Timing {
  readonly units: number
}

/** One measured round of a configuration. */
export interface Round extends Timing {
  readonly units: number
  readonly loop?: LoopStats
}

/** A configuration's rounds and their statistics per unit of work. */
export interface Measured {
  readonly name: string
  readonly rounds: ReadonlyArray<Round>
  /** Wall ms per unit. */
  readonly wall: Stats
  /** CPU ms per unit. */
  readonly cpu: Stats
  /** Units per wall second. */
  readonly rate: Stats
  readonly loop?: { readonly p50Ms: Stats; readonly p99Ms: Stats; readonly maxMs: Stats; readonly stalledShare: Stats }
}

/** Options of `alternate`. */
export interface AlternateOptions {
  /** Measured rounds of every configuration (default 5, or `BENCH_ROUNDS`). */
  readonly rounds?: number
  /** Unmeasured rounds of every configuration first (default 1). */
  readonly warmup?: number
  /** Called after each round, for progress output. */
  readonly onRound?: (name: string, round: Round) => void
}

/** Rounds from `BENCH_ROUNDS` when set, else `fallback`. */
export const roundsFromEnv = (fallback: number): number => {
  const n = Number(process.env.BENCH_ROUNDS)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

const runRound = async <S>(config: Config<S>): Promise<Round> => {
  const state = config.prepare === undefined ? (undefined as S) : await config.prepare()
  minorGc()
  const watch = config.eventLoop === true ? watchEventLoop() : undefined
  const timed = await time(() => config.run(state))
  const loop = watch?.stop()
  await config.cleanup?.(state)
  const own = typeof timed.value === "number" ? { ...timed, units: timed.value } : timed.value
  return { wallMs: own.wallMs, cpuMs: own.cpuMs, units: own.units, ...(loop === undefined ? {} : { loop }) }
}

/**
 * Runs every configuration in turn, round after round (A B C A B C …), after a full GC and `warmup`
 * unmeasured rounds, with a young-generation GC and the round's unmeasured `prepare` before each round.
 */
export const alternate = async (
  configs: ReadonlyArray<Config<any>>,
  options: AlternateOptions = {}
): Promise<Record<string, Measured>> => {
  const rounds = options.rounds ?? roundsFromEnv(5)
  gc()
  for (let w = 0; w < (options.warmup ?? 1); w++) for (const c of configs) await runRound(c)
  const seen = new Map<string, Array<Round>>(configs.map((c) => [c.name, []]))
  for (let r = 0; r < rounds; r++) {
    // Rotating the order each round keeps any drift (a growing table, a warming cache) off one configuration.
    for (let i = 0; i < configs.length; i++) {
      const c = configs[(i + r) % configs.length]!
      const round = await runRound(c)
      seen.get(c.name)!.push(round)
      options.onRound?.(c.name, round)
    }
  }
  return Object.fromEntries(configs.map((c) => [c.name, summarise(c.name, seen.get(c.name)!)]))
}

/** Statistics of a configuration's rounds. */
export const summarise = (name: string, rounds: ReadonlyArray<Round>): Measured => {
  const loops = rounds.flatMap((r) => (r.loop === undefined ? [] : [r.loop]))
  return {
    name,
    rounds,
    wall: stats(rounds.map((r) => r.wallMs / r.units)),
    cpu: stats(rounds.map((r) => r.cpuMs / r.units)),
    rate: stats(rounds.map((r) => (r.units * 1000) / r.wallMs)),
    ...(loops.length === 0 ? {} : {
      loop: {
        p50Ms: stats(loops.map((l) => l.p50Ms)),
        p99Ms: stats(loops.map((l) => l.p99Ms)),
        maxMs: stats(loops.map((l) => l.maxMs)),
        stalledShare: stats(loops.map((l) => l.stalledShare))
      }
    })
  }
}

/** A ratio of medians with the spread of the same ratio taken round by round. */
export interface Ratio {
  readonly value: number
  readonly min: number
  readonly max: number
}

const paired = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): Array<number> =>
  a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i]!)

/** `a` per unit ÷ `b` per unit, by wall and by CPU time (above 1: `a` costs more). */
export const costRatio = (a: Measured, b: Measured): { readonly wall: Ratio; readonly cpu: Ratio } => {
  const per = (m: Measured, k: "wallMs" | "cpuMs") => m.rounds.map((r) => r[k] / r.units)
  const pw = stats(paired(per(a, "wallMs"), per(b, "wallMs")))
  const pc = stats(paired(per(a, "cpuMs"), per(b, "cpuMs")))
  return {
    wall: { value: a.wall.median / b.wall.median, min: pw.min, max: pw.max },
    cpu: { value: a.cpu.median / b.cpu.median, min: pc.min, max: pc.max }
  }
}

/** `a`'s rate ÷ `b`'s rate (above 1: `a` does more per second); the inverse of the wall cost ratio. */
export const rateRatio = (a: Measured, b: Measured): Ratio => {
  const pr = stats(paired(a.rounds.map((r) => r.units / r.wallMs), b.rounds.map((r) => r.units / r.wallMs)))
  return { value: a.rate.median / b.rate.median, min: pr.min, max: pr.max }
}

/** `a` against `b` by CPU, oriented as a rate ratio (above 1: `a` costs less CPU per unit). */
export const cpuRateRatio = (a: Measured, b: Measured): number => b.cpu.median / a.cpu.median

/** A number with `digits` decimals (grouped thousands from 10,000). */
export const num = (x: number, digits = 1): string =>
  !Number.isFinite(x)
    ? "n/a"
    : Math.abs(x) >= 10_000
    ? Math.round(x).toLocaleString("en-US")
    : x.toFixed(digits)

/** Digits that keep about three significant figures. */
export const sig = (x: number): string =>
  num(x, Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : Math.abs(x) >= 1 ? 2 : 3)

/** "median (min–max)" of a statistic, scaled (e.g. 1000 for ms → µs). */
export const spread = (s: Stats, scale = 1, unit = ""): string =>
  `${sig(s.median * scale)}${unit} (${sig(s.min * scale)}–${sig(s.max * scale)})`

/** "1.23× (1.10–1.40)". */
export const ratioText = (r: Ratio, digits = 2): string =>
  `${num(r.value, digits)}× (${num(r.min, digits)}–${num(r.max, digits)})`

/** A markdown table. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, align?: string) =>
  [
    `| ${header.join(" | ")} |`,
    align ?? `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

/** A compact round log line for the console. */
export const logRound = (prefix: string) => (name: string, r: Round) =>
  console.log(
    `  ${prefix} ${name}: ${num(r.wallMs, 0)} ms wall, ${num(r.cpuMs, 0)} ms CPU, ${r.units} units` +
      (r.loop === undefined ? "" : `, loop p99 ${num(r.loop.p99Ms, 1)} ms`)
  )
