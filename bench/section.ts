/**
 * What each `packages/<pkg>/bench/index.ts` default export returns: markdown sections for BENCHMARKS.md and
 * the figures they contain, for `bench/results.json`.
 */

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
