/**
 * The SSE tail of a run: one frame per recorded event (`id` = sequence index, `data` = the event as JSON),
 * keepalive comments while idle, and the end of the response after the terminal event unless `follow`.
 */
import { HttpServerResponse } from "@effect/platform"
import type { RunStoreService } from "@sextant/store"
import { Effect, Stream } from "effect"
import { contentEncrypted } from "./errors.js"

/** Timings of the SSE tail. */
export interface SseOptions {
  /** Interval of `: keepalive` comments (default 15 000 ms). */
  readonly keepAliveMs: number
  /** How often an idle tail polls the store (default 250 ms). */
  readonly pollIntervalMs: number
}

/** Opens the tail (a 404 or 400 happens before any byte is sent). */
export const sseResponse = (
  store: RunStoreService,
  options: SseOptions,
  request: {
    readonly runId: string
    readonly after: number | undefined
    readonly follow: boolean
    readonly scope: { readonly tenantId: string } | undefined
  }
) =>
  Effect.gen(function*() {
    const { runId, scope } = request
    yield* store.getRun(runId, { scope })
    const frames = store.streamEvents(runId, {
      after: request.after,
      follow: request.follow,
      pollIntervalMs: options.pollIntervalMs,
      scope
    }).pipe(
      Stream.map((e) => `id: ${e.sequenceIndex}\ndata: ${JSON.stringify(e)}\n\n`),
      Stream.catchAll((e) =>
        Stream.fromEffect(
          Effect.as(
            Effect.logError("sextant read router: event tail failed", e),
            `event: error\ndata: ${
              JSON.stringify(
                (e._tag === "StoreError" ? contentEncrypted(e) : undefined) ??
                  { _tag: "InternalError", message: "The event tail failed." }
              )
            }\n\n`
          )
        )
      )
    )
    const keepAlive = Stream.tick(options.keepAliveMs).pipe(Stream.drop(1), Stream.as(": keepalive\n\n"))
    const body = Stream.make("retry: 1000\n\n").pipe(
      Stream.concat(Stream.merge(frames, keepAlive, { haltStrategy: "left" })),
      Stream.encodeText
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
    })
  })
