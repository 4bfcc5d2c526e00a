/**
 * The span and span-event attributes the OpenTelemetry notifier sets, per the GenAI conventions, computed
 * from the recorded events alone. Content (prompts, answers, arguments, results) only when `capture`.
 */
import type { Attributes, HrTime } from "@opentelemetry/api"
import { HookEvent } from "@sextant/runtime"
import * as A from "../../GenAiAttributes.js"
import { jsonText } from "../text.js"

/**
 * Epoch ms as an OpenTelemetry `HrTime`. A plain number would be read by the SDK as a `performance.now()`
 * offset when small (e.g. under a test clock); an `HrTime` is always absolute.
 */
export const at = (epochMs: number): HrTime => {
  const seconds = Math.floor(epochMs / 1000)
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)]
}

/** What the notifier remembers of a run for its later spans. */
export interface RunFacts {
  readonly provider?: string | undefined
  readonly model?: string | undefined
  readonly threadId?: string | undefined
}

/** The attributes of a segment's `invoke_agent` span, set at its start (the sampling-relevant ones). */
export const segmentAttributes = (
  event: HookEvent.RunStarted | HookEvent.RunResumed,
  run: RunFacts,
  capture: boolean
): Attributes => {
  const attributes: Attributes = {
    [A.OPERATION_NAME]: A.Operation.invokeAgent,
    [A.AGENT_NAME]: event.agentName,
    [A.CONVERSATION_ID]: run.threadId ?? event.runId,
    [A.SEXTANT_RUN_ID]: event.runId
  }
  if (run.provider !== undefined) attributes[A.PROVIDER_NAME] = run.provider
  if (run.model !== undefined) attributes[A.REQUEST_MODEL] = run.model
  if (capture && event._tag === "RunStarted") {
    attributes[A.SYSTEM_INSTRUCTIONS] = event.instructions
    attributes[A.INPUT_MESSAGES] = jsonText([{ role: "user", parts: [{ type: "text", content: event.input }] }])
  }
  return attributes
}

/** The attributes of a `chat` span at its start. */
export const chatAttributes = (event: { readonly provider: string; readonly model: string }): Attributes => ({
  [A.OPERATION_NAME]: A.Operation.chat,
  [A.PROVIDER_NAME]: event.provider,
  [A.REQUEST_MODEL]: event.model
})

/** What a completed model call adds to its `chat` span: response, usage and (with `capture`) content. */
export const chatCompletedAttributes = (event: HookEvent.LlmCallCompleted, capture: boolean): Attributes => {
  const u = event.usage
  // A model that reported no usage gets no usage attributes (absent, not 0).
  const attributes: Attributes = {
    [A.RESPONSE_FINISH_REASONS]: [event.finishReason],
    ...(u === undefined ? {} : { [A.USAGE_INPUT_TOKENS]: u.inputTokens, [A.USAGE_OUTPUT_TOKENS]: u.outputTokens })
  }
  if (event.responseModel !== undefined) attributes[A.RESPONSE_MODEL] = event.responseModel
  if (event.responseId !== undefined) attributes[A.RESPONSE_ID] = event.responseId
  if (u?.cacheReadTokens !== undefined) attributes[A.USAGE_CACHE_READ_INPUT_TOKENS] = u.cacheReadTokens
  if (u?.cacheWriteTokens !== undefined) attributes[A.USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cacheWriteTokens
  if (u?.reasoningTokens !== undefined) attributes[A.USAGE_REASONING_OUTPUT_TOKENS] = u.reasoningTokens
  if (capture) {
    const request = event.request as { system?: unknown; messages?: unknown; tools?: unknown } | null
    if (request !== null && typeof request === "object") {
      if (typeof request.system === "string") attributes[A.SYSTEM_INSTRUCTIONS] = request.system
      if (request.messages !== undefined) attributes[A.INPUT_MESSAGES] = jsonText(request.messages)
      if (request.tools !== undefined) attributes[A.TOOL_DEFINITIONS] = jsonText(request.tools)
    }
    attributes[A.OUTPUT_MESSAGES] = jsonText([{
      role: "assistant",
      parts: [
        ...(event.text === "" ? [] : [{ type: "text", content: event.text }]),
        ...event.toolCalls.map((c) => ({
          type: "tool_call",
          id: c.providerCallId ?? c.id,
          name: c.name,
          arguments: c.arguments
        }))
      ],
      finish_reason: event.finishReason
    }])
  }
  return attributes
}

/** The attributes of an `execute_tool` span. */
export const toolAttributes = (event: HookEvent.ToolCallStarted | HookEvent.ToolCallCompleted): Attributes => ({
  [A.OPERATION_NAME]: A.Operation.executeTool,
  [A.TOOL_NAME]: event.toolName,
  [A.TOOL_CALL_ID]: event.providerCallId ?? event.correlationId,
  [A.TOOL_TYPE]: event.target === "client" ? "function" : "extension"
})

/** Fields every event has; not repeated as span-event attributes. */
const baseFields: ReadonlySet<string> = new Set(["_tag", "runId", "sequenceIndex", "timestamp", "iteration"])
/** Fields that are content: attached only with `capture`. */
const contentFields: ReadonlySet<string> = new Set(["arguments"])

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** A governance or retry event as a span event: its name `sextant.<event_type>` and its fields as attributes. */
export const spanEvent = (
  event: HookEvent.HookEvent,
  capture: boolean
): { readonly name: string; readonly attributes: Attributes } => {
  const attributes: Attributes = { [A.SEXTANT_ITERATION]: event.iteration }
  for (const [key, value] of Object.entries(event)) {
    if (baseFields.has(key) || (!capture && contentFields.has(key))) continue
    const name = key === "correlationId" ? A.SEXTANT_CORRELATION_ID : `${A.SEXTANT_PREFIX}${snake(key)}`
    attributes[name] = typeof value === "string" || typeof value === "number" || typeof value === "boolean"
      ? value
      : jsonText(value)
  }
  return { name: `${A.SEXTANT_PREFIX}${HookEvent.eventType(event)}`, attributes }
}

/** A run's token totals, set on its segment span when the run ends. */
export const totalsAttributes = (usage: HookEvent.Usage): Attributes => ({
  [A.USAGE_INPUT_TOKENS]: usage.inputTokens,
  [A.USAGE_OUTPUT_TOKENS]: usage.outputTokens,
  ...(usage.cacheReadTokens === undefined ? {} : { [A.USAGE_CACHE_READ_INPUT_TOKENS]: usage.cacheReadTokens })
})
