/**
 * The Node adapter: turns a `node:http` request into a Fetch `Request`, serves it with the router's responder
 * and writes the answer back. A body held in memory (every JSON answer) goes straight to the socket; a
 * streamed one (SSE, NDJSON) goes through the Web `Response` and is written with backpressure. A client that
 * goes away interrupts the request, which ends the handler's work (an SSE tail stops polling). Written on
 * the Web types rather than on @effect/platform-node so the router has no Node-only dependency.
 */
import { Cookies, type HttpServerResponse } from "@effect/platform"
import type { Runtime } from "effect"
import type * as Http from "node:http"
import { Readable } from "node:stream"
import type { HandlerOptions, ReadRouter } from "../ReadRouter.js"
import { type OnAbort, serve, stripPrefix, toResponse } from "./router.js"

// No abort signal on the Request: the response's `close` interrupts the request directly (see `toNodeHandler`).
const toRequest = (req: Http.IncomingMessage): Request => {
  const headers: Array<[string, string]> = []
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) headers.push([raw[i]!, raw[i + 1]!])
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  return new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {})
  } as RequestInit)
}

const writeStreamed = async (response: Response, res: Http.ServerResponse, onAbort: OnAbort): Promise<void> => {
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
  onAbort(() => void reader.cancel().catch(() => undefined))
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
  }
}

/** Writes the app's answer: a body in memory at once, anything else through its Web `Response`. */
const writeResponse = (
  response: HttpServerResponse.HttpServerResponse,
  method: string,
  runtime: Runtime.Runtime<never>,
  res: Http.ServerResponse,
  onAbort: OnAbort
): Promise<void> | void => {
  const body = response.body
  const inMemory = body._tag === "Uint8Array" || body._tag === "Empty"
  if (!inMemory || method === "HEAD" || !Cookies.isEmpty(response.cookies)) {
    return writeStreamed(toResponse(response, method, runtime), res, onAbort)
  }
  // The headers already carry the body's content type and length (HttpServerResponse sets them).
  res.writeHead(response.status, response.statusText, response.headers)
  res.end(body._tag === "Uint8Array" ? body.body : undefined)
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
  return (req, res) => {
    const aborted: Array<() => void> = []
    // `close` on the response fires when it finished or when the client went away before that.
    res.once("close", () => {
      if (!res.writableFinished) { for (const listener of aborted) listener() }
    })
    const onAbort: OnAbort = (listener) => void aborted.push(listener)
    req.url = stripPrefix(options.prefix, req.url ?? "/")
    serve(router).then(({ respond, runtime }) => {
      const request = toRequest(req)
      return respond(request, onAbort).then((response) =>
        writeResponse(response, request.method, runtime, res, onAbort)
      )
    }).catch((e: unknown) => failed(res, e))
  }
}
