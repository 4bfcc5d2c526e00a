/**
 * POSTs selected events as JSON to a URL: signed, with an idempotency key, retried with backoff on transient
 * failures. The body is `WebhookPayload` (`schemaVersion` 1): one event, or a batch of one run's events.
 */
import type { HttpClient } from "@effect/platform"
import { HookEvent, Lifecycle, Notifier, type RetryPolicy, StreamEvent } from "@sextant/runtime"
import { Clock, Effect, Schema } from "effect"
import { Alert, isAlert } from "./Alert.js"
import { DetectorSignal, isDetectorSignal } from "./DetectorSignal.js"
import { checkCommon, checkNumber, checkUrl, invalid } from "./internal/config.js"
import * as Http from "./internal/http.js"
import { endpointOf, scrubber } from "./internal/redact.js"
import { type CommonOptions, type EventFilter, isOwnEvent, type NotifierEvent } from "./NotifierEvent.js"
import { EVENT_HEADER, IDEMPOTENCY_HEADER, sign, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "./WebhookSignature.js"

/**
 * The retry defaults of the webhook and Slack notifiers, in the runtime's `RetryPolicy` vocabulary: 5 attempts
 * in all, 500 ms doubling up to 30 s with ±20 % jitter, `Retry-After` honoured up to 60 s (a longer one gives
 * up), 10 s per attempt (response body included), no overall budget.
 */
export const retryDefaults: Required<RetryPolicy.RetryPolicy> = Http.retryDefaults

/** The payload format version this package sends. */
export const SCHEMA_VERSION = 1

/** One event as it is sent: its type string (`tool.completed`, `alert`, `detector.signal`, …) and the event itself. */
export const WebhookItem = Schema.Struct({
  type: Schema.String,
  event: Schema.Union(HookEvent.HookEvent, Alert, DetectorSignal)
})
/** One event as it is sent. */
export type WebhookItem = typeof WebhookItem.Type

/** The JSON body of a webhook POST, decodable by a receiver with `Schema.decodeUnknown(WebhookPayload)`. */
export const WebhookPayload = Schema.Union(
  Schema.Struct({
    schemaVersion: Schema.Literal(SCHEMA_VERSION),
    type: Schema.String,
    event: WebhookItem.fields.event
  }),
  Schema.Struct({
    schemaVersion: Schema.Literal(SCHEMA_VERSION),
    type: Schema.Literal("batch"),
    events: Schema.Array(WebhookItem)
  })
)
/** The JSON body of a webhook POST. */
export type WebhookPayload = typeof WebhookPayload.Type

/** Options of `WebhookNotifier.make`. */
export interface WebhookOptions extends CommonOptions {
  readonly url: string
  /** Signs each POST (HMAC-SHA256 over `timestamp + "." + body`). */
  readonly secret?: string | undefined
  /** Which events to send (default: every recorded event, alert and detector signal; stream deltas never). */
  readonly filter?: EventFilter | undefined
  /** Extra headers (authorization, routing); credential values never appear in errors or logs. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Retry settings (the runtime's `RetryPolicy`); see `retryDefaults`. */
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  /** The HTTP client to send with (default: one over the global `fetch`). */
  readonly client?: HttpClient.HttpClient | undefined
  /**
   * Batch a run's events: a POST holds up to `maxEvents`, and is sent when full or when the run's segment ends
   * (completed, failed, cancelled, paused). Alerts and detector signals are never held back.
   */
  readonly batch?: { readonly maxEvents: number } | undefined
}

/** Delivery counters of a webhook or Slack notifier. */
export interface DeliveryStats {
  readonly sent: number
  readonly retries: number
  readonly rejected: number
  readonly gaveUp: number
}

/** A notifier with its HTTP delivery counters. */
export interface HttpNotifier extends Notifier.Notifier {
  /** Payloads sent, retries, rejections and give-ups so far. */
  readonly deliveries: Effect.Effect<DeliveryStats>
}

/** The `type` string of an event: its recorded `event_type`, `alert`, `detector.signal`, or `stream.<delta>`. */
export const typeOf = (event: NotifierEvent): string => {
  if (isAlert(event)) return "alert"
  if (isDetectorSignal(event)) return "detector.signal"
  if (event._tag === "TextDelta") return "stream.text_delta"
  if (event._tag === "ToolArgumentsDelta") return "stream.tool_arguments_delta"
  if (event._tag === "StreamStarted") return "stream.started"
  if (event._tag === "StreamChunk") return "stream.chunk"
  return HookEvent.eventType(event)
}

/** The default filter: recorded events, alerts and detector signals, not stream deltas. */
export const recordedAndAlerts: EventFilter = (event) => isOwnEvent(event) || !StreamEvent.isDelta(event)

const idempotencyKey = (event: NotifierEvent): string => {
  if (isAlert(event)) return `${event.runId}:alert:${event.rule}:${event.sequenceIndex ?? event.timestamp}`
  if (isDetectorSignal(event)) return `${event.runId}:signal:${event.signalId}`
  if (StreamEvent.isDelta(event)) {
    return `${event.runId}:delta:${event.correlationId}:${"sequence" in event ? event.sequence : event.timestamp}`
  }
  return `${event.runId}:${event.sequenceIndex}`
}

const COMPONENT = "WebhookNotifier"

const checkOptions = (options: WebhookOptions): URL => {
  checkCommon(COMPONENT, options)
  const url = checkUrl(COMPONENT, "url", options.url)
  if (options.secret !== undefined && (typeof options.secret !== "string" || options.secret === "")) {
    invalid(COMPONENT, "secret", "must be a non-empty string when given (omit it to send unsigned)")
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value !== "string") invalid(COMPONENT, `headers.${name}`, "must be a string")
  }
  if (options.batch !== undefined) {
    checkNumber(COMPONENT, "batch.maxEvents", options.batch.maxEvents, 1, { integer: true })
  }
  return url
}

