import { describe, expect, it } from "@effect/vitest"
import type { Usage } from "../src/HookEvent.js"
import * as Pricing from "../src/Pricing.js"

const costUsd = (result: ReturnType<typeof Pricing.costOf>): number => {
  if (!("costUsd" in result)) throw new Error(`expected a cost, got: ${result.note}`)
  return result.costUsd
}

/** The built-in cost of a call, failing the test when there is none. */
const builtInCost = (provider: string, model: string, usage: Usage): number =>
  costUsd(Pricing.costOf(Pricing.builtIn, provider, model, usage))

describe("Pricing.costOf", () => {
  it("prices input and output per million tokens", () => {
    const usage: Usage = { inputTokens: 1_000_000, outputTokens: 500_000 }
    expect(builtInCost("openai", "gpt-4.1", usage)).toBeCloseTo(2 + 4, 12)
    expect(builtInCost("openai", "gpt-4o-mini", { inputTokens: 1234, outputTokens: 567 }))
      .toBeCloseTo((1234 * 0.15 + 567 * 0.6) / 1e6, 15)
  })

  it("bills cache reads and writes, which are part of inputTokens, at their own prices", () => {
    const usage: Usage = { inputTokens: 10_000, outputTokens: 1_000, cacheReadTokens: 6_000, cacheWriteTokens: 2_000 }
    // fresh 2,000 × $3 + read 6,000 × $0.30 + write 2,000 × $3.75 + output 1,000 × $15, per million
    expect(builtInCost("anthropic", "claude-sonnet-4-5", usage))
      .toBeCloseTo((2_000 * 3 + 6_000 * 0.3 + 2_000 * 3.75 + 1_000 * 15) / 1e6, 15)
    expect(builtInCost("anthropic", "claude-opus-4-1", usage))
      .toBeCloseTo((2_000 * 15 + 6_000 * 1.5 + 2_000 * 18.75 + 1_000 * 75) / 1e6, 15)
  })

  it("bills cache writes at the input price when the model has no cache-write price", () => {
    const usage: Usage = { inputTokens: 3_000, outputTokens: 100, cacheReadTokens: 1_000, cacheWriteTokens: 500 }
    expect(builtInCost("openai", "gpt-5", usage))
      .toBeCloseTo((1_500 * 1.25 + 1_000 * 0.125 + 500 * 1.25 + 100 * 10) / 1e6, 15)
  })

  it("counts reasoning tokens once, as part of the output", () => {
    const usage: Usage = { inputTokens: 100, outputTokens: 1_000, reasoningTokens: 800 }
    expect(builtInCost("openai", "o4-mini", usage)).toBeCloseTo((100 * 1.1 + 1_000 * 4.4) / 1e6, 15)
  })

  it("matches a model snapshot by removing its date or version suffix", () => {
    const usage: Usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 }
    expect(builtInCost("openai", "gpt-4.1-mini-2025-04-14", usage)).toBeCloseTo(0.4 + 1.6, 12)
    expect(builtInCost("anthropic", "claude-sonnet-4-5-20250929", usage)).toBeCloseTo(18, 12)
    expect(builtInCost("anthropic", "claude-3-5-haiku-latest", usage)).toBeCloseTo(4.8, 12)
    expect(builtInCost("anthropic", "claude-3-7-sonnet-20250219", usage)).toBeCloseTo(18, 12)
  })

  it("prefers an exact snapshot entry to the suffix-stripped model", () => {
    const usage: Usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 }
    expect(builtInCost("openai", "gpt-4o-2024-05-13", usage)).toBeCloseTo(5 + 15, 12)
    expect(builtInCost("openai", "gpt-4o-2024-08-06", usage)).toBeCloseTo(2.5 + 10, 12)
  })

  it("does not strip a version that is part of the model name", () => {
    const table = Pricing.withOverrides({ asOf: "2025-01-01", prices: {} }, {
      "claude-sonnet-4": { inputPerMTok: 1, outputPerMTok: 1 }
    })
    expect(Pricing.costOf(table, "anthropic", "claude-sonnet-4-5", { inputTokens: 1, outputTokens: 1 })).toEqual({
      note: "no price for anthropic:claude-sonnet-4-5 in the price table (as of 2025-01-01)"
    })
  })

  it("lets a provider-qualified override win over the model entry, for that provider only", () => {
    const table = Pricing.withOverrides(Pricing.builtIn, {
      "azure:gpt-4o": { inputPerMTok: 3, outputPerMTok: 12 },
      "my-model": { inputPerMTok: 0.5, outputPerMTok: 1 }
    })
    const usage: Usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 }
    expect(costUsd(Pricing.costOf(table, "azure", "gpt-4o", usage))).toBeCloseTo(15, 12)
    expect(costUsd(Pricing.costOf(table, "azure", "gpt-4o-2024-11-20", usage))).toBeCloseTo(15, 12)
    expect(costUsd(Pricing.costOf(table, "openai", "gpt-4o", usage))).toBeCloseTo(12.5, 12)
    expect(costUsd(Pricing.costOf(table, "vllm", "my-model", usage))).toBeCloseTo(1.5, 12)
    expect(table.asOf).toBe(Pricing.builtIn.asOf)
    expect(Pricing.builtIn.prices["my-model"]).toBeUndefined()
  })

  it("says why there is no cost, naming provider, model and the table date", () => {
    expect(Pricing.costOf(Pricing.builtIn, "openai", "my-model", { inputTokens: 10, outputTokens: 5 })).toEqual({
      note: `no price for openai:my-model in the price table (as of ${Pricing.builtIn.asOf})`
    })
  })

  it("refuses usage whose cache tokens exceed its input tokens, or that is not a count", () => {
    const inconsistent = Pricing.costOf(Pricing.builtIn, "openai", "gpt-4.1", {
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 20
    })
    expect(inconsistent).toEqual({ note: "usage of openai:gpt-4.1 is inconsistent, so no cost was computed" })
    expect("note" in Pricing.costOf(Pricing.builtIn, "openai", "gpt-4.1", { inputTokens: NaN, outputTokens: 5 }))
      .toBe(true)
  })

  it("costs nothing for no tokens", () => {
    expect(Pricing.costOf(Pricing.builtIn, "openai", "gpt-5-nano", { inputTokens: 0, outputTokens: 0 })).toEqual({
      costUsd: 0
    })
  })
})

