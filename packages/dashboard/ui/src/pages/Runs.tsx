/**
 * The runs page: filters and search (in the URL), the strip of waiting runs with how long each has waited, the
 * runs table (children nested under a loaded parent), keyset "load more", keyboard navigation, and live
 * updates by polling every 5 s while the tab is visible.
 */
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks"
import { call, type Query, type Success } from "../api.js"
import { ErrorBox, Loading, Status, Time } from "../components/common.js"
import { FilterBar, type FilterField } from "../components/Filters.js"
import { count, duration, localClock, usd } from "../format.js"
import { useInterval } from "../hooks.js"
import { href, type Location, navigate } from "../nav.js"

type Row = Success<"listRunRows">["items"][number]
type Waiting = Success<"listWaiting">

const STATUSES = [
  "running",
  "success",
  "error",
  "max_iterations",
  "cancelled",
  "waiting_client_tool",
  "waiting_approval",
  "waiting_human_input"
] as const

const POLL_MS = 5000
const PAGE = 50

/** The filters of the URL. */
interface Filters {
  readonly status: string
  readonly agent: string
  readonly tenant: string
  readonly from: string
  readonly to: string
  readonly q: string
}

const filtersOf = (query: URLSearchParams): Filters => ({
  status: query.get("status") ?? "",
  agent: query.get("agent") ?? "",
  tenant: query.get("tenant") ?? "",
  from: query.get("from") ?? "",
  to: query.get("to") ?? "",
  q: query.get("q") ?? ""
})

