/**
 * The OpenTelemetry GenAI semantic-convention names this package emits, in one place (the conventions are
 * still "Development" and names move: `gen_ai.system` became `gen_ai.provider.name`; a rename of
 * `cache_creation` to `cache_write` is pending). `sextant.*` names are this package's own.
 */

/** `gen_ai.operation.name`: `invoke_agent`, `chat`, `execute_tool`. */
export const OPERATION_NAME = "gen_ai.operation.name"
/** `gen_ai.provider.name` (replaces the deprecated `gen_ai.system`). */
export const PROVIDER_NAME = "gen_ai.provider.name"
/** `gen_ai.agent.name`. */
export const AGENT_NAME = "gen_ai.agent.name"
/** `gen_ai.conversation.id`: the run's thread id (`RunOptions.threadId`), else the run id. */
export const CONVERSATION_ID = "gen_ai.conversation.id"
/** `gen_ai.request.model`. */
export const REQUEST_MODEL = "gen_ai.request.model"
/** `gen_ai.response.model`. */
export const RESPONSE_MODEL = "gen_ai.response.model"
/** `gen_ai.response.id`. */
export const RESPONSE_ID = "gen_ai.response.id"
/** `gen_ai.response.finish_reasons` (string array). */
export const RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
/** `gen_ai.usage.input_tokens` (all input tokens, cached ones included). */
export const USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
/** `gen_ai.usage.output_tokens`. */
export const USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
/** `gen_ai.usage.cache_read.input_tokens`. */
export const USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
/** `gen_ai.usage.cache_creation.input_tokens`. */
export const USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
/** `gen_ai.usage.reasoning.output_tokens`. */
export const USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
/** `gen_ai.tool.name`. */
export const TOOL_NAME = "gen_ai.tool.name"
/** `gen_ai.tool.call.id`: the model's id for the call (the kernel's id when the model gave none). */
export const TOOL_CALL_ID = "gen_ai.tool.call.id"
/** `gen_ai.tool.type`: `extension` for tools the kernel runs, `function` for client tools. */
export const TOOL_TYPE = "gen_ai.tool.type"
/** `error.type`: a low-cardinality error class. */
export const ERROR_TYPE = "error.type"

/** Opt-in content (`captureContent: true`): the messages sent to the model, as JSON. */
export const INPUT_MESSAGES = "gen_ai.input.messages"
/** Opt-in content: the model's answer, as JSON. */
export const OUTPUT_MESSAGES = "gen_ai.output.messages"
/** Opt-in content: the system prompt. */
export const SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
/** Opt-in content: the tool definitions sent to the model, as JSON. */
export const TOOL_DEFINITIONS = "gen_ai.tool.definitions"
/** Opt-in content: a tool call's arguments, as JSON. */
export const TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
/** Opt-in content: a tool call's result, as JSON. */
export const TOOL_CALL_RESULT = "gen_ai.tool.call.result"

/** Metric `gen_ai.client.token.usage` (histogram, `{token}`). */
export const METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
/** Metric `gen_ai.client.operation.duration` (histogram, seconds). */
export const METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
/** `gen_ai.token.type` on the token metric: `input` or `output`. */
export const TOKEN_TYPE = "gen_ai.token.type"

/** Operation names. */
export const Operation = { invokeAgent: "invoke_agent", chat: "chat", executeTool: "execute_tool" } as const

/** `sextant.run.id`. */
export const SEXTANT_RUN_ID = "sextant.run.id"
/** `sextant.run.status`: the run's status when its span ended. */
export const SEXTANT_RUN_STATUS = "sextant.run.status"
/** `sextant.iteration`. */
export const SEXTANT_ITERATION = "sextant.iteration"
/** `sextant.correlation_id`: the kernel's id pairing a start event with its end. */
export const SEXTANT_CORRELATION_ID = "sextant.correlation_id"
/** `sextant.failure_reason` on a failed run. */
export const SEXTANT_FAILURE_REASON = "sextant.failure_reason"
/** `sextant.span.orphan_close_reason`: why a span was closed by its run's end rather than its own. */
export const SEXTANT_ORPHAN_CLOSE_REASON = "sextant.span.orphan_close_reason"
/** Prefix of governance span events (`sextant.policy.denied`, `sextant.budget.threshold`, …) and their attributes. */
export const SEXTANT_PREFIX = "sextant."
