/**
 * Tracing from another process: `Remote.layer({ url, apiKey })` is a `Recorder` that sends each write to an
 * ingest endpoint (`Ingest`) and waits until the endpoint says it is durable, so `Trace.run` over it keeps
 * the fail-closed guarantee across the wire. Unavailable answers are retried (honouring `Retry-After`) within
 * the retry policy's budget; after it the write fails with a `RecorderError` (`transient`) and the run stops.
 */
import type { HookEvent, Recorder, RetryPolicy } from "@sextant/runtime"
import { Context, type Duration, type Effect, type Layer } from "effect"
import type { IngestError } from "./Errors.js"
import * as exporter from "./internal/exporter.js"
import type * as Wire from "./internal/ingest/wire.js"
import * as internal from "./internal/remote.js"

/** Where and how to send. */
export interface RemoteOptions {
  /** The endpoint's base URL (with the host's mount prefix, without `/v1/ingest`). */
  readonly url: string
  /** The API key, sent as `Authorization: Bearer <key>`. */
  readonly apiKey: string
  /** Retries while the endpoint is unavailable (defaults: 20 attempts within 30 seconds, waits from 100 ms). */
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: typeof globalThis.fetch | undefined
}

/** A `Recorder` over an ingest endpoint (each write awaited until durable there). */
export const layer: (options: RemoteOptions) => Layer.Layer<Recorder> = internal.layer

/** Sends one batch of events; succeeds with the endpoint's answer once they are durable. */
export const send: (
  options: RemoteOptions
) => (events: ReadonlyArray<HookEvent.HookEvent>) => Effect.Effect<Wire.Accepted, IngestError> = internal.send

/**
 * Options of the buffered exporter. When the buffer is full a write blocks up to `blockFor`, then its event
 * is dropped and counted (`full`), and the run's later events too (`gap`: the endpoint would refuse them).
 */
export interface BufferedOptions extends RemoteOptions {
  /** Events the buffer holds at most (default 10,000). */
  readonly capacity?: number | undefined
  /** Events per batch at most (default 500; keep it within the endpoint's `maxEvents`, 1,000 by default). */
  readonly batchSize?: number | undefined
  /** How long a batch below `batchSize` waits for more events (default 1 second). */
  readonly batchInterval?: Duration.DurationInput | undefined
  /** How long a write waits for room in a full buffer before its event is dropped (default 1 second). */
  readonly blockFor?: Duration.DurationInput | undefined
  /** How long the release (shutdown) flushes before the rest is dropped as `shutdown` (default 10 seconds). */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Called with each drop (besides the counters and a warning log); an error it throws is ignored. */
  readonly onDrop?: ((drop: DropReport) => void) | undefined
}

/** Dropped events by reason. */
export interface DropCounts {
  /** The buffer stayed full for `blockFor`. */
  readonly full: number
  /** A later event of a run that already lost one (the endpoint would refuse the sequence gap). */
  readonly gap: number
  /** The endpoint refused the batch (400, 401, 403, 409, 413): resending would not help. */
  readonly refused: number
  /** The endpoint stayed unavailable (503, 5xx, connection errors) for the whole retry budget. */
  readonly unavailable: number
  /** Written after shutdown began, or still unsent when `shutdownTimeout` ran out. */
  readonly shutdown: number
}

/** One drop, as `onDrop` reports it. */
export interface DropReport {
  /** Why the events were dropped. */
  readonly reason: keyof DropCounts
  /** How many events. */
  readonly events: number
  /** The runs they belonged to. */
  readonly runIds: ReadonlyArray<string>
  /** The endpoint's error, for `refused` and `unavailable`. */
  readonly error?: string | undefined
}

/** The exporter's counters: `offered` = `sent` + `droppedTotal` + `pending` at every flush. */
export interface ExporterStats {
  /** Events written to the exporter. */
  readonly offered: number
  /** Events the endpoint acknowledged as durable (duplicates included). */
  readonly sent: number
  /** Of `sent`, events the endpoint already had (a resend after a lost answer). */
  readonly duplicates: number
  /** Dropped events by reason. */
  readonly dropped: DropCounts
  /** All dropped events. */
  readonly droppedTotal: number
  /** Events buffered or in flight. */
  readonly pending: number
  /** Batches sent (acknowledged or failed). */
  readonly batches: number
  /** Batches that failed for good (their events are in `dropped`). */
  readonly failedBatches: number
  /** HTTP requests made (retries included). */
  readonly attempts: number
  /** The last error that dropped events. */
  readonly lastError?: string | undefined
}

/** The buffered exporter's controls, provided by `buffered` next to its `Recorder`. */
export class Exporter extends Context.Tag("@sextant/trace/Remote/Exporter")<Exporter, {
  /** Sends everything written so far (or drops it, counted); succeeds with the counters after. */
  readonly flush: Effect.Effect<ExporterStats>
  /** The counters now. */
  readonly stats: Effect.Effect<ExporterStats>
}>() {}

/**
 * A `Recorder` that buffers writes and sends them in batches (by size and time) from a background fiber,
 * with the retries of `layer`; the agent never waits for the endpoint, only for room in the buffer (up to
 * `blockFor`). This trades the per-write durability of `layer` for throughput: a write succeeds once
 * buffered, and what could not be sent is dropped, counted and reported, never silently. Releasing the
 * layer flushes (up to `shutdownTimeout`).
 */
export const buffered = (options: BufferedOptions): Layer.Layer<Recorder | Exporter> =>
  exporter.layer(options, Exporter)