const dayStart = (date: string, addDays = 0) => {
  const d = new Date(`${date}T00:00:00`)
  d.setDate(d.getDate() + addDays)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

/** The API query of the filters (dates are days in the viewer's zone; `to` includes its day). */
const queryOf = (f: Filters, limit: number, cursor?: string): Query<"listRunRows"> => {
  const q: Record<string, unknown> = { limit }
  if (f.status !== "") q.status = [f.status]
  if (f.agent !== "") q.agentName = f.agent
  if (f.tenant !== "") q.tenantId = f.tenant
  if (f.q !== "") q.search = f.q
  const after = f.from === "" ? undefined : dayStart(f.from)
  const before = f.to === "" ? undefined : dayStart(f.to, 1)
  if (after !== undefined) q.createdAfter = after
  if (before !== undefined) q.createdBefore = before
  if (cursor !== undefined) q.cursor = cursor
  return q as Query<"listRunRows">
}

/** Rows in display order: each loaded child right under its loaded parent, with its depth. */
const nest = (rows: ReadonlyArray<Row>): Array<{ readonly row: Row; readonly depth: number }> => {
  const byId = new Map(rows.map((r) => [r.id, r]))
  const children = new Map<string, Array<Row>>()
  for (const r of rows) {
    if (r.parentRunId !== null && byId.has(r.parentRunId)) {
      children.set(r.parentRunId, [...(children.get(r.parentRunId) ?? []), r])
    }
  }
  const out: Array<{ row: Row; depth: number }> = []
  const seen = new Set<string>()
  const visit = (r: Row, depth: number) => {
    if (seen.has(r.id)) return
    seen.add(r.id)
    out.push({ row: r, depth })
    const kids = (children.get(r.id) ?? []).slice().sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    for (const c of kids) visit(c, depth + 1)
  }
  for (const r of rows) if (r.parentRunId === null || !byId.has(r.parentRunId)) visit(r, 0)
  for (const r of rows) visit(r, 0)
  return out
}

const WaitingStrip = ({ waiting, fetchedAt }: { readonly waiting: Waiting; readonly fetchedAt: number }) => {
  const [now, setNow] = useState(Date.now())
  useInterval(() => setNow(Date.now()), 1000)
  if (waiting.total === 0) return null
  const what = (w: Waiting["items"][number]) =>
    w.status === "waiting_human_input"
      ? (w.prompt ?? "human input")
      : w.status === "waiting_approval"
      ? `approval of ${w.pendingCalls.map((c) => c.name).join(", ")}`
      : w.pendingCalls.map((c) => c.name).join(", ")
  return (
    <section class="waiting" aria-label="Waiting runs">
      <strong>
        {waiting.total} waiting{waiting.total > waiting.items.length ? ` (oldest ${waiting.items.length})` : ""}
      </strong>
      <ul>
        {waiting.items.map((w) => (
          <li key={w.run.id}>
            <a href={href(`runs/${w.run.id}`)} data-waiting={w.run.id}>
              <Status status={w.status} /> <b>{w.run.agentName}</b> <span class="muted">{what(w)}</span>{" "}
              <span class="wait-time" title={`paused at ${w.pausedAt}`}>
                {duration(w.waitMs + (now - fetchedAt))}
              </span>
            </a>
          </li>
        ))}
      </ul>
    </section>
  )
}

const FIELDS: ReadonlyArray<FilterField> = [
  { kind: "search", name: "q", label: "Search", id: "run-search", placeholder: "agent name or run id  ( / )" },
  {
    kind: "select",
    name: "status",
    label: "Status",
    any: "any",
    choices: STATUSES.map((s) => ({ value: s, label: s.replace(/_/g, " ") }))
  },
  { kind: "text", name: "agent", label: "Agent" },
  { kind: "text", name: "tenant", label: "Tenant" },
  { kind: "date", name: "from", label: "From" },
  { kind: "date", name: "to", label: "To" }
]

const RunFilters = ({ filters }: { readonly filters: Filters }) => (
  <FilterBar
    fields={FIELDS}
    values={filters as unknown as Record<string, string>}
    onChange={(name, value, replace) => navigate(href("", { ...filters, [name]: value }), { replace })}
    onClear={() => navigate(href(""))}
    role="search"
  />
)

interface ListState {
  readonly key: string
  readonly rows: ReadonlyArray<Row>
  readonly next: string | null
  readonly total: number
}

/** The runs page. */
export const RunsPage = ({ location }: { readonly location: Location }) => {
  const filters = filtersOf(location.query)
  const key = JSON.stringify(filters)
  const [list, setList] = useState<ListState | undefined>()
  const [error, setError] = useState<unknown>()
  const [more, setMore] = useState(false)
  const [waiting, setWaiting] = useState<{ value: Waiting; at: number } | undefined>()
  const [selected, setSelected] = useState(0)
  const body = useRef<HTMLTableSectionElement>(null)
  const marked = useRef(false)
  const current = useRef(key)
  current.current = key

  // A page that arrives after the filters changed is dropped.
  const load = (limit: number) => {
    const asked = key
    return call("listRunRows", { query: queryOf(filters, limit) }).then((page) => {
      if (current.current !== asked) return
      setError(undefined)
      setList({ key: asked, rows: page.items, next: page.nextCursor, total: page.total ?? page.estimatedTotal ?? 0 })
    }, (e: unknown) => current.current === asked && setError(e))
  }
  const loadWaiting = () =>
    call("listWaiting", { query: { limit: 20 } }).then((value) => setWaiting({ value, at: Date.now() }), () => {})

  useEffect(() => {
    setList(undefined)
    setSelected(0)
    void load(PAGE)
  }, [key])
  useEffect(() => void loadWaiting(), [])
  // Live: the loaded rows are fetched again (new runs on top, status changes in place) while the tab is visible.
  useInterval(() => {
    if (list === undefined || more) return
    void load(Math.min(1000, Math.max(PAGE, list.rows.length)))
    void loadWaiting()
  }, POLL_MS)

  const loadMore = () => {
    if (list?.next === null || list === undefined) return
    setMore(true)
    const asked = key
    call("listRunRows", { query: queryOf(filters, PAGE, list.next) }).then(
      (page) =>
        current.current === asked &&
        setList({
          key,
          rows: [...list.rows, ...page.items],
          next: page.nextCursor,
          total: page.total ?? page.estimatedTotal ?? 0
        }),
      setError
    ).finally(() => setMore(false))
  }

  const display = list === undefined ? [] : nest(list.rows)
  useLayoutEffect(() => {
    if (!marked.current && list !== undefined) {
      marked.current = true
      performance.mark("sextant:runs-rendered")
    }
  }, [list])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "/" && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement)) {
        e.preventDefault()
        document.getElementById("run-search")?.focus()
      }
    }
    window.addEventListener("keydown", onKey)
    return () => window.removeEventListener("keydown", onKey)
  }, [])

  const focusRow = (i: number) => {
    const index = Math.max(0, Math.min(display.length - 1, i))
    setSelected(index)
    body.current?.querySelectorAll<HTMLTableRowElement>("tr[data-run-id]")[index]?.focus()
  }
  const onRowKey = (e: KeyboardEvent, i: number, row: Row) => {
    if (e.key === "ArrowDown" || e.key === "j") focusRow(i + 1)
    else if (e.key === "ArrowUp" || e.key === "k") focusRow(i - 1)
    else if (e.key === "Home") focusRow(0)
    else if (e.key === "End") focusRow(display.length - 1)
    else if (e.key === "Enter") navigate(href(`runs/${row.id}`))
    else return
    e.preventDefault()
  }

  return (
    <div class="runs-page">
      <RunFilters filters={filters} />
      {waiting !== undefined && <WaitingStrip waiting={waiting.value} fetchedAt={waiting.at} />}
      {error !== undefined && <ErrorBox error={error} />}
      {list === undefined ? <Loading what="runs" /> : (
        <>
          <div class="table-wrap">
            <table class="runs">
              <thead>
                <tr>
                  <th>Status</th>
                  <th>Agent</th>
                  <th class="opt">Model</th>
                  <th class="opt">Tenant</th>
                  <th class="num opt">Iter.</th>
                  <th class="num">Tokens</th>
                  <th class="num">Cost</th>
                  <th class="num opt">Duration</th>
                  <th class="num opt">Pauses</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody ref={body}>
                {display.map(({ row, depth }, i) => (
                  <tr
                    key={row.id}
                    data-run-id={row.id}
                    data-depth={depth}
                    tabIndex={i === selected ? 0 : -1}
                    aria-selected={i === selected}
                    onClick={() => navigate(href(`runs/${row.id}`))}
                    onKeyDown={(e) => onRowKey(e, i, row)}
                    onFocus={() => setSelected(i)}
                  >
                    <td>
                      <Status status={row.status} />
                    </td>
                    <td class="agent" style={{ paddingLeft: `${0.5 + depth * 1.25}rem` }}>
                      {depth > 0 && <span class="branch" aria-hidden="true">↳</span>}
                      <a href={href(`runs/${row.id}`)} tabIndex={-1}>
                        {row.agentName}
                      </a>
                      <small class="run-id">{row.id}</small>
                      {row.parentRunId !== null && depth === 0 && (
                        <small class="muted">
                          child of{" "}
                          <a href={href(`runs/${row.parentRunId}`)} tabIndex={-1}>{row.parentRunId.slice(0, 12)}</a>
                        </small>
                      )}
                      {row.childCount > 0 && (
                        <small class="muted">{row.childCount} child{row.childCount > 1 ? "ren" : ""}</small>
                      )}
                    </td>
                    <td class="opt">{row.model ?? "—"}</td>
                    <td class="opt">{row.tenantId ?? "—"}</td>
                    <td class="num opt">{row.iterationCount}</td>
                    <td
                      class="num"
                      title={`${count(row.totals.inputTokens)} in / ${count(row.totals.outputTokens)} out`}
                    >
                      {count(row.totals.inputTokens + row.totals.outputTokens)}
                    </td>
                    <td class="num">{usd(row.totals.costUsd)}</td>
                    <td class="num opt">
                      {row.durationMs === null ? <span class="muted">…</span> : duration(row.durationMs)}
                    </td>
                    <td class="num opt">{row.pauseCount || ""}</td>
                    <td>
                      <Time iso={row.createdAt}>{localClock(row.createdAt)}</Time>
                      <small class="muted date">
                        <Time iso={row.createdAt} />
                      </small>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {display.length === 0 && <p class="empty">No runs match.</p>}
          <div class="more">
            <span class="muted" data-testid="run-count">
              {count(list.rows.length)} of {count(list.total)} runs
            </span>
            {list.next !== null && (
              <button type="button" onClick={loadMore} disabled={more}>
                {more ? "Loading…" : "Load more"}
              </button>
            )}
          </div>
        </>
      )}
    </div>
  )
}
