/**
 * The events and messages the engine builds from tool calls, and appending a message to the history.
 */
import { Effect } from "effect"
import type { RecorderError } from "../../Errors.js"
import type { Message, ToolCallRef } from "../../HookEvent.js"
import type { RunState, ToolOutcome } from "../runState.js"

const withProviderId = <A extends object>(fields: A, call: ToolCallRef) =>
  call.providerCallId === undefined ? fields : { ...fields, providerCallId: call.providerCallId }

/** The `tool.started` event of a call. */
export const toolStarted = (call: ToolCallRef, target: "server" | "client") =>
  call.providerCallId === undefined
    ? {
      _tag: "ToolCallStarted" as const,
      correlationId: call.id,
      toolName: call.name,
      target,
      arguments: call.arguments
    }
    : {
      _tag: "ToolCallStarted" as const,
      correlationId: call.id,
      toolName: call.name,
      target,
      arguments: call.arguments,
      providerCallId: call.providerCallId
    }

/** The `tool.completed` event of a call. */
export const toolCompleted = (call: ToolCallRef, target: "server" | "client", outcome: ToolOutcome) =>
  withProviderId({
    _tag: "ToolCallCompleted" as const,
    correlationId: call.id,
    toolName: call.name,
    target,
    success: outcome.success,
    result: outcome.result,
    durationMs: outcome.durationMs,
    ...(outcome.error === undefined ? {} : { error: outcome.error })
  }, call)

/** The tool message the model sees: the JSON result, or `{"error": …}` on failure. */
export const toolMessage = (call: ToolCallRef, outcome: ToolOutcome): Message =>
  withProviderId({
    _tag: "tool" as const,
    toolCallId: call.id,
    toolName: call.name,
    content: typeof outcome.result === "string" ? outcome.result : JSON.stringify(outcome.result),
    isError: !outcome.success
  }, call)

/** A failed outcome with the message the model will see. */
export const failedOutcome = (message: string, durationMs = 0): ToolOutcome => ({
  success: false,
  result: { error: message },
  error: message,
  durationMs
})

/** Appends a message to the history (as the model sees it); `message.appended` is durable at the next commit point. */
export const appendMessage = (
  state: RunState,
  message: Message,
  iteration: number
): Effect.Effect<void, RecorderError> =>
  Effect.map(
    state.bus.stage({ _tag: "MessageAppended", orderIndex: state.orderIndex, message }, iteration),
    (event) => {
      state.orderIndex++
      // The model sees the message as recorded: the bus's redaction pass has been applied to it.
      state.history.push(event._tag === "MessageAppended" ? event.message : message)
    }
  )
