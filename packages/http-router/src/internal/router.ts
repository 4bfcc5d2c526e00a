/**
 * The router: its runtime and app (built lazily, once, on the first request), and the Web and Node handlers
 * that mount it under any prefix. The public `ReadRouter` is opaque; only this module sees its parts.
 */
import { HttpApiBuilder, HttpApp } from "@effect/platform"
import { Effect, Layer, ManagedRuntime } from "effect"
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
      HttpApiBuilder.Middleware.layer
    ) as Layer.Layer<Layer.Layer.Success<typeof api> | HttpApiBuilder.Router | HttpApiBuilder.Middleware>
  )
}

class RouterImpl implements ReadRouter {
  readonly [TypeId]: RouterTypeId = TypeId
  private readonly runtime: ReturnType<typeof runtimeOf>
  private app: Promise<HttpApp.Default<never, never>> | undefined
  private web: Promise<(request: Request) => Promise<Response>> | undefined

  constructor(options: ReadRouterOptions) {
    this.runtime = runtimeOf(options)
  }

  private getApp() {
    return this.app ??= this.runtime.runPromise(Effect.map(HttpApiBuilder.httpApp, errors.guard) as never)
  }

  webHandler() {
    return this.web ??= Promise.all([this.runtime.runtime(), this.getApp()]).then(([rt, app]) =>
      HttpApp.toWebHandlerRuntime(rt)(app)
    )
  }

  readonly dispose = () => this.runtime.dispose()
}

/** Builds the read router over a store. */
export const make = (options: ReadRouterOptions): ReadRouter => {
  checkRoutes(options.routes ?? [])
  return new RouterImpl(options)
}

const impl = (router: ReadRouter): RouterImpl => router as RouterImpl

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

/** A Fetch handler (`Request → Promise<Response>`). */
export const toWebHandler =
  (router: ReadRouter, options: HandlerOptions = {}): (request: Request) => Promise<Response> => (request) =>
    impl(router).webHandler().then((handle) => {
      const url = new URL(request.url)
      const path = stripPrefix(options.prefix, url.pathname)
      if (path === url.pathname) return handle(request)
      url.pathname = path
      return handle(new Request(url, request))
    })