describe("Pricing tables", () => {
  it("has built-in list prices for the common OpenAI and Anthropic models, dated", () => {
    const models = [
      "gpt-4.1",
      "gpt-4.1-mini",
      "gpt-4.1-nano",
      "gpt-4o",
      "gpt-4o-mini",
      "o3",
      "o4-mini",
      "gpt-5",
      "gpt-5-mini",
      "gpt-5-nano",
      "claude-opus-4-1",
      "claude-opus-4",
      "claude-sonnet-4-5",
      "claude-sonnet-4",
      "claude-haiku-4-5",
      "claude-3-5-haiku",
      "claude-3-7-sonnet"
    ]
    for (const model of models) {
      const price = Pricing.builtIn.prices[model]
      expect(price, model).toBeDefined()
      expect(price!.outputPerMTok, model).toBeGreaterThan(price!.inputPerMTok)
      expect(price!.cacheReadPerMTok ?? 0, model).toBeLessThan(price!.inputPerMTok)
    }
    expect(Pricing.builtIn.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/)
  })

  it("rejects a negative or non-finite override price when the table is built", () => {
    expect(() => Pricing.withOverrides(Pricing.builtIn, { x: { inputPerMTok: -1, outputPerMTok: 1 } }))
      .toThrow("prices.x.inputPerMTok: must be a non-negative number (USD per million tokens), got -1")
    expect(() => Pricing.withOverrides(Pricing.builtIn, { x: { inputPerMTok: 1, outputPerMTok: Infinity } }))
      .toThrow(expect.objectContaining({ _tag: "AgentConfigError", field: "prices.x.outputPerMTok" }))
  })
})
