/**
 * Hand-built event sequences: a run's events stamped as the bus stamps them (its id, gapless indexes from 0,
 * one second apart from a chosen start), so the suite can feed a recorder exactly the sequence it wants,
 * including the ones the agent loop never emits (gaps, repeats, events out of status).
 */
import type { HookEvent } from "@sextant/runtime"

/** An event before it is stamped: its tag and its own fields. */
export type Input = HookEvent.HookEvent extends infer E
  ? E extends HookEvent.HookEvent ? Omit<E, "runId" | "sequenceIndex" | "iteration" | "timestamp"> : never
  : never

/** Stamps the events of one run. */
export interface Stamper {
  readonly runId: string
  /** The next event in sequence (iteration defaults to the last one used). */
  readonly next: (input: Input, iteration?: number) => HookEvent.HookEvent
  /** An event at an explicit index, without moving the sequence (gaps, repeats). */
  readonly at: (sequenceIndex: number, input: Input, iteration?: number) => HookEvent.HookEvent
  /** The index the next event gets. */
  readonly nextIndex: () => number
}

/** A stamper for `runId` whose first event happens at `t0` (epoch ms). */
export const stamper = (runId: string, t0: number): Stamper => {
  let sequence = 0
  let lastIteration = 0
  const make = (sequenceIndex: number, input: Input, iteration: number): HookEvent.HookEvent =>
    ({ ...input, runId, sequenceIndex, iteration, timestamp: t0 + sequenceIndex * 1000 }) as HookEvent.HookEvent
  return {
    runId,
    next: (input, iteration = lastIteration) => {
      lastIteration = iteration
      return make(sequence++, input, iteration)
    },
    at: (sequenceIndex, input, iteration = lastIteration) => make(sequenceIndex, input, iteration),
    nextIndex: () => sequence
  }
}

/** Options of `started`. */
export interface StartedOptions {
  readonly tenantId?: string
  readonly parentRunId?: string
  readonly retryOfRunId?: string
  readonly idempotencyKey?: string
  readonly idempotencyFingerprint?: string
  readonly metadata?: { readonly [key: string]: HookEvent.Json }
  readonly input?: string
}

/** `run.started` of the contract's agent. */
export const started = (options: StartedOptions = {}): Input => ({
  _tag: "RunStarted",
  agentName: "contract-agent",
  instructions: "Answer with the tools.",
  input: options.input ?? "What is the weather in Lisbon?",
  model: "scripted-1",
  provider: "scripted",
  delegationLevel: 0,
  tools: ["get_weather", "pick_file"],
  ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
  ...(options.parentRunId === undefined ? {} : { parentRunId: options.parentRunId }),
  ...(options.retryOfRunId === undefined ? {} : { retryOfRunId: options.retryOfRunId }),
  ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
  ...(options.idempotencyFingerprint === undefined ? {} : { idempotencyFingerprint: options.idempotencyFingerprint }),
  ...(options.metadata === undefined ? {} : { metadata: options.metadata })
})

/** `message.appended` of a user message. */
export const user = (orderIndex: number, content: string): Input => ({
  _tag: "MessageAppended",
  orderIndex,
  message: { _tag: "user", content }
})

/** `message.appended` of an assistant message (with the tool calls it asked for). */
export const assistant = (
  orderIndex: number,
  content: string,
  toolCalls: ReadonlyArray<HookEvent.ToolCallRef> = []
): Input => ({ _tag: "MessageAppended", orderIndex, message: { _tag: "assistant", content, toolCalls } })

/** `message.appended` of a tool result. */
export const toolMessage = (
  orderIndex: number,
  call: HookEvent.ToolCallRef,
  content: string,
  isError = false
): Input => ({
  _tag: "MessageAppended",
  orderIndex,
  message: {
    _tag: "tool",
    toolCallId: call.id,
    toolName: call.name,
    content,
    isError,
    ...(call.providerCallId === undefined ? {} : { providerCallId: call.providerCallId })
  }
})

/** `llm.started`. */
export const llmStarted = (correlationId: string, messageCount = 1): Input => ({
  _tag: "LlmCallStarted",
  correlationId,
  provider: "scripted",
  model: "scripted-1",
  messageCount
})