/**
 * A notifier POSTing events to `url`; `deliveries` reports what it sent, retried, and gave up on. Throws a
 * `NotifierConfigError` naming the setting when `url` is not an absolute http(s) URL, `secret` is empty, a
 * retry setting or `batch.maxEvents` is out of range, or a dispatcher option is invalid.
 */
export const make = (options: WebhookOptions): HttpNotifier => {
  const target = checkOptions(options)
  const retry = Http.resolveRetry(COMPONENT, options.retry)
  const client = Http.clientOf(options.client)
  const endpoint = endpointOf(target)
  const scrub = scrubber(target, { secret: options.secret, headers: options.headers })
  const counters: Http.HttpCounters = Http.makeCounters()
  const filter = options.filter ?? recordedAndAlerts
  const maxBatch = options.batch === undefined ? 1 : options.batch.maxEvents
  const buffers = new Map<string, Array<NotifierEvent>>()

  const post = (type: string, key: string, payload: WebhookPayload) => {
    const body = JSON.stringify(payload)
    const headers = Effect.map(Clock.currentTimeMillis, (now) => {
      const h: Record<string, string> = {
        "content-type": "application/json",
        "user-agent": "sextant-notifiers",
        ...options.headers,
        [EVENT_HEADER]: type,
        [IDEMPOTENCY_HEADER]: key
      }
      if (options.secret !== undefined) {
        const ts = Math.floor(now / 1000)
        h[TIMESTAMP_HEADER] = String(ts)
        h[SIGNATURE_HEADER] = sign(options.secret, ts, body)
      }
      return h
    })
    return Http.postWithRetry({ client, url: target.href, endpoint, body, headers, retry, counters, scrub })
  }

  const sendOne = (event: NotifierEvent) =>
    post(typeOf(event), idempotencyKey(event), {
      schemaVersion: SCHEMA_VERSION,
      type: typeOf(event),
      event: event as WebhookItem["event"]
    })

  const flush = (runId: string) => {
    const events = buffers.get(runId)
    buffers.delete(runId)
    if (events === undefined || events.length === 0) return Effect.void
    if (events.length === 1) return sendOne(events[0]!)
    const first = events[0] as { sequenceIndex?: number }
    const last = events[events.length - 1] as { sequenceIndex?: number }
    return post("batch", `${runId}:${first.sequenceIndex}-${last.sequenceIndex}`, {
      schemaVersion: SCHEMA_VERSION,
      type: "batch",
      events: events.map((e) => ({ type: typeOf(e), event: e as WebhookItem["event"] }))
    })
  }

  const handle = (event: NotifierEvent): Effect.Effect<void, unknown> => {
    const selected = filter(event)
    if (maxBatch === 1 || isOwnEvent(event)) return selected ? sendOne(event) : Effect.void
    if (selected) {
      const buffer = buffers.get(event.runId) ?? []
      buffer.push(event)
      buffers.set(event.runId, buffer)
    }
    const ends = !StreamEvent.isDelta(event) && Lifecycle.isSegmentEnd(event)
    return (buffers.get(event.runId)?.length ?? 0) >= maxBatch || ends ? flush(event.runId) : Effect.void
  }

  const notifier = Notifier.make({
    name: options.name ?? "webhook",
    onEvent: handle,
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout ?? Http.worstCase(retry)
  })
  return { ...notifier, deliveries: Effect.sync(() => ({ ...counters })) }
}
