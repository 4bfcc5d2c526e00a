/**
 * The handlers of the read routes: each passes the principal's tenant scope to the store, maps the store's
 * errors to HTTP errors and writes the (already JSON-shaped) records with `HttpServerResponse.json`.
 */
import { HttpApiBuilder, HttpServerResponse, OpenApi } from "@effect/platform"
import type { InvalidQuery, RunNotFound, RunQueryError, RunStoreService, StoreError } from "@sextant/store"
import { Effect, Layer, Stream } from "effect"
import { CurrentPrincipal, type ExportParams, ReadApi } from "../Api.js"
import { InternalError, InvalidParameter } from "../Errors.js"
import { type SseOptions, sseResponse } from "./sse.js"

/** Maps a query failure: bad query → 400 naming the parameter; database failure → logged 500. */
export const fromQueryError = (e: InvalidQuery | StoreError): Effect.Effect<never, InvalidParameter | InternalError> =>
  e._tag === "InvalidQuery"
    ? Effect.fail(new InvalidParameter({ parameter: e.field, message: e.message }))
    : Effect.zipRight(
      Effect.logError("sextant read router: store failure", e.cause ?? e.message),
      Effect.fail(new InternalError({ message: "The run store failed; the cause is in the server log." }))
    )

/** Maps a per-run query failure (an unknown or out-of-scope run stays a 404). */
export const fromStoreError = (
  e: RunQueryError
): Effect.Effect<never, InvalidParameter | InternalError | RunNotFound> =>
  e._tag === "RunNotFound" ? Effect.fail(e) : fromQueryError(e)

/** A JSON response of a value that is already plain JSON; a value JSON cannot hold becomes a logged 500. */
const json = (value: unknown): Effect.Effect<HttpServerResponse.HttpServerResponse, InternalError> =>
  HttpServerResponse.json(value).pipe(
    Effect.catchAll((e) =>
      Effect.zipRight(
        Effect.logError("sextant read router: response could not be serialised", e),
        Effect.fail(
          new InternalError({ message: "The response could not be serialised; the cause is in the server log." })
        )
      )
    )
  )

const parseMetadata = (raw: string | undefined) => {
  if (raw === undefined) return Effect.succeed(undefined)
  try {
    const parsed: unknown = JSON.parse(raw)
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      return Effect.succeed(parsed as { readonly [key: string]: string | number | boolean | null })
    }
  } catch {
    // falls through
  }
  return Effect.fail(
    new InvalidParameter({ parameter: "metadata", message: "metadata: must be a JSON object, e.g. {\"team\":\"red\"}" })
  )
}

const list = <A>(value: A | ReadonlyArray<A> | undefined): ReadonlyArray<A> | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value as A]

