/** A benchmark section, as each `packages/<pkg>/bench/index.ts` default export returns a list of them. */
export interface BenchSection {
  readonly title: string
  /** Markdown: a table of ratios against a baseline measured in the same run, and what was measured. */
  readonly markdown: string
}
