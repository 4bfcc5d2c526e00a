/**
 * The mountable read router: the RunStore over HTTP, as an `HttpApi` (typed parameters and errors, OpenAPI
 * at `/openapi.json`), served by a Fetch handler (`Request → Response`: Hono, Bun, Deno, Workers, Next) or, from
 * `@sextant/http-router/node`, a Node handler (`(req, res)`: `node:http`, Express, Fastify), under any prefix.
 *
 * Authorization is the host's: `authorize(request)` returns a principal (optionally with a `tenantId` that
 * every route is then restricted to — another tenant's run is a 404) or rejects with `unauthorized()` /
 * `forbidden()` (401/403 JSON). `/health` and `/openapi.json` need no authorization; the API reference at
 * `/docs` (Scalar, over the same document) and every other route do.
 */
import type { OpenApi } from "@effect/platform"
import type { RunStoreClient, RunStoreService } from "@sextant/store"
import type { Principal } from "./Api.js"
import * as auth from "./internal/auth.js"
import * as internal from "./internal/router.js"

/** What `authorize` sees of a request (the path is relative to the mount prefix). */
export interface AuthRequest {
  readonly method: string
  /** Path and query, relative to the router (e.g. `/runs?limit=5`). */
  readonly url: string
  /** Lower-cased header names. */
  readonly headers: { readonly [name: string]: string | undefined }
}

/** A refusal returned or thrown by `authorize`: its `status` (401 or 403) and the `message` sent. */
export const AuthRejection: typeof auth.AuthRejection = auth.AuthRejection
/** A refusal returned or thrown by `authorize`. */
export type AuthRejection = auth.AuthRejection

/** A 401 refusal for `authorize` to return or throw. */
export const unauthorized: (message?: string) => AuthRejection = auth.unauthorized

/** A 403 refusal for `authorize` to return or throw. */
export const forbidden: (message?: string) => AuthRejection = auth.forbidden

/** How the OpenAPI document describes the credentials `authorize` checks (default: HTTP bearer). */
export interface SecurityOptions {
  /** The scheme's key in `components.securitySchemes` and in each route's `security` (default "bearer"). */
  readonly name?: string | undefined
  /** The OpenAPI security scheme, e.g. `{ type: "apiKey", in: "header", name: "x-api-key" }` (default HTTP bearer). */
  readonly scheme?: OpenApi.OpenAPISecurityScheme | undefined
  /** Its description in the document. */
  readonly description?: string | undefined
}

/**
 * A `GET` route served beside the API under the same mount, without `authorize` (so only for what is public:
 * the static files of a UI such as `@sextant/dashboard`). The API's routes win over it.
 */
export interface ExtraRoute {
  /** The path relative to the router: exact (`/ui`) or every path under a prefix (`/ui/*`). */
  readonly path: `/${string}`
  /** Serves the request, whose URL is relative to the router (the mount prefix is already stripped). */
  readonly handle: (request: Request) => Response | PromiseLike<Response>
}

/** Options of `makeReadRouter`. */
export interface ReadRouterOptions {
  /** The store to read from: an Effect `RunStoreService` or the client of `RunStore.fromDatabaseUrl`. */
  readonly store: RunStoreService | RunStoreClient
  /** Decides who may read; without it every request is allowed and unscoped (and the document names no scheme). */
  readonly authorize?:
    | ((request: AuthRequest) => Principal | AuthRejection | PromiseLike<Principal | AuthRejection>)
    | undefined
  /** The security scheme `/openapi.json` names for the authorized routes (default: HTTP bearer). */
  readonly security?: SecurityOptions | undefined
  /** Interval of SSE keepalive comments in ms (default 15 000). */
  readonly keepAliveMs?: number | undefined
  /** How often an idle SSE tail polls the store in ms (default 250). */
  readonly pollIntervalMs?: number | undefined
  /** Public `GET` routes served beside the API (e.g. a UI's static files); see `ExtraRoute`. */
  readonly routes?: ReadonlyArray<ExtraRoute> | undefined
}

/** The brand of a read router. */
export const TypeId: unique symbol = internal.TypeId
/** The brand of a read router. */
export type TypeId = typeof TypeId

/** A read router, ready to be served by `toWebHandler` (or `toNodeHandler` from `@sextant/http-router/node`). */
export interface ReadRouter {
  readonly [TypeId]: TypeId
  /** Releases the router's runtime (open SSE tails end); the store is the caller's to close. */
  readonly dispose: () => Promise<void>
}

/** Builds the read router over a store (synchronously: the app is built on the first request). */
export const makeReadRouter: (options: ReadRouterOptions) => ReadRouter = internal.make

/** Options of the handlers. */
export interface HandlerOptions {
  /** The path the router is mounted at (e.g. `/api/sextant`), stripped from incoming URLs when present. */
  readonly prefix?: string | undefined
}

/** A Fetch handler (`Request → Promise<Response>`). */
export const toWebHandler: (router: ReadRouter, options?: HandlerOptions) => (request: Request) => Promise<Response> =
  internal.toWebHandler
