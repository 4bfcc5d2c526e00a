/**
 * Spans (and optionally metrics) per the OpenTelemetry GenAI conventions, on the host's TracerProvider (this
 * package never registers one). Each run segment is an `invoke_agent {agent}` INTERNAL span parented to the
 * context captured when the run started; each model call a `chat {model}` CLIENT span and each tool call an
 * `execute_tool {tool}` INTERNAL span under it. Start and end times are the recorded event times. Governance
 * events become span events on the run span. Message and argument content is attached only with
 * `captureContent: true`. The work is done in `internal/otel/` (attributes, metrics, spans, and one handler
 * per event tag in an exhaustive table).
 */
import { trace, type Tracer } from "@opentelemetry/api"
import { Notifier } from "@sextant/runtime"
import { checkCommon, invalid } from "./internal/config.js"
import { dispatch, makeHandlers } from "./internal/otel/handlers.js"
import { makeMetrics } from "./internal/otel/metrics.js"
import { makeSpans } from "./internal/otel/spans.js"
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
  /**
   * Fraction of stream chunks (tool `StreamChunk`s, model deltas) added as `sextant.stream.chunk` span events on
   * their call's span, 0..1 (default 0). The stream's aggregate and time to first chunk are always recorded.
   */
  readonly chunkEvents?: number | undefined
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

const COMPONENT = "OpenTelemetryNotifier"

const checkOptions = (options: OpenTelemetryOptions): void => {
  checkCommon(COMPONENT, options)
  if (options.tracer !== undefined && typeof options.tracer?.startSpan !== "function") {
    invalid(COMPONENT, "tracer", "must be an OpenTelemetry Tracer (with startSpan)")
  }
  const metrics = options.metrics
  if (
    metrics !== undefined && typeof metrics !== "boolean" &&
    typeof (metrics as { createHistogram?: unknown })?.createHistogram !== "function"
  ) {
    invalid(COMPONENT, "metrics", "must be true, false or an OpenTelemetry Meter (with createHistogram)")
  }
  const rate = options.chunkEvents
  if (rate !== undefined && !(typeof rate === "number" && rate >= 0 && rate <= 1)) {
    invalid(COMPONENT, "chunkEvents", "must be a number in 0..1 (the fraction of chunks added as span events)")
  }
}

/**
 * A notifier exporting runs as GenAI spans to the host's tracer (and metrics to its meter, when asked).
 * Throws a `NotifierConfigError` naming the setting when `tracer`, `metrics` or a dispatcher option is invalid.
 */
export const make = (options: OpenTelemetryOptions = {}): Notifier.Notifier => {
  checkOptions(options)
  const capture = options.captureContent === true
  const handlers = makeHandlers({
    spans: makeSpans(options.tracer ?? trace.getTracer("@sextant/notifiers"), capture),
    recordCall: makeMetrics(options.metrics),
    capture,
    chunkEvents: options.chunkEvents ?? 0
  })
  return Notifier.make({
    name: options.name ?? "opentelemetry",
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout,
    onEvent: (event: NotifierEvent, context) => dispatch(handlers, event, context.traceContext)
  })
}
