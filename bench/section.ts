/**
 * What each `packages/<pkg>/bench/index.ts` default export returns: markdown sections for BENCHMARKS.md and
 * the figures they contain, for `bench/results.json`; and the two shapes most figures take (a cost and a
 * throughput of one configuration against a baseline measured in the same alternating rounds).
 */
import { costRatio, cpuRateRatio, type Measured, rateRatio } from "./measure.js"

/** A target a figure is held to: an upper or lower bound on its `value` or its `ratio`. */
export interface Target {
  readonly of: "value" | "ratio"
  readonly max?: number
  readonly min?: number
}

/** One figure of `bench/results.json`. */
export interface Figure {
  /** A stable name a program can look up (the Targets table names). */
  readonly name: string
  /** The figure itself, in `unit` (the measured configuration's median). */
  readonly value: number
  readonly unit: string
  /**
   * The measured configuration against its baseline from the same run (what the Targets table states), or null
   * when the figure has no baseline.
   */
  readonly ratio: number | null
  /** The same ratio by CPU time, when `ratio` is by wall time (same orientation: comparable with the target). */
  readonly cpuRatio?: number
  /** The same ratio by wall time, when `ratio` is by CPU time. */
  readonly wallRatio?: number
  /** What the ratio divides by. */
  readonly baseline?: string
  /** Round-by-round extremes of the ratio (or of the value when there is no ratio). */
  readonly spread?: readonly [number, number]
  readonly target?: Target
}

/** A benchmark section: a title, markdown (tables with CPU beside wall, what each baseline does) and figures. */
export interface BenchSection {
  readonly title: string
  readonly markdown: string
  readonly figures?: ReadonlyArray<Figure>
}

/** Whether a figure meets its target (undefined when it has none). */
export const meets = (figure: Figure): boolean | undefined => {
  const t = figure.target
  if (t === undefined) return undefined
  const x = t.of === "ratio" ? figure.ratio : figure.value
  if (x === null || !Number.isFinite(x)) return false
  return (t.max === undefined || x <= t.max) && (t.min === undefined || x >= t.min)
}

/** The target as text: "≤ 1.5×", "≥ 0.75×", "≤ 50 ms". */
export const targetText = (figure: Figure): string => {
  const t = figure.target
  if (t === undefined) return ""
  const suffix = t.of === "ratio" ? "×" : ` ${figure.unit}`
  return [t.min === undefined ? "" : `≥ ${t.min}${suffix}`, t.max === undefined ? "" : `≤ ${t.max}${suffix}`]
    .filter((s) => s !== "").join(", ")
}

/** What a figure says beside its numbers. */
export interface FigureText {
  readonly name: string
  readonly unit: string
  readonly baseline: string
  readonly target?: Target
}

/**
 * A cost figure: `measured`'s median per unit by `clock` (default wall) times `scale` (1000 for ms → µs), its
 * cost ratio against `baseline` (measured in the same rounds) by that clock with the other clock's beside it
 * (unless `other` is false), and the spread of the round-by-round ratios.
 */
export const costFigure = (
  measured: Measured,
  baseline: Measured,
  text: FigureText & { readonly scale?: number; readonly clock?: "wall" | "cpu"; readonly other?: boolean }
): Figure => {
  const clock = text.clock ?? "wall"
  const r = costRatio(measured, baseline)
  const other = text.other === false
    ? {}
    : clock === "wall"
    ? { cpuRatio: r.cpu.value }
    : { wallRatio: r.wall.value }
  return {
    name: text.name,
    value: measured[clock].median * (text.scale ?? 1),
    unit: text.unit,
    ratio: r[clock].value,
    ...other,
    baseline: text.baseline,
    spread: [r[clock].min, r[clock].max],
    ...(text.target === undefined ? {} : { target: text.target })
  }
}

/**
 * A throughput figure: `measured`'s median units per second, its rate ratio against `baseline` (measured in
 * the same rounds) with the CPU ratio beside it (unless `cpu` is false), and the round-by-round spread.
 */
export const rateFigure = (
  measured: Measured,
  baseline: Measured,
  text: FigureText & { readonly cpu?: boolean }
): Figure => {
  const r = rateRatio(measured, baseline)
  return {
    name: text.name,
    value: measured.rate.median,
    unit: text.unit,
    ratio: r.value,
    ...(text.cpu === false ? {} : { cpuRatio: cpuRateRatio(measured, baseline) }),
    baseline: text.baseline,
    spread: [r.min, r.max],
    ...(text.target === undefined ? {} : { target: text.target })
  }
}
