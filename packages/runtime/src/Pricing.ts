/**
 * Model prices and the cost of a model call. A price table maps `"provider:model"` or `"model"` keys to
 * per-million-token prices; `builtIn` holds list prices of common OpenAI and Anthropic models (dated by
 * `asOf`), `withOverrides` layers yours on top. `costOf` never guesses: when no price matches it says why.
 */
import { AgentConfigError } from "./Errors.js"
import type { Usage } from "./HookEvent.js"
import { builtInPrices } from "./internal/pricing/builtInPrices.js"

/** Prices in USD per million tokens; cache reads and writes fall back to the input price when absent. */
export interface ModelPrice {
  readonly inputPerMTok: number
  readonly outputPerMTok: number
  readonly cacheReadPerMTok?: number
  readonly cacheWritePerMTok?: number
}

/** Prices by `"provider:model"` or `"model"`, and the date they were taken. */
export interface PriceTable {
  readonly asOf: string
  readonly prices: Readonly<Record<string, ModelPrice>>
}

/**
 * List prices (standard tier) of gpt-4.1, -mini, -nano, gpt-4o, -mini, o3, o4-mini, gpt-5, -mini, -nano,
 * claude-opus-4-1, claude-opus-4, claude-sonnet-4-5, claude-sonnet-4, claude-haiku-4-5, claude-3-7-sonnet and
 * claude-3-5-haiku, keyed by model name (so they apply under any provider name), as of `builtIn.asOf`.
 */
export const builtIn: PriceTable = builtInPrices

/**
 * A table with `overrides` added to or replacing `base` entries (keep `asOf` of the base). Throws an
 * `AgentConfigError` (`field`: `prices.<key>.<price>`) at definition time when a price is negative or not a
 * finite number.
 */
export const withOverrides = (base: PriceTable, overrides: Readonly<Record<string, ModelPrice>>): PriceTable => {
  for (const [key, price] of Object.entries(overrides)) {
    for (const [field, value] of Object.entries(price)) {
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
        throw new AgentConfigError({
          field: `prices.${key}.${field}`,
          message: `prices.${key}.${field}: must be a non-negative number (USD per million tokens), got ${
            String(value)
          }`
        })
      }
    }
  }
  return { asOf: base.asOf, prices: { ...base.prices, ...overrides } }
}

/** A trailing snapshot suffix: `-2025-04-14`, `-20250929`, `-0613` or `-latest`. */
const snapshotSuffix = /-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$/

/** The price of a model: exact `provider:model`, exact `model`, then both again without a snapshot suffix. */
const priceOf = (table: PriceTable, provider: string, model: string): ModelPrice | undefined => {
  const base = model.replace(snapshotSuffix, "")
  const keys = base === model
    ? [`${provider}:${model}`, model]
    : [`${provider}:${model}`, model, `${provider}:${base}`, base]
  for (const key of keys) {
    if (Object.hasOwn(table.prices, key)) return table.prices[key]
  }
  return undefined
}

/**
 * The cost of one call, or why it has none. Usage semantics: see the `Usage` doc in HookEvent.ts
 * (`inputTokens` INCLUDES cache read/write tokens; reasoning is part of output). Matching: exact
 * "provider:model", then exact "model", then the model with a trailing date/version suffix removed (e.g.
 * "gpt-4.1-mini-2025-04-14" → "gpt-4.1-mini", "claude-sonnet-4-5-20250929" → "claude-sonnet-4-5"). Cache
 * reads/writes are billed at their own prices when given, else at the input price.
 */
export const costOf = (
  table: PriceTable,
  provider: string,
  model: string,
  usage: Usage
): { readonly costUsd: number } | { readonly note: string } => {
  const price = priceOf(table, provider, model)
  if (price === undefined) return { note: `no price for ${provider}:${model} in the price table (as of ${table.asOf})` }
  const cacheRead = usage.cacheReadTokens ?? 0
  const cacheWrite = usage.cacheWriteTokens ?? 0
  const counts = [usage.inputTokens, usage.outputTokens, cacheRead, cacheWrite]
  if (counts.some((n) => !Number.isFinite(n) || n < 0) || cacheRead + cacheWrite > usage.inputTokens) {
    return { note: `usage of ${provider}:${model} is inconsistent, so no cost was computed` }
  }
  const freshInput = usage.inputTokens - cacheRead - cacheWrite
  const usdTimesMillion = freshInput * price.inputPerMTok +
    cacheRead * (price.cacheReadPerMTok ?? price.inputPerMTok) +
    cacheWrite * (price.cacheWritePerMTok ?? price.inputPerMTok) +
    usage.outputTokens * price.outputPerMTok
  return { costUsd: usdTimesMillion / 1_000_000 }
}
