/**
 * The handlers of the read routes: each passes the principal's tenant scope to the store, maps the store's
 * errors to HTTP errors and writes the (already JSON-shaped) records as JSON without re-encoding them.
 */
import { HttpApiBuilder, HttpServerResponse, OpenApi } from "@effect/platform"
import type {
  InvalidQuery,
  RunNotFound,
  RunQueryError,
  RunStoreService,
  StoreError,
  ThreadNotFound
} from "@sextant/store"
import { Effect, Layer, Stream } from "effect"
import { CurrentPrincipal, ReadApi } from "../Api.js"
import { ContentEncrypted, InternalError, InvalidParameter } from "../Errors.js"
import { contentEncrypted } from "./errors.js"
import { fixDocument, type Security } from "./openapi.js"
import { type SseOptions, sseResponse } from "./sse.js"

/** Options of the handlers: the SSE timings and the security scheme the document names. */
export interface HandlerSettings extends SseOptions {
  readonly security: Security | undefined
}

/**
 * Maps a query failure: bad query → 400 naming the parameter; encrypted content without its key → logged 500
 * `ContentEncrypted`; any other database failure → logged 500.
 */
export const fromQueryError = (
  e: InvalidQuery | StoreError
): Effect.Effect<never, InvalidParameter | InternalError | ContentEncrypted> => {
  if (e._tag === "InvalidQuery") {
    return Effect.fail(new InvalidParameter({ parameter: e.field.split(/[.[]/)[0]!, message: e.message }))
  }
  const sealed = contentEncrypted(e)
  return Effect.zipRight(
    Effect.logError("sextant read router: store failure", e.cause ?? e.message),
    Effect.fail(sealed ?? new InternalError({ message: "The run store failed; the cause is in the server log." }))
  )
}

/** Maps a per-run query failure (an unknown or out-of-scope run stays a 404). */
export const fromStoreError = (
  e: RunQueryError
): Effect.Effect<never, InvalidParameter | InternalError | ContentEncrypted | RunNotFound> =>
  e._tag === "RunNotFound" ? Effect.fail(e) : fromQueryError(e)

const unserialisable = (e: unknown) =>
  Effect.zipRight(
    Effect.logError("sextant read router: response could not be serialised", e),
    Effect.fail(new InternalError({ message: "The response could not be serialised; the cause is in the server log." }))
  )

/**
 * A JSON response of a value that is already plain JSON (the store's records): stringified once, never
 * re-encoded through the endpoint's success Schema (a handler returning an `HttpServerResponse` skips it, and
 * the OpenAPI document still shows that Schema). A value JSON cannot hold becomes a logged 500.
 */
const json = (value: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse, InternalError> => {
  try {
    return Effect.succeed(HttpServerResponse.unsafeJson(value))
  } catch (e) {
    return unserialisable(e)
  }
}

type Scope = { readonly tenantId: string } | undefined

const scopeOf = Effect.map(
  CurrentPrincipal,
  (p): Scope => (p.tenantId === undefined ? undefined : { tenantId: p.tenantId })
)

/** Runs a per-run query in the principal's scope and writes its JSON. */
export const withScope = <A>(f: (scope: Scope) => Effect.Effect<A, RunQueryError>) =>
  Effect.flatMap(scopeOf, (scope) => Effect.flatMap(Effect.catchAll(f(scope), fromStoreError), json))

/** Runs a thread query in the principal's scope and writes its JSON (an unknown or foreign thread is a 404). */
const withThreadScope = <A>(f: (scope: Scope) => Effect.Effect<A, ThreadNotFound | InvalidQuery | StoreError>) =>
  Effect.flatMap(scopeOf, (scope) =>
    Effect.flatMap(
      Effect.catchAll(
        f(scope),
        (e): Effect.Effect<never, ThreadNotFound | InvalidParameter | InternalError | ContentEncrypted> =>
          e._tag === "ThreadNotFound" ? Effect.fail(e) : fromQueryError(e)
      ),
      json
    ))

/** Runs a query over many runs in the principal's scope and writes its JSON. */
export const withScopeAll = <A>(f: (scope: Scope) => Effect.Effect<A, InvalidQuery | StoreError>) =>
  Effect.flatMap(scopeOf, (scope) => Effect.flatMap(Effect.catchAll(f(scope), fromQueryError), json))

const metaGroup = (settings: HandlerSettings) => {
  let document: OpenApi.OpenAPISpec | undefined
  return HttpApiBuilder.group(ReadApi, "meta", (h) =>
    h
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("openapi", () => json(document ??= fixDocument(OpenApi.fromApi(ReadApi), settings.security))))
}

const runsGroup = (store: RunStoreService, settings: HandlerSettings) =>
  HttpApiBuilder.group(ReadApi, "runs", (h) =>
    h
      .handle("listRuns", ({ urlParams }) => withScopeAll((scope) => store.listRuns({ ...urlParams, scope })))
      .handle("getRun", ({ path }) => withScope((scope) => store.getRun(path.runId, { scope })))
      .handle(
        "getEvents",
        ({ path, urlParams }) => withScope((scope) => store.getEvents(path.runId, { ...urlParams, scope }))
      )
      .handleRaw("streamEvents", ({ headers, path, urlParams }) =>
        Effect.flatMap(scopeOf, (scope) =>
          sseResponse(store, settings, {
            runId: path.runId,
            after: headers["last-event-id"] ?? urlParams.after,
            follow: urlParams.follow === true,
            scope
          }).pipe(Effect.catchAll(fromStoreError))))
      .handle(
        "getTraces",
        ({ path, urlParams }) =>
          withScope((scope) => store.getTraces(path.runId, { ...urlParams, scope }))
      )
      .handle(
        "getToolCalls",
        ({ path, urlParams }) =>
          withScope((scope) => store.getToolCalls(path.runId, { ...urlParams, scope }))
      )
      .handle(
        "getLlmCalls",
        ({ path, urlParams }) => withScope((scope) => store.getLlmCalls(path.runId, { ...urlParams, scope }))
      )
      .handle("getPauses", ({ path }) => withScope((scope) => store.getPauses(path.runId, { scope })))
      .handle(
        "getStreams",
        ({ path, urlParams }) => withScope((scope) => store.getStreams(path.runId, { ...urlParams, scope }))
      )
      .handle(
        "getStreamChunks",
        ({ path, urlParams }) =>
          withScope((scope) => store.getStreamChunks(path.runId, path.streamId, { ...urlParams, scope }))
      )
      .handle("getRunTree", ({ path }) => withScope((scope) => store.getRunTree(path.runId, { scope })))
      .handle(
        "getRunSignals",
        ({ path, urlParams }) => withScope((scope) => store.getRunSignals(path.runId, { ...urlParams, scope }))
      )
      .handle("listSignals", ({ urlParams }) => withScopeAll((scope) => store.listSignals({ ...urlParams, scope })))
      .handle("listThreads", ({ urlParams }) => withScopeAll((scope) => store.listThreads({ ...urlParams, scope })))
      .handle("getThread", ({ path }) => withThreadScope((scope) => store.getThread(path.threadId, { scope })))
      .handle("usage", ({ urlParams }) => withScopeAll((scope) => store.usage({ ...urlParams, scope })))
      .handleRaw("exportRuns", ({ urlParams }) =>
        Effect.gen(function*() {
          const filter = { ...urlParams, scope: yield* scopeOf }
          // Validate the filter (and the scope) before the 200 goes out; the body then streams in constant memory.
          const first = yield* Effect.catchAll(
            store.listRuns({ ...filter, limit: 1, includeTotal: false }),
            fromQueryError
          )
          // And that the first run's content opens: encrypted content without its key is a typed error, not a
          // 200 whose body stops at the first line (a key missing only for later runs still ends it, logged).
          const run = first.items[0]
          if (run !== undefined) {
            yield* store.getRun(run.id, { scope: filter.scope }).pipe(
              Effect.catchTag("RunNotFound", () => Effect.void),
              Effect.catchAll(fromQueryError)
            )
          }
          const body = store.exportRuns(filter).pipe(
            Stream.tapError((e) => Effect.logError("sextant read router: export failed mid-stream", e)),
            Stream.encodeText
          )
          return HttpServerResponse.stream(body, {
            contentType: "application/x-ndjson",
            headers: { "cache-control": "no-store" }
          })
        })))

/** The handlers of both groups over a store. */
export const handlersLayer = (store: RunStoreService, settings: HandlerSettings) =>
  Layer.mergeAll(metaGroup(settings), runsGroup(store, settings))
