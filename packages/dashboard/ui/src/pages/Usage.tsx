/**
 * The usage page: tokens and cost grouped by tenant, agent, model and/or day over a chosen range (days in the
 * viewer's zone; the API's `day` is UTC), as a chart and a table, with the table as a CSV download.
 */
import { call, type Query, type Success } from "../api.js"
import { Bars } from "../components/Bars.js"
import { ErrorBox, Loading } from "../components/common.js"
import { count, usd } from "../format.js"
import { useLoad } from "../hooks.js"
import { href, type Location, navigate } from "../nav.js"

type Group = Success<"usage">["items"][number]
const DIMENSIONS = ["tenant", "agent", "model", "day"] as const
type Dimension = typeof DIMENSIONS[number]

const keyOf = (g: Group, d: Dimension): string =>
  d === "tenant"
    ? (g.tenantId ?? "(none)")
    : d === "agent"
    ? (g.agentName ?? "")
    : d === "model"
    ? (g.model ?? "")
    : (g.day ?? "")

const isoDay = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`

const defaultFrom = () => {
  const d = new Date()
  d.setDate(d.getDate() - 29)
  return isoDay(d)
}

const dayStart = (date: string, addDays = 0) => {
  const d = new Date(`${date}T00:00:00`)
  d.setDate(d.getDate() + addDays)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

const columns: ReadonlyArray<readonly [string, (g: Group) => number]> = [
  ["input tokens", (g) => g.inputTokens],
  ["output tokens", (g) => g.outputTokens],
  ["cache read tokens", (g) => g.cacheReadTokens],
  ["reasoning tokens", (g) => g.reasoningTokens],
  ["cost usd", (g) => g.costUsd],
  ["runs", (g) => g.runCount],
  ["model calls", (g) => g.modelCallCount],
  ["unpriced calls", (g) => g.unpricedCallCount]
]

const csvCell = (v: string | number) => {
  const s = String(v)
  return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? `"${s.replace(/"/g, "\"\"")}"` : s
}

/** The table as CSV (RFC 4180; cells that a spreadsheet would run as formulas are quoted). */
export const toCsv = (groups: ReadonlyArray<Group>, dims: ReadonlyArray<Dimension>): string =>
  [
    [...dims, ...columns.map(([name]) => name)].map(csvCell).join(","),
    ...groups.map((g) => [...dims.map((d) => keyOf(g, d)), ...columns.map(([, f]) => f(g))].map(csvCell).join(","))
  ].join("\r\n") + "\r\n"

/** The usage page. */
export const UsagePage = ({ location }: { readonly location: Location }) => {
  const q = location.query
  const dims = DIMENSIONS.filter((d) => q.getAll("by").includes(d))
  const groupBy: ReadonlyArray<Dimension> = dims.length === 0 ? ["day"] : dims
  const from = q.get("from") ?? defaultFrom()
  const to = q.get("to") ?? isoDay(new Date())
  const query: Record<string, unknown> = { groupBy }
  const after = dayStart(from)
  const before = dayStart(to, 1)
  if (after !== undefined) query.from = after
  if (before !== undefined) query.to = before
  const { loaded } = useLoad(
    (signal) => call("usage", { query: query as Query<"usage">, signal }),
    JSON.stringify(query)
  )
  const set = (patch: { by?: ReadonlyArray<string>; from?: string; to?: string }) =>
    navigate(href("usage", { by: patch.by ?? groupBy, from: patch.from ?? from, to: patch.to ?? to }))
  const toggle = (d: Dimension) =>
    set({
      by: groupBy.includes(d)
        ? groupBy.filter((x) => x !== d)
        : DIMENSIONS.filter((x) => x === d || groupBy.includes(x))
    })

  const groups = loaded.state === "ready" ? loaded.value.items : []
  const label = (g: Group) => groupBy.map((d) => keyOf(g, d)).join(" · ")
  const download = () => {
    const url = URL.createObjectURL(new Blob([toCsv(groups, groupBy)], { type: "text/csv" }))
    const a = document.createElement("a")
    a.href = url
    a.download = `sextant-usage-${from}-${to}.csv`
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }
  const totals = groups.reduce(
    (t, g) => ({ tokens: t.tokens + g.inputTokens + g.outputTokens, cost: t.cost + g.costUsd }),
    { tokens: 0, cost: 0 }
  )
  return (
    <div class="usage-page">
      <h1>Usage</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <fieldset>
          <legend>Group by</legend>
          {DIMENSIONS.map((d) => (
            <label key={d} class="check">
              <input type="checkbox" name={`by-${d}`} checked={groupBy.includes(d)} onChange={() => toggle(d)} />
              {d}
            </label>
          ))}
        </fieldset>
        <label>
          From
          <input
            type="date"
            name="from"
            value={from}
            onChange={(e) => set({ from: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          To
          <input type="date" name="to" value={to} onChange={(e) => set({ to: (e.target as HTMLInputElement).value })} />
        </label>
        <button type="button" onClick={download} disabled={groups.length === 0}>
          Download CSV
        </button>
      </form>
      {loaded.state === "loading" && <Loading what="usage" />}
      {loaded.state === "failed" && <ErrorBox error={loaded.error} />}
      {loaded.state === "ready" && (
        <>
          <p class="muted" data-testid="usage-totals">
            {count(totals.tokens)} tokens · {usd(totals.cost)} over {groups.length}{" "}
            group{groups.length === 1 ? "" : "s"}
          </p>
          {groups.length > 0 && (
            <section class="panel">
              <Bars
                label="Tokens per group"
                categories={groups.map(label)}
                series={[
                  { name: "input tokens", className: "s-input", values: groups.map((g) => g.inputTokens) },
                  { name: "output tokens", className: "s-output", values: groups.map((g) => g.outputTokens) }
                ]}
                format={count}
                height={200}
              />
            </section>
          )}
          <div class="table-wrap">
            <table class="usage">
              <thead>
                <tr>
                  {groupBy.map((d) => <th key={d}>{d}</th>)}
                  <th class="num">Input</th>
                  <th class="num">Output</th>
                  <th class="num opt">Cache read</th>
                  <th class="num">Cost</th>
                  <th class="num">Runs</th>
                  <th class="num opt">Calls</th>
                </tr>
              </thead>
              <tbody>
                {groups.map((g) => (
                  <tr key={label(g)} data-group={label(g)}>
                    {groupBy.map((d) => <td key={d}>{keyOf(g, d)}</td>)}
                    <td class="num" data-col="input">{count(g.inputTokens)}</td>
                    <td class="num" data-col="output">{count(g.outputTokens)}</td>
                    <td class="num opt">{count(g.cacheReadTokens)}</td>
                    <td class="num" data-col="cost">{usd(g.costUsd)}{g.unpricedCallCount > 0 ? "*" : ""}</td>
                    <td class="num" data-col="runs">{count(g.runCount)}</td>
                    <td class="num opt">{count(g.modelCallCount)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {groups.length === 0 && <p class="empty">No model calls in this range.</p>}
          {groups.some((g) => g.unpricedCallCount > 0) && <p class="muted">* some calls had no known price.</p>}
        </>
      )}
    </div>
  )
}
