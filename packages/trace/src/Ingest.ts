/**
 * The durable ingest endpoint: other processes (and other languages) send hook events in batches to
 * `POST /v1/ingest`; the answer is 200 only once every event is durable in the host's recorder, 503 with
 * `Retry-After` when the database is down (nothing is dropped: the sender retries), 400 naming the first bad
 * event's index and field (the batch is then refused whole: nothing of it is written), 403 for a run of
 * another tenant than the key's, 409 for a sequence gap that does not fill within `holdFor` (a batch arriving
 * before its predecessor is held until then) or for an event resent with other content, 413 above the size
 * limit. Idempotent by `(run, sequence)`: events already durable are skipped, so a retried batch adds nothing.
 */
import type { Recorder, RunLedger } from "@sextant/runtime"
import { type Duration, Effect, type Layer, ManagedRuntime } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as internal from "./internal/ingest/http.js"
import * as Wire from "./internal/ingest/wire.js"

/** Who sent a batch: a key may only write runs of its own tenant. */
export interface Principal {
  /** The tenant the key writes for. */
  readonly tenantId: string
}

/** Options of the endpoint. */
export interface IngestOptions {
  /** The principal a request's headers authenticate, or undefined (401). */
  readonly authorize: (headers: Headers) => Principal | undefined | Promise<Principal | undefined>
  /** Largest accepted body in bytes (default 1 MiB); larger is 413. */
  readonly maxBodyBytes?: number | undefined
  /** Most events per batch (default 1000); more is 413. */
  readonly maxEvents?: number | undefined
  /** The `Retry-After` of a 503, in seconds (default 1). */
  readonly retryAfterSeconds?: number | undefined
  /**
   * How long a batch that arrives before its predecessor (its run's first event is past the recorded end) is
   * held — its request kept waiting — for the missing events to be committed by another request; then 409.
   * Default 5 seconds; 0 refuses such a batch at once.
   */
  readonly holdFor?: Duration.DurationInput | undefined
  /** Most events held at once across waiting batches (default 10,000); a batch beyond it is a 409 at once. */
  readonly maxHeldEvents?: number | undefined
  /**
   * How many recently committed events are remembered (by digest) to tell a resent event from a changed one
   * at the same `(run, sequence)`, a 409 (default 100,000; older runs are forgotten first and their resends
   * are only de-duplicated).
   */
  readonly rememberEvents?: number | undefined
  /** A path prefix the host mounts the endpoint under (`/sextant` serves `/sextant/v1/ingest`). */
  readonly prefix?: string | undefined
}

/** The endpoint as handlers any server can mount. */
export interface IngestHandler {
  /** A Web `Request → Response` handler (Hono, Bun, Deno, Workers, Next). */
  readonly fetch: (request: Request) => Promise<Response>
  /** A Node `(req, res)` handler (`node:http`, Express, Fastify's raw server). */
  readonly node: (req: IncomingMessage, res: ServerResponse) => void
  /** The endpoint's OpenAPI 3.1 document. */
  readonly openApi: unknown
}

/** The path the endpoint answers on. */
export const path: string = Wire.path

/** The wire version this package speaks (`version` of every batch). */
export const version: number = Wire.version

/** The endpoint's OpenAPI 3.1 document. */
export const openApi: () => unknown = Wire.openApi

/** The body of a 200: events made durable now and events already durable (a retried batch). */
export type Accepted = Wire.Accepted

/** The body of every refusal: an `error` code, a message saying what to do, and the event's index and field. */
export type Refusal = Wire.Refusal

/**
 * Makes the endpoint over the `Recorder` and `RunLedger` in context (the SQL recorder provides both; build it
 * with `haltRuns: false`, so that a failed write leaves the run open for the sender's retry).
 */
export const makeHandler: (options: IngestOptions) => Effect.Effect<IngestHandler, never, Recorder | RunLedger> =
  internal.makeHandler

/** The endpoint for hosts without Effect, over a recorder layer; `close()` releases the layer. */
export const fromLayer = async <E>(
  layer: Layer.Layer<Recorder | RunLedger, E>,
  options: IngestOptions
): Promise<IngestHandler & { readonly close: () => Promise<void> }> => {
  const runtime = ManagedRuntime.make(layer)
  const handler = await runtime.runPromise(makeHandler(options))
  return { ...handler, close: () => runtime.dispose() }
}

const digest = (s: string) => createHash("sha256").update(s).digest()

/** An `authorize` over static API keys (`Authorization: Bearer <key>`), each mapped to its tenant. */
export const apiKeys = (keys: { readonly [apiKey: string]: string }): IngestOptions["authorize"] => {
  const table = Object.entries(keys).map(([key, tenantId]) => ({ hash: digest(key), tenantId }))
  return (headers) => {
    const match = /^Bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")
    if (match === null) return undefined
    const hash = digest(match[1]!.trim())
    const found = table.find((entry) => timingSafeEqual(entry.hash, hash))
    return found === undefined ? undefined : { tenantId: found.tenantId }
  }
}
