/**
 * Tracing from another process: `Remote.layer({ url, apiKey })` is a `Recorder` that sends each write to an
 * ingest endpoint (`Ingest`) and waits until the endpoint says it is durable, so `Trace.run` over it keeps
 * the fail-closed guarantee across the wire. Unavailable answers are retried (honouring `Retry-After`) within
 * the retry policy's budget; after it the write fails with a `RecorderError` (`transient`) and the run stops.
 */
import type { HookEvent, Recorder, RetryPolicy } from "@sextant/runtime"
import type { Effect, Layer } from "effect"
import type { IngestError } from "./Errors.js"
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
