/**
 * Spans (and optionally metrics) per the OpenTelemetry GenAI conventions, on the host's TracerProvider (this
 * package never registers one). Each run segment is an `invoke_agent {agent}` INTERNAL span parented to the
 * context captured when the run started; each model call a `chat {model}` CLIENT span and each tool call an
 * `execute_tool {tool}` INTERNAL span under it. Start and end times are the recorded event times. Governance
 * events become span events on the run span. Message and argument content is attached only with
 * `captureContent: true`.
 */
import {
  type Attributes,
  type Context,
  type HrTime,
  type Link,
  metrics as otelMetrics,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer
} from "@opentelemetry/api"
import { HookEvent, Notifier } from "@sextant/runtime"
import * as A from "./GenAiAttributes.js"
import { isSegmentEnd, isTerminal, RunTable } from "./internal/runs.js"
import { jsonText } from "./internal/text.js"
import type { CommonOptions, NotifierEvent } from "./NotifierEvent.js"

/** Options of `OpenTelemetryNotifier.make`. */
export interface OpenTelemetryOptions extends CommonOptions {
  /** Default: `trace.getTracer("@sextant/notifiers")` from the host's global TracerProvider. */
  readonly tracer?: Tracer | undefined
  /** Attach prompts, answers, tool arguments and results (may hold personal data; default false). */
  readonly captureContent?: boolean | undefined
  /**
   * Record `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`: `true` uses the host's global
   * MeterProvider, a `Meter` uses that meter (default: no metrics).
   */
  readonly metrics?: boolean | MeterLike | undefined
}

/**
 * The part of an OpenTelemetry `Meter` this notifier uses, typed structurally so a meter from any 1.x copy of
 * `@opentelemetry/api` in the host's dependency tree fits.
 */
export interface MeterLike {
  readonly createHistogram: (
    name: string,
    options?: {
      readonly unit?: string
      readonly description?: string
      readonly advice?: { readonly explicitBucketBoundaries?: Array<number> }
    }
  ) => { readonly record: (value: number, attributes?: MetricAttributes) => void }
}

/** Attributes of a metric point. */
export type MetricAttributes = { [key: string]: string | number | boolean }

/** Token histogram buckets of the conventions: 1 … 4^13. */
const TOKEN_BUCKETS = Array.from({ length: 14 }, (_, i) => 4 ** i)
/** Duration histogram buckets of the conventions, in seconds: 0.01 … 81.92. */
const DURATION_BUCKETS = Array.from({ length: 14 }, (_, i) => 0.01 * 2 ** i)

/** Governance and provider events that become span events (named `sextant.<event_type>`). */
const spanEventTags: ReadonlySet<string> = new Set([
  "PolicyDenied",
  "ApprovalRequested",
  "ApprovalDecided",
  "BudgetThreshold",
  "BudgetExceeded",
  "GuardrailDetected",
  "GuardrailRedacted",
  "GuardrailBlocked",
  "ProviderRetry"
])
/** Fields every event has; not repeated as span-event attributes. */
const baseFields: ReadonlySet<string> = new Set(["_tag", "runId", "sequenceIndex", "timestamp"])
/** Fields that are content: attached only with `captureContent`. */
const contentFields: ReadonlySet<string> = new Set(["arguments"])

interface Segment {
  readonly span: Span
  readonly context: Context
  readonly children: Map<string, Span>
}

interface RunMemory {
  provider?: string
  model?: string
  agentName?: string
  /** The previous segment's span, linked from a resumed segment. */
  previous?: SpanContext
  segment?: Segment
}

const isOtelContext = (u: unknown): u is Context =>
  typeof u === "object" && u !== null && typeof (u as { getValue?: unknown }).getValue === "function"