/** `llm.completed` with this usage, text and tool calls. */
export const llmCompleted = (
  correlationId: string,
  usage: HookEvent.Usage,
  reply: { readonly text?: string; readonly toolCalls?: ReadonlyArray<HookEvent.ToolCallRef> } = {}
): Input => ({
  _tag: "LlmCallCompleted",
  correlationId,
  provider: "scripted",
  model: "scripted-1",
  responseModel: "scripted-1-2025",
  responseId: `resp-${correlationId}`,
  text: reply.text ?? "",
  toolCalls: reply.toolCalls ?? [],
  finishReason: (reply.toolCalls ?? []).length > 0 ? "tool_calls" : "stop",
  usage,
  durationMs: 250,
  request: { system: "Answer with the tools.", messages: [{ _tag: "user", content: "weather?" }] },
  providerRequest: { model: "scripted-1", input: "weather?" },
  providerResponse: { id: `resp-${correlationId}`, output: reply.text ?? "" }
})

/** `llm.failed`. */
export const llmFailed = (correlationId: string, message: string): Input => ({
  _tag: "LlmCallFailed",
  correlationId,
  provider: "scripted",
  model: "scripted-1",
  error: { tag: "ModelError", message },
  durationMs: 120
})

/** A tool call as the model asked for it. */
export const call = (
  id: string,
  name: string,
  args: HookEvent.Json,
  providerCallId?: string
): HookEvent.ToolCallRef => ({
  id,
  name,
  arguments: args,
  ...(providerCallId === undefined ? {} : { providerCallId })
})

/** `tool.started` of a call. */
export const toolStarted = (c: HookEvent.ToolCallRef, target: "server" | "client" = "server"): Input => ({
  _tag: "ToolCallStarted",
  correlationId: c.id,
  toolName: c.name,
  target,
  arguments: c.arguments,
  ...(c.providerCallId === undefined ? {} : { providerCallId: c.providerCallId })
})

/** `tool.completed` of a call. */
export const toolCompleted = (
  c: HookEvent.ToolCallRef,
  result: HookEvent.Json,
  options: { readonly target?: "server" | "client"; readonly error?: string } = {}
): Input => ({
  _tag: "ToolCallCompleted",
  correlationId: c.id,
  toolName: c.name,
  target: options.target ?? "server",
  success: options.error === undefined,
  result,
  durationMs: 40,
  ...(options.error === undefined ? {} : { error: options.error }),
  ...(c.providerCallId === undefined ? {} : { providerCallId: c.providerCallId })
})

/** `run.paused` waiting on `calls`, with an execution state unless `state` is `null`. */
export const paused = (
  status: HookEvent.PausedStatus,
  calls: ReadonlyArray<HookEvent.ToolCallRef>,
  state: HookEvent.Json | null = { version: 1, history: ["kept for the resume"], pending: calls.map((c) => c.id) }
): Input => ({
  _tag: "RunPaused",
  status,
  pendingCalls: calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, target: "client" as const })),
  ...(state === null ? {} : { state })
})

/** `run.resumed` from a pause. */
export const resumed = (from: HookEvent.PausedStatus, submission: HookEvent.Json): Input => ({
  _tag: "RunResumed",
  agentName: "contract-agent",
  resumedFrom: from,
  submission
})

/** `run.completed` (`success` or `max_iterations`). */
export const completed = (
  status: "success" | "max_iterations",
  iterations: number,
  usage: HookEvent.Usage,
  answer?: string
): Input => ({
  _tag: "RunCompleted",
  status,
  iterations,
  usage,
  ...(answer === undefined ? {} : { answer })
})

/** `run.failed`. */
export const failed = (
  iterations: number,
  usage: HookEvent.Usage,
  error: HookEvent.ErrorInfo,
  failureReason: HookEvent.FailureReason
): Input => ({ _tag: "RunFailed", error, failureReason, iterations, usage })

/** `run.cancelled`. */
export const cancelled = (iterations: number, usage: HookEvent.Usage, reason = "cancel_requested"): Input => ({
  _tag: "RunCancelled",
  reason,
  iterations,
  usage
})

/** The sweep's `run.interrupted` of a stale running run. */
export const interrupted = (previousStatus: HookEvent.RunStatus = "running"): Input => ({
  _tag: "RunInterrupted",
  failureReason: "stale_running",
  previousStatus
})

/** The sweep's `run.abandoned` of a run that waited too long. */
export const abandoned = (previousStatus: HookEvent.RunStatus): Input => ({
  _tag: "RunAbandoned",
  failureReason: "abandoned_waiting",
  previousStatus
})
