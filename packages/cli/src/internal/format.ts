/** Terminal output: width-aware tables, colour only on a TTY without NO_COLOR, human numbers. */

/** Whether stdout gets colour: a TTY, and NO_COLOR unset. */
export const colour = (stream: NodeJS.WriteStream = process.stdout): boolean =>
  stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

const paint = (code: number) => (text: string, on = colour()) => (on ? `\u001b[${code}m${text}\u001b[0m` : text)

/** ANSI styles (no-ops off a TTY). */
export const style = {
  red: paint(31),
  green: paint(32),
  yellow: paint(33),
  dim: paint(2),
  bold: paint(1)
}

/** A run status, coloured by outcome. */
export const status = (s: string): string =>
  s === "success" ? style.green(s) : s === "running" ? style.yellow(s) : s.startsWith("waiting") ?
    style.yellow(s) :
    style.red(s)

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g
const visible = (s: string) => s.replace(ANSI, "").length

/** Cuts a plain string to `max` characters with an ellipsis. */
export const cut = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`)

/**
 * A table: a header row and rows, columns padded; when wider than the terminal, the `shrink` columns are cut
 * (widest first) so each line fits.
 */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  options: { readonly shrink?: ReadonlyArray<number>; readonly width?: number | undefined } = {}
): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))))
  const width = options.width ?? process.stdout.columns
  if (width !== undefined && width > 0) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1)
    const shrink = options.shrink ?? []
    while (total() > width) {
      const i = shrink.filter((c) => widths[c]! > 8).sort((a, b) => widths[b]! - widths[a]!)[0]
      if (i === undefined) break
      widths[i] = widths[i]! - 1
    }
  }
  const line = (cells: ReadonlyArray<string>, head = false) =>
    cells.map((c, i) => {
      const text = visible(c) > widths[i]! ? cut(c.replace(ANSI, ""), widths[i]!) : c
      const padded = text + " ".repeat(Math.max(0, widths[i]! - visible(text)))
      return head ? style.bold(padded) : padded
    }).join("  ").trimEnd()
  return [line(header, true), ...rows.map((r) => line(r))].join("\n") + "\n"
}

/** `12,345`. */
export const int = (n: number | null | undefined): string => (n == null ? "-" : Math.round(n).toLocaleString("en-US"))

/** `$0.0123` (or `-` when unpriced). */
export const usd = (n: number | null | undefined): string => n == null ? "-" : `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`

/** `850ms`, `12.3s`, `4m05s`, `2h10m`. */
export const ms = (n: number | null | undefined): string => {
  if (n == null) return "-"
  if (n < 1000) return `${Math.round(n)}ms`
  if (n < 60_000) return `${(n / 1000).toFixed(1)}s`
  if (n < 3_600_000) return `${Math.floor(n / 60_000)}m${String(Math.floor(n / 1000) % 60).padStart(2, "0")}s`
  return `${Math.floor(n / 3_600_000)}h${String(Math.floor(n / 60_000) % 60).padStart(2, "0")}m`
}

/** `1.2 MB`. */
export const size = (n: number | null | undefined): string => {
  if (n == null) return "-"
  const units = ["B", "KB", "MB", "GB", "TB"]
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`
}

/** `2026-01-31 12:00:05` (UTC). */
export const when = (iso: string | null | undefined): string =>
  iso == null ? "-" : iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "")

/** A value as one short line of JSON. */
export const brief = (value: unknown, max = 80): string => {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value)
  return cut(text.replace(/\s+/g, " "), max)
}
