/**
 * The timeline of a run, built from its recorded events alone: a start and its end are paired by correlation
 * id (never by position), a pause by the resume that follows it, and every event type has one entry in an
 * exhaustive table (a new event tag fails to compile here until it is placed). Values are capped previews.
 */
import { HookEvent } from "@sextant/runtime"
import type { RecordedError, RunStatus, StoredEvent } from "../Records.js"

type Recorded = typeof RecordedError.Type
import { maxPreviewLength, type Preview, type Severity, type TimelineNode } from "../Views.js"

type Data = Record<string, unknown>

const dataOf = (e: StoredEvent): Data =>
  e.data !== null && typeof e.data === "object" && !Array.isArray(e.data) ? (e.data as Data) : {}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null)
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null)

/** A value as compact JSON, cut at `maxPreviewLength` (a string is shown as itself, not quoted). */
export const preview = (value: unknown): Preview => {
  let text: string
  try {
    text = typeof value === "string" ? value : JSON.stringify(value) ?? "null"
  } catch {
    text = String(value)
  }
  return text.length > maxPreviewLength
    ? { text: text.slice(0, maxPreviewLength), length: text.length, truncated: true }
    : { text, length: text.length, truncated: false }
}

const previewOrNull = (
  value: unknown
): Preview | null => (value === undefined || value === null ? null : preview(value))

const errorOf = (v: unknown): Recorded | null => {
  if (v === null || typeof v !== "object") return null
  const e = v as Data
  return typeof e.message === "string" ? { tag: str(e.tag), message: e.message } : null
}

const base = (e: StoredEvent) => ({ sequenceIndex: e.sequenceIndex, iteration: e.iteration, at: e.createdAt })

const ms = (from: string, to: string) => Date.parse(to) - Date.parse(from)

/** The builder's state: nodes so far, and where each open start and the open pause are. */
interface State {
  readonly nodes: Array<TimelineNode>
  readonly open: Map<string, number>
  pause: number | undefined
}

type Step = (state: State, e: StoredEvent, d: Data) => void

const push = (state: State, node: TimelineNode) => state.nodes.push(node)

/** Replaces the node at `index` with `f(node)` when it has the tag `tag`. */
const update = <T extends TimelineNode["_tag"]>(
  state: State,
  index: number | undefined,
  tag: T,
  f: (node: Extract<TimelineNode, { _tag: T }>) => TimelineNode
): boolean => {
  const node = index === undefined ? undefined : state.nodes[index]
  if (node === undefined || node._tag !== tag) return false
  state.nodes[index!] = f(node as Extract<TimelineNode, { _tag: T }>)
  return true
}

const governance = (severity: (d: Data) => Severity, title: (d: Data) => string): Step => (state, e, d) =>
  push(state, {
    _tag: "governance",
    ...base(e),
    eventType: e.eventType,
    severity: severity(d),
    title: title(d),
    correlationId: e.correlationId,
    detail: preview(d)
  })

const end = (status: (d: Data) => RunStatus): Step => (state, e, d) =>
  push(state, {
    _tag: "end",
    ...base(e),
    eventType: e.eventType,
    status: status(d),
    answer: previewOrNull(d.answer),
    error: errorOf(d.error),
    failureReason: str(d.failureReason),
    reason: str(d.reason)
  })

const llmStarted: Step = (state, e, d) => {
  state.open.set(`llm:${e.correlationId}`, state.nodes.length)
  push(state, {
    _tag: "llmCall",
    ...base(e),
    correlationId: e.correlationId ?? "",
    status: "running",
    provider: str(d.provider) ?? "",
    model: str(d.model) ?? "",
    endSequenceIndex: null,
    completedAt: null,
    durationMs: null,
    inputTokens: null,
    outputTokens: null,
    cacheReadTokens: null,
    reasoningTokens: null,
    costUsd: null,
    finishReason: null,
    toolCallCount: 0,
    text: null,
    error: null
  })
}

/** Ends the open model call of this correlation id (or adds one, when its start is missing from the record). */
const llmEnded = (failed: boolean): Step => (state, e, d) => {
  const key = `llm:${e.correlationId}`
  if (!state.open.has(key)) llmStarted(state, e, d)
  const usage = (d.usage ?? {}) as Data
  update(state, state.open.get(key), "llmCall", (node) => ({
    ...node,
    status: failed ? "failed" : "completed",
    provider: str(d.provider) ?? node.provider,
    model: str(d.responseModel) ?? str(d.model) ?? node.model,
    endSequenceIndex: e.sequenceIndex,
    completedAt: e.createdAt,
    durationMs: num(d.durationMs) ?? ms(node.at, e.createdAt),
    inputTokens: num(usage.inputTokens),
    outputTokens: num(usage.outputTokens),
    cacheReadTokens: num(usage.cacheReadTokens),
    reasoningTokens: num(usage.reasoningTokens),
    costUsd: num(d.costUsd) ?? num(usage.costUsd),
    finishReason: str(d.finishReason),
    toolCallCount: Array.isArray(d.toolCalls) ? d.toolCalls.length : 0,
    text: str(d.text) === null || d.text === "" ? null : preview(d.text),
    error: errorOf(d.error)
  }))
  state.open.delete(key)
}

const toolStarted: Step = (state, e, d) => {
  state.open.set(`tool:${e.correlationId}`, state.nodes.length)
  push(state, {
    _tag: "toolCall",
    ...base(e),
    correlationId: e.correlationId ?? "",
    toolName: str(d.toolName) ?? "",
    target: str(d.target) ?? "server",
    status: "running",
    endSequenceIndex: null,
    completedAt: null,
    durationMs: null,
    arguments: previewOrNull(d.arguments),
    result: null,
    error: null
  })
}

