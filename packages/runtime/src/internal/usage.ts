import type { Usage } from "../HookEvent.js"

/** The usage of a run before its first model call. */
export const emptyUsage: Usage = { inputTokens: 0, outputTokens: 0 }

const addOptional = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0)

/**
 * Adds a model call's usage to a run's totals. Optional counts stay absent until some call reports them.
 * The total cost stays known only while every call had a cost: a partial sum would under-bill.
 */
export const addUsage = (total: Usage, call: Usage, isFirstCall: boolean): Usage => {
  const cost = isFirstCall
    ? call.costUsd
    : total.costUsd === undefined || call.costUsd === undefined
    ? undefined
    : total.costUsd + call.costUsd
  const out: { -readonly [K in keyof Usage]: Usage[K] } = {
    inputTokens: total.inputTokens + call.inputTokens,
    outputTokens: total.outputTokens + call.outputTokens
  }
  const cacheRead = addOptional(total.cacheReadTokens, call.cacheReadTokens)
  const cacheWrite = addOptional(total.cacheWriteTokens, call.cacheWriteTokens)
  const reasoning = addOptional(total.reasoningTokens, call.reasoningTokens)
  if (cacheRead !== undefined) out.cacheReadTokens = cacheRead
  if (cacheWrite !== undefined) out.cacheWriteTokens = cacheWrite
  if (reasoning !== undefined) out.reasoningTokens = reasoning
  if (cost !== undefined) out.costUsd = cost
  return out
}
