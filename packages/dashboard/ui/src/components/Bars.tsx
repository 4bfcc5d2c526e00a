/**
 * A bar chart in plain SVG: one bar per category, stacked series, labels under each bar and a value in its
 * title. Hand-written because the dashboard needs two small charts, not a charting library's 50 KB.
 */

/** A series of the chart: its name, its CSS class (the colour) and a value per category. */
export interface Series {
  readonly name: string
  readonly className: string
  readonly values: ReadonlyArray<number>
}

/** The chart. */
export const Bars = ({
  categories,
  series,
  label,
  format = String,
  height = 160
}: {
  readonly categories: ReadonlyArray<string>
  readonly series: ReadonlyArray<Series>
  readonly label: string
  readonly format?: (n: number) => string
  readonly height?: number
}) => {
  const totals = categories.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0))
  const max = Math.max(1, ...totals)
  const barWidth = 28
  const gap = 10
  const top = 16
  const bottom = 22
  const width = Math.max(120, categories.length * (barWidth + gap) + gap)
  const plot = height - top - bottom
  return (
    <figure class="chart">
      <div class="chart-scroll">
        <svg role="img" aria-label={label} width={width} height={height} viewBox={`0 0 ${width} ${height}`}>
          <line x1={0} x2={width} y1={top + plot} y2={top + plot} class="axis" />
          {categories.map((category, i) => {
            let y = top + plot
            const x = gap + i * (barWidth + gap)
            return (
              <g key={category} data-category={category}>
                <title>
                  {`${category}: ${series.map((s) => `${s.name} ${format(s.values[i] ?? 0)}`).join(", ")}`}
                </title>
                {series.map((s) => {
                  const h = ((s.values[i] ?? 0) / max) * plot
                  y -= h
                  return <rect key={s.name} class={s.className} x={x} y={y} width={barWidth} height={h} />
                })}
                <text x={x + barWidth / 2} y={Math.max(10, y - 4)} class="bar-value">
                  {format(totals[i] ?? 0)}
                </text>
                <text x={x + barWidth / 2} y={height - 6} class="bar-label">
                  {category.length > 6 ? `${category.slice(0, 5)}…` : category}
                </text>
              </g>
            )
          })}
        </svg>
      </div>
      <figcaption>
        {series.map((s) => (
          <span key={s.name} class="legend">
            <i class={s.className} />
            {s.name}
          </span>
        ))}
      </figcaption>
    </figure>
  )
}
