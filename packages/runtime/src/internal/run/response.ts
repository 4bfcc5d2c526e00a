/**
 * What the engine takes from a model's response, made safe to record: its shape checked (a malformed answer
 * is the model's error), its cost priced, its text and tool arguments scanned, tool arguments that are not
 * JSON turned into failed calls, and provider payloads made JSON (what JSON cannot hold becomes a marked
 * string such as `[bigint 12]`), so the model's mistakes end up in the model's column, never the recorder's.
 */
import { Either } from "effect"
import { ModelError } from "../../Errors.js"
import type { Json, ToolCallRef, Usage } from "../../HookEvent.js"
import * as Ids from "../../Ids.js"
import type { ModelResponse } from "../../LanguageModel.js"
import * as Lifecycle from "../../Lifecycle.js"
import * as Pricing from "../../Pricing.js"
import { toJson, toJsonLossy } from "../json.js"
import type { RunState } from "../runState.js"
import { type Scanned, scanValue } from "../sanitize.js"

const isCount = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n >= 0
const isOptionalCount = (n: unknown) => n === undefined || isCount(n)

const usageProblem = (usage: Usage | undefined): string | undefined => {
  if (usage === undefined) return undefined
  if (typeof usage !== "object" || usage === null) return "usage is not an object"
  if (!isCount(usage.inputTokens) || !isCount(usage.outputTokens)) return "usage token counts are not counts"
  const optional = [usage.cacheReadTokens, usage.cacheWriteTokens, usage.reasoningTokens, usage.costUsd]
  return optional.every(isOptionalCount) ? undefined : "usage has a value that is not a non-negative number"
}

const shapeProblem = (response: ModelResponse): string | undefined => {
  if (typeof response !== "object" || response === null) return "the response is not an object"
  if (typeof response.text !== "string") return "its text is not a string"
  if (typeof response.finishReason !== "string") return "its finishReason is not a string"
  if (!Array.isArray(response.toolCalls)) return "its toolCalls are not an array"
  for (const call of response.toolCalls) {
    if (typeof call?.name !== "string" || typeof call.id !== "string") return "a tool call has no string name or id"
  }
  for (const field of ["model", "responseId"] as const) {
    if (response[field] !== undefined && typeof response[field] !== "string") return `its ${field} is not a string`
  }
  return usageProblem(response.usage)
}

/** A response the engine cannot record as given is a malformed model answer. */
export const checkResponse = (provider: string, response: ModelResponse): ModelError | undefined => {
  const problem = shapeProblem(response)
  return problem === undefined
    ? undefined
    : new ModelError({ provider, reason: "malformed", message: `the model returned a malformed response: ${problem}` })
}

/** The cost note of a call whose model reported no usage. */
export const noUsageNote = "the model reported no usage, so the call has no token counts and no cost"

/**
 * A call's usage priced from the agent's table when the provider reported no cost; costs are rounded to
 * whole nano-dollars, the unit every recorder sums, so the run's totals equal the recorded ones. A call
 * without usage stays without (no counts are made up).
 */
export const priced = (state: RunState, response: ModelResponse): { usage?: Usage; note?: string } => {
  const usage = response.usage
  if (usage === undefined) return { note: noUsageNote }
  const withCost = (costUsd: number): Usage => ({ ...usage, costUsd: Lifecycle.roundCost(costUsd) })
  if (usage.costUsd !== undefined) return { usage: withCost(usage.costUsd) }
  const model = response.model ?? state.model.model
  const cost = Pricing.costOf(state.agent.prices, state.model.provider, model, usage)
  return "costUsd" in cost ? { usage: withCost(cost.costUsd) } : { usage, note: cost.note }
}

/** The response's text and tool calls as the run records them, with what the guardrails found. */
export interface ReadCalls {
  readonly scanned: Scanned<{ readonly text: string; readonly calls: ReadonlyArray<Json> }>
  readonly toolCalls: ReadonlyArray<ToolCallRef>
  /** Calls whose arguments were not JSON, with the failure the model will see. */
  readonly invalid: ReadonlyMap<string, string>
}

/** Gives each tool call the kernel's id, JSON arguments (marked where they were not) and scans everything. */
export const readCalls = (state: RunState, response: ModelResponse): ReadCalls => {
  const invalid = new Map<string, string>()
  const ids = response.toolCalls.map(() => Ids.make())
  const args = response.toolCalls.map((call, i) => {
    const json = toJson(call.arguments)
    if (Either.isRight(json)) return json.right
    invalid.set(ids[i]!, `Invalid arguments for tool '${call.name}': ${json.left}`)
    return toJsonLossy(call.arguments)
  })
  const scanned = scanValue(state, { text: response.text, calls: args })
  const toolCalls = response.toolCalls.map((call, i): ToolCallRef => ({
    id: ids[i]!,
    providerCallId: call.id,
    name: call.name,
    arguments: scanned.value.calls[i]!
  }))
  return { scanned, toolCalls, invalid }
}

/** A provider payload as JSON (marked where it was not), scanned when `scan` is set. */
export const payload = (state: RunState, value: unknown, scan: boolean): Json => {
  const json = toJsonLossy(value)
  return scan ? scanValue(state, json).value : json
}
