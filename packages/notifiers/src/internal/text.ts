import type { HookEvent } from "@sextant/runtime"

/** JSON text of a value, never throwing (cycles and bigints become a placeholder). */
export const jsonText = (value: unknown): string => {
  if (typeof value === "string") return value
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Shortens text to `max` characters with an ellipsis, flattening whitespace. */
export const shorten = (text: string, max: number): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  if (max <= 1) return flat.slice(0, Math.max(0, max))
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`
}

/** `850 ms`, `1.25 s`, `2 m 05 s`. */
export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`
  const m = Math.floor(ms / 60_000)
  const s = Math.round((ms % 60_000) / 1000)
  return `${m} m ${String(s).padStart(2, "0")} s`
}

const counts = new Intl.NumberFormat("en-US")

/** `1,234` (one shared formatter: `toLocaleString` builds a new one per call). */
export const formatCount = (n: number): string => counts.format(n)

/** `$0.0123` (4 decimals under a dollar, 2 above). */
export const formatUsd = (usd: number): string => `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`

/** `120 in (80 cached) / 30 out (12 reasoning)`. */
export const formatUsage = (usage: HookEvent.Usage): string => {
  const cached = usage.cacheReadTokens !== undefined && usage.cacheReadTokens > 0
    ? ` (${formatCount(usage.cacheReadTokens)} cached)`
    : ""
  const written = usage.cacheWriteTokens !== undefined && usage.cacheWriteTokens > 0
    ? ` (${formatCount(usage.cacheWriteTokens)} cache write)`
    : ""
  const reasoning = usage.reasoningTokens !== undefined && usage.reasoningTokens > 0
    ? ` (${formatCount(usage.reasoningTokens)} reasoning)`
    : ""
  return `${formatCount(usage.inputTokens)} in${cached}${written} / ${formatCount(usage.outputTokens)} out${reasoning}`
}

/** The last `n` characters of a run id (ULIDs vary at the end, so this tells concurrent runs apart). */
export const shortRunId = (runId: string, n = 6): string => (runId.length <= n ? runId : runId.slice(-n))
