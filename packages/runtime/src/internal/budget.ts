import { Effect } from "effect"
import type { RecorderError } from "../Errors.js"
import type { RunState } from "./runState.js"

/**
 * After a model call: records `budget.threshold` once per warning fraction per run (remembered across
 * pauses) and `budget.exceeded` once, for the token and the cost limit. Tokens count input + output.
 */
export const checkBudget = (state: RunState, iteration: number): Effect.Effect<void, RecorderError> => {
  const budget = state.agent.budget
  if (budget === undefined) return Effect.void
  return Effect.gen(function*() {
    const usage = state.totals.usage
    const measures: Array<{ kind: "tokens" | "cost"; used: number; limit: number }> = []
    if (budget.maxTokens !== undefined) {
      measures.push({
        kind: "tokens",
        used: usage.inputTokens + usage.outputTokens,
        limit: budget.maxTokens
      })
    }
    if (budget.maxCostUsd !== undefined && usage.costUsd !== undefined) {
      measures.push({ kind: "cost", used: usage.costUsd, limit: budget.maxCostUsd })
    }
    for (const { kind, limit, used } of measures) {
      for (const fraction of budget.warnAt) {
        const key = `${kind}:${fraction}`
        if (used / limit >= fraction && !state.budgetFired.has(key)) {
          state.budgetFired.add(key)
          yield* state.bus.stage({ _tag: "BudgetThreshold", kind, fraction, used, limit }, iteration)
        }
      }
      const key = `${kind}:exceeded`
      if (used >= limit && !state.budgetFired.has(key)) {
        state.budgetFired.add(key)
        state.budgetExceeded = true
        yield* state.bus.stage({ _tag: "BudgetExceeded", kind, used, limit, action: budget.onExceeded }, iteration)
      }
    }
  })
}

/** Whether the budget stops the run before its next model call. */
export const budgetStops = (state: RunState): boolean =>
  state.budgetExceeded && state.agent.budget?.onExceeded === "stop"
