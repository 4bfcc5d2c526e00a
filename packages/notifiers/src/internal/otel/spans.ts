/**
 * The spans of each run the OpenTelemetry notifier has open: one segment span per run segment (parented to
 * the context captured when the run started, linked to the previous segment's), and its children (model
 * and tool calls) keyed by correlation id. A run's memory is bounded (`RunTable`) and dropped at its end.
 */
import {
  type Attributes,
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer
} from "@opentelemetry/api"
import type { HookEvent } from "@sextant/runtime"
import * as A from "../../GenAiAttributes.js"
import { RunTable } from "../runs.js"
import { at, type RunFacts, segmentAttributes } from "./attributes.js"

interface Segment {
  readonly span: Span
  readonly context: Context
  readonly children: Map<string, Span>
}

interface RunMemory {
  provider?: string
  model?: string
  agentName?: string
  /** The thread the run continues: its `gen_ai.conversation.id`. */
  threadId?: string
  /** The previous segment's span, linked from a resumed segment. */
  previous?: SpanContext
  segment?: Segment
}

/** An event that pairs a start with its end. */
interface Correlated {
  readonly runId: string
  readonly correlationId: string
  readonly iteration: number
}

const isOtelContext = (u: unknown): u is Context =>
  typeof u === "object" && u !== null && typeof (u as { getValue?: unknown }).getValue === "function"

/** The open spans of every run, and the operations on them. */
export interface Spans {
  /** Opens a segment's span (closing a previous one left open). */
  readonly startSegment: (event: HookEvent.RunStarted | HookEvent.RunResumed, traceContext: unknown) => void
  /** Opens a child span of the run's current segment (or of the captured context when none is open). */
  readonly startChild: (
    event: Correlated,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    startTime: number,
    traceContext: unknown
  ) => Span
  /** The child span a start event opened, or one `start` opens now; it is no longer tracked afterwards. */
  readonly takeChild: (event: Correlated, start: () => Span) => Span
  /** The span a span event belongs on: the model call's for a retry, else the segment's. */
  readonly eventTarget: (runId: string, correlationId?: string) => Span | undefined
  /** The run's open segment span, if any. */
  readonly segmentSpan: (runId: string) => Span | undefined
  /** Ends the run's segment span (and its orphaned children) at `endMs`; forgets the run when `forget`. */
  readonly endSegment: (runId: string, endMs: number, why: string, forget: boolean) => void
}

/** The span tracker of one notifier. */
export const makeSpans = (tracer: Tracer, capture: boolean): Spans => {
  const runs = new RunTable<RunMemory>(() => ({}))

  const parentOf = (runId: string, traceContext: unknown): Context =>
    runs.peek(runId)?.segment?.context ?? (isOtelContext(traceContext) ? traceContext : ROOT_CONTEXT)

  /** Ends the open children of a segment with ERROR (their own end never came), then the segment's span. */
  const close = (run: RunMemory, endMs: number, why: string) => {
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

  return {
    startSegment: (event, traceContext) => {
      const run = runs.get(event.runId)
      if (run.segment !== undefined) close(run, event.timestamp, "superseded by a new segment")
      if (event._tag === "RunStarted") {
        if (event.provider !== undefined) run.provider = event.provider
        if (event.model !== undefined) run.model = event.model
      }
      // A resumed segment names its thread too: it may run in a process that never saw the run's start.
      if (event.threadId !== undefined) run.threadId = event.threadId
      run.agentName = event.agentName
      const facts: RunFacts = { provider: run.provider, model: run.model, threadId: run.threadId }
      const links: Array<Link> = run.previous === undefined ? [] : [{ context: run.previous }]
      const parent = isOtelContext(traceContext) ? traceContext : ROOT_CONTEXT
      const span = tracer.startSpan(
        `${A.Operation.invokeAgent} ${event.agentName}`,
        {
          kind: SpanKind.INTERNAL,
          startTime: at(event.timestamp),
          attributes: segmentAttributes(event, facts, capture),
          links
        },
        parent
      )
      run.segment = { span, context: trace.setSpan(parent, span), children: new Map() }
    },
    startChild: (event, name, kind, attributes, startTime, traceContext) => {
      const span = tracer.startSpan(name, {
        kind,
        startTime: at(startTime),
        attributes: {
          ...attributes,
          [A.CONVERSATION_ID]: runs.peek(event.runId)?.threadId ?? event.runId,
          [A.SEXTANT_ITERATION]: event.iteration,
          [A.SEXTANT_CORRELATION_ID]: event.correlationId
        }
      }, parentOf(event.runId, traceContext))
      runs.peek(event.runId)?.segment?.children.set(event.correlationId, span)
      return span
    },
    takeChild: (event, start) => {
      const children = runs.peek(event.runId)?.segment?.children
      const span = children?.get(event.correlationId) ?? start()
      children?.delete(event.correlationId)
      return span
    },
    eventTarget: (runId, correlationId) => {
      const segment = runs.peek(runId)?.segment
      return (correlationId === undefined ? undefined : segment?.children.get(correlationId)) ?? segment?.span
    },
    segmentSpan: (runId) => runs.peek(runId)?.segment?.span,
    endSegment: (runId, endMs, why, forget) => {
      const run = runs.peek(runId)
      if (run !== undefined) close(run, endMs, why)
      if (forget) runs.delete(runId)
    }
  }
}
