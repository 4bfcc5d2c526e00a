/** Display helpers: times in the viewer's zone, durations, token counts and costs. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" })
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" })
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })

/** A datetime in the viewer's time zone. */
export const localTime = (iso: string): string => dateTime.format(new Date(iso))
/** The time of day in the viewer's zone. */
export const localClock = (iso: string): string => timeOnly.format(new Date(iso))
/** The tooltip of a time: the UTC value. */
export const utcTitle = (iso: string): string => `${new Date(iso).toISOString().replace("T", " ").replace("Z", "")} UTC`

/** A duration: `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`, `3d 4h`. */
export const duration = (ms: number | null | undefined): string => {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—"
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** A count with grouping (`12,345`). */
export const count = (n: number | null | undefined): string => (n === null || n === undefined ? "—" : integer.format(n))

/** A cost in USD: more digits for small amounts; `—` when unknown. */
export const usd = (n: number | null | undefined): string => {
  if (n === null || n === undefined) return "—"
  if (n === 0) return "$0"
  return n < 0.01 ? `$${n.toFixed(6).replace(/0+$/, "")}` : `$${n.toFixed(n < 10 ? 4 : 2)}`
}

/** A byte or character count: `512`, `12.3 K`, `4.5 M`. */
export const size = (n: number): string =>
  n < 1000 ? String(n) : n < 1_000_000 ? `${(n / 1000).toFixed(1)} K` : `${(n / 1_000_000).toFixed(1)} M`

/** A status as words. */
export const statusLabel = (status: string): string => status.replace(/_/g, " ")
