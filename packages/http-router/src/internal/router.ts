/**
 * Assembles the read API over a store: authorization, handlers, error mapping, and the Web and Node
 * handlers that mount it under any prefix.
 */
import { HttpApiBuilder, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Effect, Layer, ManagedRuntime } from "effect"
import type * as Http from "node:http"
import { Authorization, type Principal, ReadApi } from "../Api.js"
import { Forbidden, InternalError, InvalidParameter, RouteNotFound, Unauthorized } from "../Errors.js"
import type { AuthRequest, ReadRouterOptions } from "../ReadRouter.js"
import { AuthRejection } from "../ReadRouter.js"
import { handlersLayer } from "./handlers.js"

const internalError = new InternalError({ message: "The server failed; the cause is in the server log." })

const authorizationLayer = (authorize: ReadRouterOptions["authorize"]) =>
  Layer.succeed(
    Authorization,
    Effect.gen(function*() {
      if (authorize === undefined) return {}
      const request = yield* HttpServerRequest.HttpServerRequest
      const view: AuthRequest = { method: request.method, url: request.url, headers: request.headers }
      const outcome = yield* Effect.tryPromise({
        try: async () => {
          try {
            return await authorize(view)
          } catch (e) {
            if (e instanceof AuthRejection) return e
            throw e
          }
        },
        catch: (cause) => cause
      }).pipe(Effect.orDie)
      if (outcome instanceof AuthRejection) {
        return yield* outcome.status === 403
          ? new Forbidden({ message: outcome.message })
          : new Unauthorized({ message: outcome.message })
      }
      if (outcome === null || typeof outcome !== "object") {
        return yield* new Unauthorized({ message: "Not authorized." })
      }
      const principal = outcome as Principal
      if (principal.tenantId !== undefined && (typeof principal.tenantId !== "string" || principal.tenantId === "")) {
        return yield* Effect.die(new Error("authorize returned a principal with an empty or non-string tenantId"))
      }
      return principal
    })
  )

const knownErrors = new Set([
  "InvalidParameter",
  "Unauthorized",
  "Forbidden",
  "RunNotFound",
  "RouteNotFound",
  "InternalError"
])

/** Turns every failure into one of the API's JSON errors: decode → 400 naming the parameter, no route → 404, rest → logged 500. */
const errorMapping = HttpApiBuilder.middleware(ReadApi, (app) =>
  app.pipe(
    Effect.catchAllCause((cause) =>
      Effect.gen(function*() {
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          const e = failure.value as {
            readonly _tag?: string
            readonly issues?: ReadonlyArray<{ path: ReadonlyArray<unknown>; message: string }>
          }
          if (e._tag === "HttpApiDecodeError") {
            const issue = e.issues?.[0]
            const parameter = issue === undefined || issue.path.length === 0 ? "request" : String(issue.path[0])
            return yield* new InvalidParameter({
              parameter,
              message: `${parameter}: ${issue?.message ?? "is invalid"}`
            })
          }
          if (e._tag === "RouteNotFound") {
            const request = yield* HttpServerRequest.HttpServerRequest
            return yield* new RouteNotFound({ message: `No route for ${request.method} ${request.url.split("?")[0]}` })
          }
          if (e._tag !== undefined && knownErrors.has(e._tag)) return yield* Effect.failCause(cause)
        }
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
        yield* Effect.logError("sextant read router: request failed", cause)
        return yield* internalError
      })
    )
  ) as never)

const emptyServerError = (response: HttpServerResponse.HttpServerResponse) =>
  response.status >= 500 && response.body._tag === "Empty"

/** The last guard: a 500 is always a JSON body, never empty. */
const guard = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<never, R> =>
  app.pipe(
    Effect.flatMap((response) =>
      emptyServerError(response)
        ? Effect.zipRight(
          Effect.logError(`sextant read router: an empty ${response.status} was replaced by a JSON error body`),
          HttpServerResponse.json(internalError, { status: response.status })
        )
        : Effect.succeed(response)
    ),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause) as never
        : Effect.zipRight(
          Effect.logError("sextant read router: unhandled failure", cause),
          HttpServerResponse.json(internalError, { status: 500 })
        )
    ),
    Effect.orDie
  )

/** The router's runtime and app (built lazily, once). */
export const makeRouter = (options: ReadRouterOptions) => {
  const store = "service" in options.store ? options.store.service : options.store
  const api = HttpApiBuilder.api(ReadApi).pipe(
    Layer.provide(handlersLayer(store, {
      keepAliveMs: options.keepAliveMs ?? 15_000,
      pollIntervalMs: options.pollIntervalMs ?? 250
    })),
    Layer.provide(authorizationLayer(options.authorize))
  )
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      api,
      errorMapping,
      HttpApiBuilder.Router.Live,
      HttpApiBuilder.Middleware.layer,
      NodeHttpServer.layerContext
    ) as Layer.Layer<
      | Layer.Layer.Success<typeof api>
      | HttpApiBuilder.Router
      | HttpApiBuilder.Middleware
      | Layer.Layer.Success<typeof NodeHttpServer.layerContext>
    >
  )
  let app: Promise<HttpApp.Default<never, never>> | undefined
  const getApp = () => (app ??= runtime.runPromise(Effect.map(HttpApiBuilder.httpApp, guard) as never))
  let web: Promise<(request: Request) => Promise<Response>> | undefined
  let node: Promise<(req: Http.IncomingMessage, res: Http.ServerResponse) => void> | undefined
  return {
    webHandler:
      () => (web ??= Promise.all([runtime.runtime(), getApp()]).then(([rt, a]) => HttpApp.toWebHandlerRuntime(rt)(a))),
    nodeHandler: () => (node ??= getApp().then((a) => runtime.runPromise(NodeHttpServer.makeHandler(a)))),
    dispose: () => runtime.dispose()
  }
}

/** Strips `prefix` from a path (when it starts with it). */
export const stripPrefix = (prefix: string | undefined, url: string): string => {
  if (prefix === undefined || prefix === "" || prefix === "/") return url
  const p = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix
  if (url === p) return "/"
  if (url.startsWith(p) && (url[p.length] === "/" || url[p.length] === "?")) {
    const rest = url.slice(p.length)
    return rest.startsWith("?") ? `/${rest}` : rest
  }
  return url
}