/** A notifier exporting runs as GenAI spans to the host's tracer (and metrics to its meter, when asked). */
export const make = (options: OpenTelemetryOptions = {}): Notifier.Notifier => {
  const tracer = options.tracer ?? trace.getTracer("@sextant/notifiers")
  const capture = options.captureContent === true
  const meter = options.metrics === true
    ? otelMetrics.getMeter("@sextant/notifiers")
    : options.metrics === false || options.metrics === undefined
    ? undefined
    : options.metrics
  const histograms = meter === undefined ? undefined : {
    tokens: meter.createHistogram(A.METRIC_TOKEN_USAGE, {
      unit: "{token}",
      description: "Number of input and output tokens used",
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS }
    }),
    duration: meter.createHistogram(A.METRIC_OPERATION_DURATION, {
      unit: "s",
      description: "GenAI operation duration",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS }
    })
  }
  const runs = new RunTable<RunMemory>(() => ({}))

  const parentOf = (runId: string, traceContext: unknown): Context =>
    runs.peek(runId)?.segment?.context ?? (isOtelContext(traceContext) ? traceContext : ROOT_CONTEXT)

  const startSegment = (
    event: HookEvent.RunStarted | HookEvent.RunResumed,
    traceContext: unknown
  ) => {
    const run = runs.get(event.runId)
    if (run.segment !== undefined) closeSegment(run, event.timestamp, "superseded by a new segment")
    if (event._tag === "RunStarted") {
      if (event.provider !== undefined) run.provider = event.provider
      if (event.model !== undefined) run.model = event.model
    }
    run.agentName = event.agentName
    const attributes: Attributes = {
      [A.OPERATION_NAME]: A.Operation.invokeAgent,
      [A.AGENT_NAME]: event.agentName,
      [A.CONVERSATION_ID]: event.runId,
      [A.SEXTANT_RUN_ID]: event.runId
    }
    if (run.provider !== undefined) attributes[A.PROVIDER_NAME] = run.provider
    if (run.model !== undefined) attributes[A.REQUEST_MODEL] = run.model
    if (capture && event._tag === "RunStarted") {
      attributes[A.SYSTEM_INSTRUCTIONS] = event.instructions
      attributes[A.INPUT_MESSAGES] = jsonText([{ role: "user", parts: [{ type: "text", content: event.input }] }])
    }
    const links: Array<Link> = run.previous === undefined ? [] : [{ context: run.previous }]
    const parent = isOtelContext(traceContext) ? traceContext : ROOT_CONTEXT
    const span = tracer.startSpan(
      `${A.Operation.invokeAgent} ${event.agentName}`,
      { kind: SpanKind.INTERNAL, startTime: at(event.timestamp), attributes, links },
      parent
    )
    run.segment = { span, context: trace.setSpan(parent, span), children: new Map() }
  }

  /** Ends the open children of a segment with ERROR (their own end never came), then the segment's span. */
  const closeSegment = (run: RunMemory, endMs: number, why: string) => {
    const segment = run.segment
    if (segment === undefined) return
    for (const child of segment.children.values()) {
      child.setAttribute(A.SEXTANT_ORPHAN_CLOSE_REASON, why)
      child.setAttribute(A.ERROR_TYPE, "orphaned")
      child.setStatus({ code: SpanStatusCode.ERROR, message: why })
      child.end(at(endMs))
    }
    segment.children.clear()
    segment.span.end(at(endMs))
    run.previous = segment.span.spanContext()
    delete run.segment
  }

  const startChild = (
    event: { readonly runId: string; readonly correlationId: string; readonly iteration: number },
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    startTime: number,
    traceContext: unknown
  ): Span => {
    const span = tracer.startSpan(name, {
      kind,
      startTime: at(startTime),
      attributes: {
        ...attributes,
        [A.CONVERSATION_ID]: event.runId,
        [A.SEXTANT_ITERATION]: event.iteration,
        [A.SEXTANT_CORRELATION_ID]: event.correlationId
      }
    }, parentOf(event.runId, traceContext))
    runs.peek(event.runId)?.segment?.children.set(event.correlationId, span)
    return span
  }

  /** The child span of a start event, or one started now from the end event's recorded duration. */
  const childFor = (
    event: { readonly runId: string; readonly correlationId: string; readonly timestamp: number },
    start: () => Span
  ): Span => {
    const children = runs.peek(event.runId)?.segment?.children
    const span = children?.get(event.correlationId) ?? start()
    children?.delete(event.correlationId)
    return span
  }

  const chatAttributes = (event: { readonly provider: string; readonly model: string }): Attributes => ({
    [A.OPERATION_NAME]: A.Operation.chat,
    [A.PROVIDER_NAME]: event.provider,
    [A.REQUEST_MODEL]: event.model
  })

  const chatSpan = (
    event: HookEvent.LlmCallStarted | HookEvent.LlmCallCompleted | HookEvent.LlmCallFailed,
    startTime: number,
    traceContext: unknown
  ) => {
    const name = `${A.Operation.chat} ${event.model}`
    return startChild(event, name, SpanKind.CLIENT, chatAttributes(event), startTime, traceContext)
  }

  const toolSpan = (
    event: HookEvent.ToolCallStarted | HookEvent.ToolCallCompleted,
    attributes: Attributes,
    startTime: number,
    traceContext: unknown
  ) => {
    const name = `${A.Operation.executeTool} ${event.toolName}`
    return startChild(event, name, SpanKind.INTERNAL, attributes, startTime, traceContext)
  }

  const toolAttributes = (
    event: HookEvent.ToolCallStarted | HookEvent.ToolCallCompleted
  ): Attributes => ({
    [A.OPERATION_NAME]: A.Operation.executeTool,
    [A.TOOL_NAME]: event.toolName,
    [A.TOOL_CALL_ID]: event.providerCallId ?? event.correlationId,
    [A.TOOL_TYPE]: event.target === "client" ? "function" : "extension"
  })

  const recordMetrics = (event: HookEvent.LlmCallCompleted | HookEvent.LlmCallFailed) => {
    if (histograms === undefined) return
    const attributes: MetricAttributes = {
      [A.OPERATION_NAME]: A.Operation.chat,
      [A.PROVIDER_NAME]: event.provider,
      [A.REQUEST_MODEL]: event.model
    }
    if (event._tag === "LlmCallCompleted") {
      if (event.responseModel !== undefined) attributes[A.RESPONSE_MODEL] = event.responseModel
      histograms.tokens.record(event.usage.inputTokens, { ...attributes, [A.TOKEN_TYPE]: "input" })
      histograms.tokens.record(event.usage.outputTokens, { ...attributes, [A.TOKEN_TYPE]: "output" })
    } else {
      attributes[A.ERROR_TYPE] = event.error.tag
    }
    histograms.duration.record(event.durationMs / 1000, attributes)
  }

  const spanEvent = (event: HookEvent.HookEvent) => {
    const attributes: Attributes = { [A.SEXTANT_ITERATION]: event.iteration }
    for (const [key, value] of Object.entries(event)) {
      if (baseFields.has(key) || key === "iteration" || (!capture && contentFields.has(key))) continue
      const name = key === "correlationId" ? A.SEXTANT_CORRELATION_ID : `${A.SEXTANT_PREFIX}${snake(key)}`
      attributes[name] = typeof value === "string" || typeof value === "number" || typeof value === "boolean"
        ? value
        : jsonText(value)
    }
    const run = runs.peek(event.runId)?.segment
    // A provider retry belongs to its model call's span; governance to the run's.
    const target = (event._tag === "ProviderRetry" ? run?.children.get(event.correlationId) : undefined) ?? run?.span
    target?.addEvent(`${A.SEXTANT_PREFIX}${HookEvent.eventType(event)}`, attributes, at(event.timestamp))
  }

  const endSegment = (event: HookEvent.HookEvent) => {
    const run = runs.peek(event.runId)
    const segment = run?.segment
    if (run !== undefined && segment !== undefined) {
      const span = segment.span
      switch (event._tag) {
        case "RunCompleted":
        case "RunFailed":
        case "RunCancelled":
          span.setAttribute(A.USAGE_INPUT_TOKENS, event.usage.inputTokens)
          span.setAttribute(A.USAGE_OUTPUT_TOKENS, event.usage.outputTokens)
          if (event.usage.cacheReadTokens !== undefined) {
            span.setAttribute(A.USAGE_CACHE_READ_INPUT_TOKENS, event.usage.cacheReadTokens)
          }
          break
      }
      switch (event._tag) {
        case "RunCompleted":
          span.setAttribute(A.SEXTANT_RUN_STATUS, event.status)
          if (capture && event.answer !== undefined) {
            span.setAttribute(
              A.OUTPUT_MESSAGES,
              jsonText([{ role: "assistant", parts: [{ type: "text", content: event.answer }] }])
            )
          }
          break
        case "RunFailed":
          span.setAttribute(A.SEXTANT_RUN_STATUS, "error")
          span.setAttribute(A.SEXTANT_FAILURE_REASON, event.failureReason)
          span.setAttribute(A.ERROR_TYPE, event.error.tag)
          span.setStatus({ code: SpanStatusCode.ERROR, message: event.error.message })
          break
        case "RunCancelled":
          span.setAttribute(A.SEXTANT_RUN_STATUS, "cancelled")
          break
        case "RunPaused":
          span.setAttribute(A.SEXTANT_RUN_STATUS, event.status)
          break
        case "RunInterrupted":
        case "RunAbandoned":
          span.setAttribute(A.SEXTANT_RUN_STATUS, "error")
          span.setAttribute(A.SEXTANT_FAILURE_REASON, event.failureReason)
          span.setAttribute(A.ERROR_TYPE, event.failureReason)
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: `${event.failureReason} (was ${event.previousStatus})`
          })
          break
      }
      closeSegment(run, event.timestamp, `run ended (${HookEvent.eventType(event)}) before this span's own end`)
    }
    if (isTerminal(event)) runs.delete(event.runId)
  }

  const handle = (event: NotifierEvent, traceContext: unknown): void => {
    switch (event._tag) {
      case "RunStarted":
      case "RunResumed":
        return startSegment(event, traceContext)
      case "LlmCallStarted": {
        chatSpan(event, event.timestamp, traceContext)
        return
      }
      case "LlmCallCompleted": {
        const span = childFor(event, () => chatSpan(event, event.timestamp - event.durationMs, traceContext))
        const u = event.usage
        const attributes: Attributes = {
          [A.RESPONSE_FINISH_REASONS]: [event.finishReason],
          [A.USAGE_INPUT_TOKENS]: u.inputTokens,
          [A.USAGE_OUTPUT_TOKENS]: u.outputTokens
        }
        if (event.responseModel !== undefined) attributes[A.RESPONSE_MODEL] = event.responseModel
        if (event.responseId !== undefined) attributes[A.RESPONSE_ID] = event.responseId
        if (u.cacheReadTokens !== undefined) attributes[A.USAGE_CACHE_READ_INPUT_TOKENS] = u.cacheReadTokens
        if (u.cacheWriteTokens !== undefined) attributes[A.USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cacheWriteTokens
        if (u.reasoningTokens !== undefined) attributes[A.USAGE_REASONING_OUTPUT_TOKENS] = u.reasoningTokens
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
        span.setAttributes(attributes)
        span.end(at(event.timestamp))
        recordMetrics(event)
        return
      }
      case "LlmCallFailed": {
        const span = childFor(event, () => chatSpan(event, event.timestamp - event.durationMs, traceContext))
        span.setAttribute(A.ERROR_TYPE, event.error.tag)
        span.setStatus({ code: SpanStatusCode.ERROR, message: event.error.message })
        span.end(at(event.timestamp))
        recordMetrics(event)
        return
      }
      case "ToolCallStarted": {
        const attributes = toolAttributes(event)
        if (capture) attributes[A.TOOL_CALL_ARGUMENTS] = jsonText(event.arguments)
        toolSpan(event, attributes, event.timestamp, traceContext)
        return
      }
      case "ToolCallCompleted": {
        const span = childFor(
          event,
          () => toolSpan(event, toolAttributes(event), event.timestamp - event.durationMs, traceContext)
        )
        if (capture) span.setAttribute(A.TOOL_CALL_RESULT, jsonText(event.result))
        if (!event.success) {
          span.setAttribute(A.ERROR_TYPE, "tool_error")
          span.setStatus({ code: SpanStatusCode.ERROR, message: event.error ?? "tool call failed" })
        }
        span.end(at(event.timestamp))
        return
      }
      case "Alert":
      case "TextDelta":
      case "ToolArgumentsDelta":
      case "MessageAppended":
        return
      default:
        if (spanEventTags.has(event._tag)) return spanEvent(event)
        if (isSegmentEnd(event)) return endSegment(event)
    }
  }

  return Notifier.make({
    name: options.name ?? "opentelemetry",
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout,
    onEvent: (event: NotifierEvent, context) => handle(event, context.traceContext)
  })
}

/**
 * Epoch ms as an OpenTelemetry `HrTime`. A plain number would be read by the SDK as a `performance.now()` offset
 * when small (e.g. under a test clock); an `HrTime` is always absolute.
 */
const at = (epochMs: number): HrTime => {
  const seconds = Math.floor(epochMs / 1000)
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)]
}

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