// A client tool's result arrives after a resume with no `tool.started` in that segment: it becomes its own node.
const toolCompleted: Step = (state, e, d) => {
  const key = `tool:${e.correlationId}`
  if (!state.open.has(key)) toolStarted(state, e, d)
  update(state, state.open.get(key), "toolCall", (node) => ({
    ...node,
    status: d.success === false ? "failed" : "succeeded",
    endSequenceIndex: e.sequenceIndex,
    completedAt: e.createdAt,
    durationMs: num(d.durationMs),
    result: previewOrNull(d.result),
    error: str(d.error)
  }))
  state.open.delete(key)
}

const paused: Step = (state, e, d) => {
  const calls = Array.isArray(d.pendingCalls) ? (d.pendingCalls as Array<Data>) : []
  state.pause = state.nodes.length
  push(state, {
    _tag: "pause",
    ...base(e),
    status: (str(d.status) ?? "waiting_client_tool") as HookEvent.PausedStatus,
    pendingCalls: calls.map((c) => ({
      id: str(c.id) ?? "",
      name: str(c.name) ?? "",
      target: str(c.target) ?? "client",
      arguments: preview(c.arguments ?? null)
    })),
    prompt: str(d.prompt),
    resumeSequenceIndex: null,
    resumedAt: null,
    waitMs: null,
    submission: null
  })
}

const resumed: Step = (state, e, d) => {
  update(state, state.pause, "pause", (node) => ({
    ...node,
    resumeSequenceIndex: e.sequenceIndex,
    resumedAt: e.createdAt,
    waitMs: ms(node.at, e.createdAt),
    submission: previewOrNull(d.submission)
  }))
  state.pause = undefined
  // A resumed segment starts its calls afresh: a start left open by the paused segment stays as it was.
  state.open.clear()
  push(state, { _tag: "segment", ...base(e), kind: "resumed" })
}

const budgetSeverity = (d: Data): Severity => (d.action === "stop" ? "error" : "warning")
const guardrailTitle = (verb: string) => (d: Data) =>
  `${str(d.guardrail) ?? "guardrail"} ${verb} (${str(d.direction) ?? "?"})`

const steps: { readonly [K in HookEvent.HookEventTag]: Step | undefined } = {
  RunStarted: (state, e) => push(state, { _tag: "segment", ...base(e), kind: "started" }),
  RunResumed: resumed,
  // Messages are the conversation (see the traces); the calls that made them are the nodes.
  MessageAppended: undefined,
  LlmCallStarted: llmStarted,
  LlmCallCompleted: llmEnded(false),
  LlmCallFailed: llmEnded(true),
  ToolCallStarted: toolStarted,
  ToolCallCompleted: toolCompleted,
  PolicyDenied: governance(() => "warning", (d) => `Tool ${str(d.toolName) ?? "?"} denied: ${str(d.reason) ?? ""}`),
  ApprovalRequested: governance(() => "info", (d) => `Approval requested for ${str(d.toolName) ?? "?"}`),
  ApprovalDecided: governance(
    (d) => (d.approved === true ? "info" : "warning"),
    (d) => (d.approved === true ? "Approved" : "Rejected") + (str(d.reason) ? `: ${str(d.reason)}` : "")
  ),
  BudgetThreshold: governance(
    () => "warning",
    (d) => `Budget (${str(d.kind) ?? "?"}) at ${Math.round((num(d.fraction) ?? 0) * 100)}%`
  ),
  BudgetExceeded: governance(budgetSeverity, (d) => `Budget (${str(d.kind) ?? "?"}) exceeded: ${str(d.action) ?? ""}`),
  GuardrailDetected: governance(
    (d) => (d.action === "block" ? "error" : d.action === "warn" ? "warning" : "info"),
    guardrailTitle("detected")
  ),
  GuardrailRedacted: governance(() => "info", guardrailTitle("redacted")),
  GuardrailBlocked: governance(() => "error", guardrailTitle("blocked")),
  OutputInvalid: governance(
    (d) => (d.repair === true ? "warning" : "error"),
    (d) => `Output did not decode (attempt ${num(d.attempt) ?? "?"}${d.repair === true ? ", repair asked" : ""})`
  ),
  HistorySummarized: governance(
    () => "info",
    (d) => `History summarised (${num(d.droppedMessages) ?? "?"} earlier messages of thread ${str(d.threadId) ?? "?"})`
  ),
  MemoryAccessed: governance(() => "info", (d) => `Memory ${str(d.operation) ?? "?"}: ${str(d.key) ?? "?"}`),
  CustomEvent: governance(() => "info", (d) => str(d.name) ?? "custom event"),
  ProviderRetry: (state, e, d) =>
    push(state, {
      _tag: "retry",
      ...base(e),
      correlationId: e.correlationId,
      provider: str(d.provider) ?? "",
      attempt: num(d.attempt) ?? 0,
      statusCode: num(d.statusCode),
      retryAfterMs: num(d.retryAfterMs),
      reason: str(d.reason) ?? ""
    }),
  RunPaused: paused,
  RunCompleted: end((d) => (d.status === "max_iterations" ? "max_iterations" : "success")),
  RunFailed: end(() => "error"),
  RunCancelled: end(() => "cancelled"),
  RunInterrupted: end(() => "error"),
  RunAbandoned: end(() => "error")
}

/** The nodes of a run's events (in sequence order); an event type this version does not know is skipped. */
export const buildTimeline = (events: ReadonlyArray<StoredEvent>): Array<TimelineNode> => {
  const state: State = { nodes: [], open: new Map(), pause: undefined }
  for (const e of events) {
    const tag = HookEvent.tagOfEventType(e.eventType)
    const step = tag === undefined ? undefined : steps[tag]
    step?.(state, e, dataOf(e))
  }
  return state.nodes
}
