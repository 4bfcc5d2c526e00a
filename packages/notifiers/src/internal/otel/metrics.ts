/**
 * The GenAI client metrics (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`) with the
 * conventions' bucket boundaries, recorded per model call.
 */
import { metrics as otelMetrics } from "@opentelemetry/api"
import type { HookEvent } from "@sextant/runtime"
import * as A from "../../GenAiAttributes.js"
import type { MeterLike, MetricAttributes } from "../../OpenTelemetryNotifier.js"

/** Token histogram buckets of the conventions: 1 … 4^13. */
const TOKEN_BUCKETS = Array.from({ length: 14 }, (_, i) => 4 ** i)
/** Duration histogram buckets of the conventions, in seconds: 0.01 … 81.92. */
const DURATION_BUCKETS = Array.from({ length: 14 }, (_, i) => 0.01 * 2 ** i)

/** Records a finished model call. */
export type RecordCall = (event: HookEvent.LlmCallCompleted | HookEvent.LlmCallFailed) => void

/** The recorder of model-call metrics for the `metrics` option (`true`: the global meter), or a no-op. */
export const makeMetrics = (option: boolean | MeterLike | undefined): RecordCall => {
  const meter = option === true ? otelMetrics.getMeter("@sextant/notifiers") : option === false ? undefined : option
  if (meter === undefined) return () => undefined
  const tokens = meter.createHistogram(A.METRIC_TOKEN_USAGE, {
    unit: "{token}",
    description: "Number of input and output tokens used",
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS }
  })
  const duration = meter.createHistogram(A.METRIC_OPERATION_DURATION, {
    unit: "s",
    description: "GenAI operation duration",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS }
  })
  return (event) => {
    const attributes: MetricAttributes = {
      [A.OPERATION_NAME]: A.Operation.chat,
      [A.PROVIDER_NAME]: event.provider,
      [A.REQUEST_MODEL]: event.model
    }
    if (event._tag === "LlmCallCompleted") {
      if (event.responseModel !== undefined) attributes[A.RESPONSE_MODEL] = event.responseModel
      if (event.usage !== undefined) {
        tokens.record(event.usage.inputTokens, { ...attributes, [A.TOKEN_TYPE]: "input" })
        tokens.record(event.usage.outputTokens, { ...attributes, [A.TOKEN_TYPE]: "output" })
      }
    } else {
      attributes[A.ERROR_TYPE] = event.error.tag
    }
    duration.record(event.durationMs / 1000, attributes)
  }
}
