/**
 * The dashboard: the read router with the single-page app beside its API, so one mount serves both —
 * `app.use("/api/sextant", toNodeHandler(makeDashboard({ store, authorize })))` gives the app at
 * `/api/sextant/ui/` and its API at `/api/sextant/…` (Express, Fastify, Hono, node:http, any Fetch host).
 *
 * The app's files are public (a browser cannot send a token before the app has asked for one); every API
 * route and the API reference at `/docs` stay behind `authorize`. With a bearer-token `authorize`, a 401
 * makes the app ask for the token, which it keeps in session storage and sends on every call, the SSE tail
 * included (read with `fetch`, not EventSource, so no token ever travels in a URL).
 *
 * `serve({ databaseUrl })` runs it standalone on its own port (what `sextant dashboard` calls).
 */
import type { ReadRouter, ReadRouterOptions } from "@sextant/http-router"
import type { RunStoreClient } from "@sextant/store"
import type * as Http from "node:http"
import * as internal from "./internal/dashboard.js"
import * as server from "./internal/serve.js"

/** Options of `make`: those of `makeReadRouter`, and where the built app is (default: this package's). */
export interface DashboardOptions extends ReadRouterOptions {
  /** The folder of the built app (default: `dist/ui/` of this package). */
  readonly uiDir?: string | undefined
}

/** Where the app is, relative to the mount. */
export const uiPath = "/ui/"

/** The read router with the app at `/ui/` (serve it with `toNodeHandler` or `toWebHandler` of the router). */
export const make: (options: DashboardOptions) => ReadRouter = internal.make

/** The same as `make`, under the name the docs use. */
export const makeDashboard: (options: DashboardOptions) => ReadRouter = internal.make

/** An `authorize` that accepts `Authorization: Bearer <token>` (compared in constant time) and nothing else. */
export const bearer: (token: string) => NonNullable<ReadRouterOptions["authorize"]> = internal.bearer

/** Options of `serve`. */
export interface ServeOptions {
  /** The database to read (`sqlite:./app.db`, `postgres://…`), opened read-only. */
  readonly databaseUrl: string
  /** The port (default 8001; 0 picks a free one). */
  readonly port?: number | undefined
  /** The address to listen on (default 127.0.0.1: only this machine). */
  readonly host?: string | undefined
  /** When set, every API call needs `Authorization: Bearer <authToken>` (the app asks for it). */
  readonly authToken?: string | undefined
  /** Opens the URL in the default browser once listening. */
  readonly open?: boolean | undefined
}

/** A running standalone dashboard. */
export interface DashboardServer {
  /** The app's URL (`http://127.0.0.1:8001/ui/`). */
  readonly url: string
  /** The underlying server (for its address or events). */
  readonly server: Http.Server
  /** The store it reads (closed by `close`). */
  readonly store: RunStoreClient
  /** Stops listening, ends open tails, closes the store. */
  readonly close: () => Promise<void>
}

/** Serves the dashboard over a database on its own port; `/` redirects to the app. */
export const serve: (options: ServeOptions) => Promise<DashboardServer> = server.serve
