/**
 * The router: its runtime and app (built lazily, once, on the first request), and the Web and Node handlers
 * that mount it under any prefix. The public `ReadRouter` is opaque; only this module sees its parts.
 */
import {
  HttpApiBuilder,
  HttpApp,
  HttpMiddleware,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Effect, Layer, ManagedRuntime, Runtime } from "effect"
import { constTrue } from "effect/Function"
import { ReadApi } from "../Api.js"
import type { HandlerOptions, ReadRouter, ReadRouterOptions, TypeId as RouterTypeId } from "../ReadRouter.js"
import * as auth from "./auth.js"
import * as docs from "./docs.js"
import * as errors from "./errors.js"
import { handlersLayer } from "./handlers.js"
import { defaultSecurity, type Security } from "./openapi.js"
import { checkRoutes, extraRoutes } from "./routes.js"
import { viewsGroup } from "./views.js"

/** The brand of a read router (typed as the public module's, as Effect's own modules do). */
export const TypeId: RouterTypeId = Symbol.for("@sextant/http-router/ReadRouter") as RouterTypeId

/** The security scheme the document names: the configured one, the default bearer, or none without `authorize`. */
const securityOf = (options: ReadRouterOptions): Security | undefined =>
  options.authorize === undefined ? undefined : {
    name: options.security?.name ?? defaultSecurity.name,
    scheme: {
      ...(options.security?.scheme ?? defaultSecurity.scheme),
      ...(options.security?.description === undefined ? {} : { description: options.security.description })
    }
  }

const runtimeOf = (options: ReadRouterOptions) => {
  const store = "service" in options.store ? options.store.service : options.store
  const security = securityOf(options)
  const api = HttpApiBuilder.api(ReadApi).pipe(
    Layer.provide(Layer.merge(
      handlersLayer(store, {
        keepAliveMs: options.keepAliveMs ?? 15_000,
        pollIntervalMs: options.pollIntervalMs ?? 250,
        security
      }),
      viewsGroup(store)
    )),
    Layer.provide(auth.layer(options.authorize))
  )
  return ManagedRuntime.make(
    Layer.mergeAll(
      api,
      docs.layer(security).pipe(Layer.provide(auth.layer(options.authorize))),
      extraRoutes(options.routes ?? []),
      errors.mapping,
      HttpApiBuilder.Router.Live,
      HttpApiBuilder.Middleware.layer,
      // No tracer is ever provided to this runtime (it is the router's own), so every span a request opens (the
      // server span with its URL and headers, one per SQL statement) would be built and dropped: skip them.
      Layer.setTracerEnabled(false),
      Layer.locallyScoped(HttpMiddleware.currentTracerDisabledWhen, constTrue)
    ) as Layer.Layer<Layer.Layer.Success<typeof api> | HttpApiBuilder.Router | HttpApiBuilder.Middleware>
  )
}

/** Registers what to do when the client goes away (a Web request's abort signal, a Node response's `close`). */
export type OnAbort = (listener: () => void) => void

/**
 * Serves one request: the app's `HttpServerResponse`, before any conversion to a host's response type. The
 * request's fiber is interrupted when `onAbort` fires (by default, the request's abort signal).
 */
export type Responder = (request: Request, onAbort?: OnAbort) => Promise<HttpServerResponse.HttpServerResponse>

const onSignal = (request: Request): OnAbort => (listener) =>
  request.signal?.addEventListener("abort", listener, { once: true })

const resolveKey = Symbol.for("@sextant/http-router/resolve")

/**
 * What `HttpApp.toWebHandlerRuntime` does, stopping at the `HttpServerResponse`: the Web handler converts it
 * to a `Response`, while the Node handler writes a body held in memory straight to the socket (no `Response`
 * built and read back as a stream for every JSON answer).
 */
const responder = (runtime: Runtime.Runtime<never>, app: HttpApp.Default<never, never>): Responder => {
  const run = Runtime.runFork(runtime)
  const handled = HttpApp.toHandled(app, (request, response) =>
    Effect.sync(() => {
      // A streamed body (SSE, NDJSON) keeps the request's scope open until the host has consumed it.
      ;(request as unknown as Record<symbol, (r: HttpServerResponse.HttpServerResponse) => void>)[resolveKey](
        HttpApp.unsafeEjectStreamScope(response)
      )
    }))
  return (request, onAbort = onSignal(request)) =>
    new Promise((resolve) => {
      const serverRequest = HttpServerRequest.fromWeb(request)
      ;(serverRequest as unknown as Record<symbol, unknown>)[resolveKey] = resolve
      const fiber = run(Effect.provideService(handled, HttpServerRequest.HttpServerRequest, serverRequest))
      onAbort(() => fiber.unsafeInterruptAsFork(HttpServerError.clientAbortFiberId))
    })
}

class RouterImpl implements ReadRouter {
  readonly [TypeId]: RouterTypeId = TypeId
  private readonly runtime: ReturnType<typeof runtimeOf>
  private serving: Promise<{ readonly respond: Responder; readonly runtime: Runtime.Runtime<never> }> | undefined

  constructor(options: ReadRouterOptions) {
    this.runtime = runtimeOf(options)
  }

  /** The responder and its runtime, built once on the first request. */
  serve() {
    return this.serving ??= Promise.all([
      this.runtime.runtime() as Promise<Runtime.Runtime<never>>,
      this.runtime.runPromise(Effect.map(HttpApiBuilder.httpApp, errors.guard) as never) as Promise<
        HttpApp.Default<never, never>
      >
    ]).then(([runtime, app]) => ({ respond: responder(runtime, app), runtime }))
  }

  readonly dispose = () => this.runtime.dispose()
}

/** Builds the read router over a store. */
export const make = (options: ReadRouterOptions): ReadRouter => {
  checkRoutes(options.routes ?? [])
  return new RouterImpl(options)
}

const impl = (router: ReadRouter): RouterImpl => router as RouterImpl

/** The router's responder and runtime (for the host adapters). */
export const serve = (router: ReadRouter) => impl(router).serve()

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

/** The `Response` of an `HttpServerResponse` (no body for HEAD). */
export const toResponse = (
  response: HttpServerResponse.HttpServerResponse,
  method: string,
  runtime: Runtime.Runtime<never>
): Response => HttpServerResponse.toWeb(response, { withoutBody: method === "HEAD", runtime })

/** A Fetch handler (`Request → Promise<Response>`). */
export const toWebHandler =
  (router: ReadRouter, options: HandlerOptions = {}): (request: Request) => Promise<Response> => (request) =>
    impl(router).serve().then(({ respond, runtime }) => {
      const url = new URL(request.url)
      const path = stripPrefix(options.prefix, url.pathname)
      let routed = request
      if (path !== url.pathname) {
        url.pathname = path
        routed = new Request(url, request)
      }
      return respond(routed).then((response) => toResponse(response, routed.method, runtime))
    })
