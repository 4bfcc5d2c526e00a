/**
 * The ingest wire format, version 1: `POST /v1/ingest` with `{ "version": 1, "events": [HookEvent, …] }`
 * (each event exactly as `HookEvent` encodes it, `run.paused`'s `state` excluded). One place for the
 * envelope's Schema and the answer bodies, so the handler, the client and the OpenAPI document agree.
 */
import { HookEvent } from "@sextant/runtime"
import { Schema } from "effect"

/** The path the endpoint answers on. */
export const path = "/v1/ingest"

/** The wire version this package speaks. */
export const version = 1

/** The envelope; events are decoded one by one afterwards so that a bad one can be named by index. */
export const Envelope = Schema.Struct({
  version: Schema.Literal(version),
  events: Schema.Array(Schema.Unknown)
})

/** One event on the wire. */
export const decodeEvent = Schema.decodeUnknownEither(HookEvent.HookEvent, { onExcessProperty: "error" })

/** Encodes one event for the wire. */
export const encodeEvent = Schema.encodeSync(HookEvent.HookEvent)

/** The body of a 200: how many events became durable now and how many were already (a retried batch). */
export const Accepted = Schema.Struct({ committed: Schema.Number, duplicates: Schema.Number })
/** The body of a 200. */
export type Accepted = typeof Accepted.Type

/** The `error` codes a refusal carries, and their HTTP statuses. */
export const statuses = {
  InvalidBatch: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  TooLarge: 413,
  Unavailable: 503,
  Internal: 500
} as const

/** A refusal's error code. */
export type ErrorCode = keyof typeof statuses

/** The body of every refusal: the code, a message saying what to do, and where the problem is. */
export interface Refusal {
  readonly error: ErrorCode
  readonly message: string
  /** The index of the offending event in `events`. */
  readonly index?: number
  /** The path of the offending field (`events.3.sequenceIndex`). */
  readonly field?: string
  /** The run concerned. */
  readonly runId?: string
}

/** The OpenAPI 3.1 description of the endpoint (the event schemas are `HookEvent`'s JSON Schema). */
export const openApi = (): unknown => ({
  openapi: "3.1.0",
  info: { title: "Sextant ingest", version: String(version) },
  paths: {
    [path]: {
      post: {
        summary: "Record a batch of hook events; answers 200 only once every event is durable",
        description: "Idempotent by (runId, sequenceIndex): events already recorded are skipped (`duplicates`), " +
          "but one resent with other content is a 409 naming it. A batch whose run's first event lies past the " +
          "recorded end (its predecessor not yet arrived) is held, the request kept open, until the missing " +
          "events are committed, then answered 200; if they do not arrive within the endpoint's hold time, or " +
          "too many events are held already, it is a 409. Every refusal commits nothing of the batch.",
        security: [{ bearer: [] }],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["version", "events"],
                properties: {
                  version: { const: version },
                  events: { type: "array", items: { $ref: "#/components/schemas/HookEvent" } }
                }
              }
            }
          }
        },
        responses: Object.fromEntries([
          ["200", {
            description: "Durable",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Accepted" } } }
          }],
          ...Object.entries(statuses).map(([code, status]) => [String(status), {
            description: code,
            content: { "application/json": { schema: { $ref: "#/components/schemas/Refusal" } } }
          }])
        ])
      }
    }
  },
  components: {
    securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
    schemas: {
      Accepted: { type: "object", required: ["committed", "duplicates"] },
      Refusal: {
        type: "object",
        required: ["error", "message"],
        properties: {
          error: { enum: Object.keys(statuses) },
          message: { type: "string" },
          index: { type: "integer" },
          field: { type: "string" },
          runId: { type: "string" }
        }
      },
      HookEvent: { description: "See docs/hook-events.md: one object per event, tagged by `_tag`." }
    }
  }
})
