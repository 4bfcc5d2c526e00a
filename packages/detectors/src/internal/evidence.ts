/** Small evidence helpers shared by the detectors: stable hashes, recorded costs, JSON-safe values. */
import { createHash } from "node:crypto"
import type { RunView } from "./runView.js"

/** A short SHA-256 of a value's JSON (arguments and errors are compared by hash, never stored). */
export const hash = (value: unknown): string =>
  createHash("sha256").update(JSON.stringify(value ?? null)).digest("hex").slice(0, 16)

/**
 * What the model calls started within the step range cost, from the recorded usage: `null` when one of them
 * has no recorded cost (a partial sum would understate it), and the recorded token totals.
 */
export const recordedCost = (view: RunView, start: number, end: number) => {
  const calls = view.llms.filter((c) => c.startSeq >= start && c.startSeq <= end)
  let cost: number | null = 0
  let tokens = 0
  for (const c of calls) {
    if (c.costUsd === undefined) cost = null
    else if (cost !== null) cost += c.costUsd
    tokens += (c.inputTokens ?? 0) + (c.outputTokens ?? 0)
  }
  return { llmCalls: calls.length, costUsd: cost, tokens }
}

/** Reads a dot path (`hits.total`) in a JSON value. */
export const at = (value: unknown, path: string | undefined): unknown => {
  if (path === undefined || path === "") return value
  let cur: unknown = value
  for (const key of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}
