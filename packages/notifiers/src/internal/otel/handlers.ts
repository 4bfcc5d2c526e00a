/**
 * What the OpenTelemetry notifier does with each event, as one table keyed by every tag a notifier can be
 * handed: a new hook event (or stream event) tag fails to compile here until it is given a handler, so no
 * event is ever dropped by a `default:` branch.
 */
import { type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { HookEvent } from "@sextant/runtime"
import * as A from "../../GenAiAttributes.js"
import type { NotifierEvent } from "../../NotifierEvent.js"
import { jsonText } from "../text.js"
import {
  at,
  chatAttributes,
  chatCompletedAttributes,
  spanEvent,
  streamAttributes,
  toolAttributes,
  totalsAttributes
} from "./attributes.js"
import type { RecordCall } from "./metrics.js"
import type { Spans } from "./spans.js"

type EventOf<T extends NotifierEvent["_tag"]> = Extract<NotifierEvent, { readonly _tag: T }>

/** One handler per tag; `traceContext` is the context captured when the run started. */
export type Handlers = {
  readonly [T in NotifierEvent["_tag"]]: (event: EventOf<T>, traceContext: unknown) => void
}

/** What the handlers work with. */
export interface Wiring {
  readonly spans: Spans
  readonly recordCall: RecordCall
  readonly capture: boolean
  /** Fraction of chunks (tool stream chunks, model deltas) added as span events, 0..1. */
  readonly chunkEvents: number
}

/** The handler table of one notifier. */
export const makeHandlers = ({ capture, chunkEvents, recordCall, spans }: Wiring): Handlers => {
  const chatSpan = (
    event: HookEvent.LlmCallStarted | HookEvent.LlmCallCompleted | HookEvent.LlmCallFailed,
    startTime: number,
    traceContext: unknown
  ): Span =>
    spans.startChild(
      event,
      `${A.Operation.chat} ${event.model}`,
      SpanKind.CLIENT,
      chatAttributes(event),
      startTime,
      traceContext
    )

  const toolSpan = (
    event: HookEvent.ToolCallStarted | HookEvent.ToolCallCompleted,
    startTime: number,
    traceContext: unknown
  ): Span => {
    const attributes = toolAttributes(event)
    if (capture && event._tag === "ToolCallStarted") attributes[A.TOOL_CALL_ARGUMENTS] = jsonText(event.arguments)
    return spans.startChild(
      event,
      `${A.Operation.executeTool} ${event.toolName}`,
      SpanKind.INTERNAL,
      attributes,
      startTime,
      traceContext
    )
  }

  /** A governance or retry event as a span event, on its model call's span (a retry) or the run's. */
  const asSpanEvent = (event: HookEvent.HookEvent & { readonly correlationId?: string }) => {
    const { attributes, name } = spanEvent(event, capture)
    const target = spans.eventTarget(event.runId, event._tag === "ProviderRetry" ? event.correlationId : undefined)
    target?.addEvent(name, attributes, at(event.timestamp))
  }

  /** Ends the run's segment span with what the ending event says; a terminal event also forgets the run. */
  const endSegment = (
    event:
      | HookEvent.RunCompleted
      | HookEvent.RunFailed
      | HookEvent.RunCancelled
      | HookEvent.RunPaused
      | HookEvent.RunInterrupted
      | HookEvent.RunAbandoned,
    mark: (span: Span) => void
  ) => {
    const span = spans.segmentSpan(event.runId)
    if (span !== undefined) mark(span)
    spans.endSegment(
      event.runId,
      event.timestamp,
      `run ended (${HookEvent.eventType(event)}) before this span's own end`,
      event._tag !== "RunPaused"
    )
  }

  const swept = (event: HookEvent.RunInterrupted | HookEvent.RunAbandoned) =>
    endSegment(event, (span) => {
      span.setAttribute(A.SEXTANT_RUN_STATUS, "error")
      span.setAttribute(A.SEXTANT_FAILURE_REASON, event.failureReason)
      span.setAttribute(A.ERROR_TYPE, event.failureReason)
      span.setStatus({ code: SpanStatusCode.ERROR, message: `${event.failureReason} (was ${event.previousStatus})` })
    })

  const ignore = () => undefined

  /** A chunk kept by sampling (exactly ⌊n·rate⌋ of a stream's first n) becomes a span event on its call's span. */
  const chunkEvent = (
    event: Extract<NotifierEvent, { readonly _tag: "StreamChunk" | "TextDelta" | "ToolArgumentsDelta" }>
  ) => {
    const i = event.sequence
    if (chunkEvents <= 0 || Math.floor((i + 1) * chunkEvents) <= Math.floor(i * chunkEvents)) return
    spans.eventTarget(event.runId, event.correlationId)?.addEvent(
      A.SEXTANT_STREAM_CHUNK_EVENT,
      {
        [A.SEXTANT_STREAM_SEQUENCE]: i,
        ...(event._tag === "StreamChunk" ? { [A.SEXTANT_STREAM_BYTES]: event.bytes } : {})
      },
      at(event.timestamp)
    )
  }

  return {
    RunStarted: (event, traceContext) => spans.startSegment(event, traceContext),
    RunResumed: (event, traceContext) => spans.startSegment(event, traceContext),
    LlmCallStarted: (event, traceContext) => void chatSpan(event, event.timestamp, traceContext),
    LlmCallCompleted: (event, traceContext) => {
      const span = spans.takeChild(event, () => chatSpan(event, event.timestamp - event.durationMs, traceContext))
      span.setAttributes(chatCompletedAttributes(event, capture))
      span.end(at(event.timestamp))
      recordCall(event)
    },
    LlmCallFailed: (event, traceContext) => {
      const span = spans.takeChild(event, () => chatSpan(event, event.timestamp - event.durationMs, traceContext))
      span.setAttribute(A.ERROR_TYPE, event.error.tag)
      span.setStatus({ code: SpanStatusCode.ERROR, message: event.error.message })
      span.end(at(event.timestamp))
      recordCall(event)
    },
    ToolCallStarted: (event, traceContext) => void toolSpan(event, event.timestamp, traceContext),
    ToolCallCompleted: (event, traceContext) => {
      const span = spans.takeChild(event, () => toolSpan(event, event.timestamp - event.durationMs, traceContext))
      if (capture) span.setAttribute(A.TOOL_CALL_RESULT, jsonText(event.result))
      if (!event.success) {
        span.setAttribute(A.ERROR_TYPE, "tool_error")
        span.setStatus({ code: SpanStatusCode.ERROR, message: event.error ?? "tool call failed" })
      }
      span.end(at(event.timestamp))
    },
    // The aggregate lands on the tool's span, still open: `tool.completed` follows.
    StreamEnded: (event) => spans.eventTarget(event.runId, event.correlationId)?.setAttributes(streamAttributes(event)),
    PolicyDenied: asSpanEvent,
    ApprovalRequested: asSpanEvent,
    ApprovalDecided: asSpanEvent,
    BudgetThreshold: asSpanEvent,
    BudgetExceeded: asSpanEvent,
    GuardrailDetected: asSpanEvent,
    GuardrailRedacted: asSpanEvent,
    GuardrailBlocked: asSpanEvent,
    ProviderRetry: asSpanEvent,
    OutputInvalid: asSpanEvent,
    HistorySummarized: asSpanEvent,
    MemoryAccessed: asSpanEvent,
    CustomEvent: asSpanEvent,
    RunPaused: (event) => endSegment(event, (span) => span.setAttribute(A.SEXTANT_RUN_STATUS, event.status)),
    RunCompleted: (event) =>
      endSegment(event, (span) => {
        span.setAttributes(totalsAttributes(event.usage))
        span.setAttribute(A.SEXTANT_RUN_STATUS, event.status)
        if (capture && event.answer !== undefined) {
          span.setAttribute(
            A.OUTPUT_MESSAGES,
            jsonText([{ role: "assistant", parts: [{ type: "text", content: event.answer }] }])
          )
        }
      }),
    RunFailed: (event) =>
      endSegment(event, (span) => {
        span.setAttributes(totalsAttributes(event.usage))
        span.setAttribute(A.SEXTANT_RUN_STATUS, "error")
        span.setAttribute(A.SEXTANT_FAILURE_REASON, event.failureReason)
        span.setAttribute(A.ERROR_TYPE, event.error.tag)
        span.setStatus({ code: SpanStatusCode.ERROR, message: event.error.message })
      }),
    RunCancelled: (event) =>
      endSegment(event, (span) => {
        span.setAttributes(totalsAttributes(event.usage))
        span.setAttribute(A.SEXTANT_RUN_STATUS, "cancelled")
      }),
    RunInterrupted: swept,
    RunAbandoned: swept,
    // The whole message is on the model call's span (with `captureContent`); the history adds nothing.
    MessageAppended: ignore,
    // Deltas are summed up by the call's end event (some sampled as span events); alerts and detector signals are for people, not for traces.
    TextDelta: chunkEvent,
    ToolArgumentsDelta: chunkEvent,
    StreamStarted: ignore,
    StreamChunk: chunkEvent,
    Alert: ignore,
    DetectorSignal: ignore
  }
}

/** Hands an event to its handler. */
export const dispatch = (handlers: Handlers, event: NotifierEvent, traceContext: unknown): void =>
  (handlers[event._tag] as (e: NotifierEvent, c: unknown) => void)(event, traceContext)
