/**
 * The mountable read router: the RunStore over HTTP, as an `HttpApi` (typed parameters and errors, OpenAPI
 * at `/openapi.json`), served by a Fetch handler (`Request → Response`: Hono, Bun, Deno, Workers, Next) or a
 * Node handler (`(req, res)`: `node:http`, Express, Fastify), under any prefix.
 *
 * Authorization is the host's: `authorize(request)` returns a principal (optionally with a `tenantId` that
 * every route is then restricted to — another tenant's run is a 404) or rejects with `unauthorized()` /
 * `forbidden()` (401/403 JSON). `/health` and `/openapi.json` need no authorization.
 */
import type { RunStoreClient, RunStoreService } from "@sextant/store"
import type * as Http from "node:http"
import type { Principal } from "./Api.js"
import { makeRouter, stripPrefix } from "./internal/router.js"

/** What `authorize` sees of a request (the path is relative to the mount prefix). */
export interface AuthRequest {
  readonly method: string
  /** Path and query, relative to the router (e.g. `/runs?limit=5`). */
  readonly url: string
  /** Lower-cased header names. */
  readonly headers: { readonly [name: string]: string | undefined }
}

/** A refusal returned or thrown by `authorize`. */
export class AuthRejection {
  constructor(
    /** 401 (no or bad credentials) or 403 (not allowed). */
    readonly status: 401 | 403,
    readonly message: string
  ) {}
}

/** A 401 refusal for `authorize` to return or throw. */
export const unauthorized = (message = "Missing or invalid credentials."): AuthRejection =>
  new AuthRejection(401, message)

/** A 403 refusal for `authorize` to return or throw. */
export const forbidden = (message = "Not allowed."): AuthRejection => new AuthRejection(403, message)

/** Options of `makeReadRouter`. */
export interface ReadRouterOptions {
  /** The store to read from: an Effect `RunStoreService` or the client of `RunStore.fromDatabaseUrl`. */
  readonly store: RunStoreService | RunStoreClient
  /** Decides who may read; without it every request is allowed and unscoped. */
  readonly authorize?:
    | ((request: AuthRequest) => Principal | AuthRejection | PromiseLike<Principal | AuthRejection>)
    | undefined
  /** Interval of SSE keepalive comments in ms (default 15 000). */
  readonly keepAliveMs?: number | undefined
  /** How often an idle SSE tail polls the store in ms (default 250). */
  readonly pollIntervalMs?: number | undefined
}

/** A read router, ready to be served by `toWebHandler` / `toNodeHandler`. */
export interface ReadRouter {
  /** @internal */
  readonly internal: ReturnType<typeof makeRouter>
  /** Releases the router's runtime (open SSE tails end); the store is the caller's to close. */
  readonly dispose: () => Promise<void>
}

/** Builds the read router over a store. */
export const makeReadRouter = (options: ReadRouterOptions): ReadRouter => {
  const internal = makeRouter(options)
  return { internal, dispose: internal.dispose }
}

/** Options of the handlers. */
export interface HandlerOptions {
  /** The path the router is mounted at (e.g. `/api/sextant`), stripped from incoming URLs when present. */
  readonly prefix?: string | undefined
}

/** A Fetch handler (`Request → Promise<Response>`). */
export const toWebHandler =
  (router: ReadRouter, options: HandlerOptions = {}): (request: Request) => Promise<Response> => (request) =>
    router.internal.webHandler().then((handle) => {
      const url = new URL(request.url)
      const path = stripPrefix(options.prefix, url.pathname)
      if (path === url.pathname) return handle(request)
      url.pathname = path
      return handle(new Request(url, request))
    })

/** A Node handler (`(req, res)`) for `node:http`, Express (`app.use(prefix, handler)`) and Fastify (`reply.hijack()`). */
export const toNodeHandler = (
  router: ReadRouter,
  options: HandlerOptions = {}
): (req: Http.IncomingMessage, res: Http.ServerResponse) => void => {
  let ready: ((req: Http.IncomingMessage, res: Http.ServerResponse) => void) | undefined
  return (req, res) => {
    req.url = stripPrefix(options.prefix, req.url ?? "/")
    if (ready !== undefined) return ready(req, res)
    router.internal.nodeHandler().then((handle) => {
      ready = handle
      handle(req, res)
    }, (e: unknown) => {
      console.error("sextant read router: the router failed to start", e)
      res.writeHead(500, { "content-type": "application/json" })
      res.end(
        JSON.stringify({
          _tag: "InternalError",
          message: "The router failed to start; the cause is in the server log."
        })
      )
    })
  }
}
