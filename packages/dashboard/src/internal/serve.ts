/**
 * The standalone server: a store over the database URL (read-only), the dashboard on `node:http` at `/`, a
 * redirect from `/` to the app, and a `close` that releases all of it.
 */
import { toNodeHandler } from "@sextant/http-router/node"
import { RunStore } from "@sextant/store"
import { spawn } from "node:child_process"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { DashboardServer, ServeOptions } from "../Dashboard.js"
import { DashboardError } from "../Errors.js"
import { bearer, make } from "./dashboard.js"

const openInBrowser = (url: string) => {
  const [command, args] = process.platform === "darwin"
    ? ["open", [url]]
    : process.platform === "win32"
    ? ["cmd", ["/c", "start", "", url]]
    : ["xdg-open", [url]]
  try {
    spawn(command, args as Array<string>, { stdio: "ignore", detached: true }).on("error", () => {}).unref()
  } catch {
    // No browser to open: the URL is printed anyway.
  }
}

const hostInUrl = (host: string) => (host.includes(":") ? `[${host}]` : host)

/** Serves the dashboard standalone. */
export const serve = async (options: ServeOptions): Promise<DashboardServer> => {
  const store = await RunStore.fromDatabaseUrl(options.databaseUrl)
  let router: ReturnType<typeof make>
  try {
    router = make({
      store,
      ...(options.authToken === undefined ? {} : { authorize: bearer(options.authToken) })
    })
  } catch (e) {
    await store.close()
    if (e instanceof DashboardError) throw e
    throw new DashboardError({ reason: "bad_option", message: `the dashboard could not be made: ${String(e)}` })
  }
  const handle = toNodeHandler(router)
  const server = Http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]
    if (path === "/" || path === "") {
      res.writeHead(302, { location: "/ui/" }).end()
      return
    }
    handle(req, res)
  })
  const host = options.host ?? "127.0.0.1"
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(options.port ?? 8001, host, () => {
        server.off("error", reject)
        resolve()
      })
    })
  } catch (e) {
    await router.dispose()
    await store.close()
    const why = e as { code?: unknown; message?: unknown }
    throw new DashboardError({
      reason: "listen",
      message: `cannot listen on ${host}:${options.port ?? 8001}: ${String(why.code ?? why.message ?? e)}`
    })
  }
  const { port } = server.address() as AddressInfo
  const url = `http://${hostInUrl(host)}:${port}/ui/`
  if (options.open === true) openInBrowser(url)
  let closing: Promise<void> | undefined
  const close = () =>
    closing ??= new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }).then(() => router.dispose()).then(() => store.close())
  return { url, server, store, close }
}
