/**
 * The Node adapter: turns a `node:http` request into a Fetch `Request`, serves it with the router's Web
 * handler and writes the `Response` back, streaming its body (SSE included). A client that goes away aborts
 * the request's signal, which ends the handler's work (an SSE tail stops polling). Written on the Web
 * handler rather than on @effect/platform-node so the router has no Node-only dependency.
 */
import type * as Http from "node:http"
import { Readable } from "node:stream"
import type { HandlerOptions, ReadRouter } from "../ReadRouter.js"
import { stripPrefix, toWebHandler } from "./router.js"

const toRequest = (req: Http.IncomingMessage, signal: AbortSignal): Request => {
  const host = req.headers.host ?? "localhost"
  const url = new URL(req.url ?? "/", `http://${host}`)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    if (Array.isArray(value)) { for (const v of value) headers.append(name, v) }
    else headers.set(name, value)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {})
  } as RequestInit)
}

const writeResponse = async (response: Response, res: Http.ServerResponse, signal: AbortSignal): Promise<void> => {
  const headers: Record<string, string | Array<string>> = {}
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return
    headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers["set-cookie"] = cookies
  res.writeHead(response.status, headers)
  if (response.body === null) {
    res.end()
    return
  }
  const reader = response.body.getReader()
  const stop = () => void reader.cancel().catch(() => undefined)
  signal.addEventListener("abort", stop, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      // Respect backpressure: wait for the socket to drain before reading more.
      if (!res.write(value)) await new Promise<void>((resolve) => res.once("drain", resolve))
    }
    res.end()
  } catch {
    res.destroy()
  } finally {
    signal.removeEventListener("abort", stop)
  }
}

const failed = (res: Http.ServerResponse, e: unknown) => {
  console.error("sextant read router: the request could not be served", e)
  if (res.headersSent) return void res.destroy()
  res.writeHead(500, { "content-type": "application/json" })
  res.end(
    JSON.stringify({
      _tag: "InternalError",
      message: "The request could not be served; the cause is in the server log."
    })
  )
}

/** A Node handler (`(req, res)`) for `node:http`, Express and Fastify. */
export const toNodeHandler = (
  router: ReadRouter,
  options: HandlerOptions = {}
): (req: Http.IncomingMessage, res: Http.ServerResponse) => void => {
  const handle = toWebHandler(router)
  return (req, res) => {
    const controller = new AbortController()
    // `close` on the response fires when it finished or when the client went away before that.
    res.once("close", () => {
      if (!res.writableFinished) controller.abort()
    })
    req.url = stripPrefix(options.prefix, req.url ?? "/")
    handle(toRequest(req, controller.signal)).then(
      (response) => writeResponse(response, res, controller.signal),
      (e: unknown) => failed(res, e)
    ).catch((e: unknown) => failed(res, e))
  }
}