/** The handlers of both groups over a store. */
export const handlersLayer = (store: RunStoreService, sse: SseOptions) => {
  const scopeOf = Effect.map(CurrentPrincipal, (p) => (p.tenantId === undefined ? undefined : { tenantId: p.tenantId }))
  type Scope = { readonly tenantId: string } | undefined
  /** Runs a per-run query in the principal's scope and writes its JSON. */
  const withScope = <A>(
    f: (scope: Scope) => Effect.Effect<A, RunQueryError>
  ): Effect.Effect<
    HttpServerResponse.HttpServerResponse,
    InvalidParameter | InternalError | RunNotFound,
    CurrentPrincipal
  > => Effect.flatMap(scopeOf, (scope) => Effect.flatMap(Effect.catchAll(f(scope), fromStoreError), json))
  /** Runs a query over many runs in the principal's scope and writes its JSON. */
  const withScopeAll = <A>(
    f: (scope: Scope) => Effect.Effect<A, InvalidQuery | StoreError>
  ): Effect.Effect<HttpServerResponse.HttpServerResponse, InvalidParameter | InternalError, CurrentPrincipal> =>
    Effect.flatMap(scopeOf, (scope) => Effect.flatMap(Effect.catchAll(f(scope), fromQueryError), json))
  const filterOf = (p: typeof ExportParams.Type) =>
    Effect.map(parseMetadata(p.metadata), (metadata) => ({
      ...p,
      status: list(p.status),
      metadata
    }))

  let openApi: OpenApi.OpenAPISpec | undefined
  const meta = HttpApiBuilder.group(ReadApi, "meta", (h) =>
    h
      .handle("health", () => Effect.succeed({ status: "ok" as const }))
      .handle("openapi", () => json(openApi ??= OpenApi.fromApi(ReadApi))))

  const runs = HttpApiBuilder.group(ReadApi, "runs", (h) =>
    h
      .handle("listRuns", ({ urlParams }) =>
        Effect.flatMap(filterOf(urlParams), (filter) =>
          withScopeAll((scope) =>
            store.listRuns({ ...filter, cursor: urlParams.cursor, limit: urlParams.limit, scope })
          )))
      .handle("getRun", ({ path }) =>
        withScope((scope) =>
          store.getRun(path.runId, { scope })
        ))
      .handle("getEvents", ({ path, urlParams }) =>
        withScope((scope) =>
          store.getEvents(path.runId, { after: urlParams.after, limit: urlParams.limit, scope })
        ))
      .handleRaw("streamEvents", ({ headers, path, urlParams }) =>
        Effect.flatMap(scopeOf, (scope) =>
          sseResponse(store, sse, {
            runId: path.runId,
            after: headers["last-event-id"] ?? urlParams.after,
            follow: urlParams.follow === true,
            scope
          }).pipe(Effect.catchAll(fromStoreError))))
      .handle("getTraces", ({ path, urlParams }) =>
        withScope((scope) =>
          Effect.map(store.getTraces(path.runId, { iteration: urlParams.iteration, scope }), wrap)
        ))
      .handle("getToolCalls", ({ path, urlParams }) =>
        withScope((scope) =>
          Effect.map(store.getToolCalls(path.runId, { iteration: urlParams.iteration, scope }), wrap)
        ))
      .handle("getLlmCalls", ({ path, urlParams }) =>
        withScope((scope) =>
          Effect.map(store.getLlmCalls(path.runId, { iteration: urlParams.iteration, scope }), wrap)
        ))
      .handle("getPauses", ({ path }) =>
        withScope((scope) =>
          Effect.map(store.getPauses(path.runId, { scope }), wrap)
        ))
      .handle("getRunTree", ({ path }) =>
        withScope((scope) =>
          store.getRunTree(path.runId, { scope })
        ))
      .handle("usage", ({ urlParams }) =>
        withScopeAll((scope) =>
          Effect.map(
            store.usage({
              groupBy: list(urlParams.groupBy)?.flatMap((g) =>
                g.split(",")
              ).map((g) => g.trim()).filter((g) =>
                g !== ""
              ) as never,
              from: urlParams.from,
              to: urlParams.to,
              tenantId: urlParams.tenantId,
              scope
            }),
            wrap
          )
        ))
      .handleRaw("exportRuns", ({ urlParams }) =>
        Effect.gen(function*() {
          const scope = yield* scopeOf
          const filter = { ...(yield* filterOf(urlParams)), scope }
          // Validate the filter (and the scope) before the 200 goes out; the body then streams in constant memory.
          yield* Effect.catchAll(store.listRuns({ ...filter, limit: 1 }), fromQueryError)
          const body = store.exportRuns(filter).pipe(
            Stream.tapError((e) => Effect.logError("sextant read router: export failed mid-stream", e)),
            Stream.encodeText
          )
          return HttpServerResponse.stream(body, {
            contentType: "application/x-ndjson",
            headers: { "cache-control": "no-store" }
          })
        })))

  return Layer.mergeAll(meta, runs)
}

const wrap = <A>(items: ReadonlyArray<A>) => ({ items })
