/**
 * A loopback HTTP server that answers with scripted replies in order (JSON, text, SSE — possibly left open —,
 * a dropped connection or no answer at all) and keeps every request it received.
 */
import { Effect, type Scope } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** One scripted reply. */
export type Reply =
  | { readonly status?: number; readonly headers?: Record<string, string>; readonly json: unknown }
  | { readonly status?: number; readonly headers?: Record<string, string>; readonly text: string }
  | {
    readonly sse: ReadonlyArray<{ readonly event?: string; readonly data: unknown }>
    /** Keep the stream open after the events (`hold`), or reset the connection after them (`cut`). */
    readonly hold?: true
    readonly cut?: true
  }
  /** A 200 JSON response whose connection is reset after the first half of `json`'s text. */
  | { readonly resetMidBody: true; readonly json: unknown }
  | { readonly drop: true }
  | { readonly hang: true }

/** A request as the server saw it. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage["headers"]
  readonly raw: string
  readonly body: unknown
}

/** A running fake server. */
export interface FakeServer {
  readonly url: string
  readonly received: Array<Received>
}

const answer = (reply: Reply | undefined, res: ServerResponse) => {
  if (reply === undefined) {
    res.writeHead(500, { "content-type": "application/json" })
    res.end(JSON.stringify({ error: { message: "fake server: no scripted reply left" } }))
    return
  }
  if ("hang" in reply) return
  if ("drop" in reply) {
    res.socket?.destroy()
    return
  }
  if ("sse" in reply) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    for (const e of reply.sse) {
      const data = typeof e.data === "string" ? e.data : JSON.stringify(e.data)
      res.write(`${e.event === undefined ? "" : `event: ${e.event}\n`}data: ${data}\n\n`)
    }
    if (reply.cut === true) setTimeout(() => res.socket?.destroy(), 20)
    else if (reply.hold !== true) res.end()
    return
  }
  if ("resetMidBody" in reply) {
    const text = JSON.stringify(reply.json)
    res.writeHead(200, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) })
    res.write(text.slice(0, Math.floor(text.length / 2)))
    setTimeout(() => res.socket?.destroy(), 20)
    return
  }
  const body = "json" in reply ? JSON.stringify(reply.json) : reply.text
  res.writeHead(reply.status ?? 200, {
    "content-type": "json" in reply ? "application/json" : "text/plain",
    ...reply.headers
  })
  res.end(body)
}

/** Starts a server on 127.0.0.1 (random port) for the scope, answering with `replies` in order. */
export const fakeServer = (...replies: ReadonlyArray<Reply>): Effect.Effect<FakeServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: ReturnType<typeof createServer>; fake: FakeServer }>((resume) => {
      const script = [...replies]
      const received: Array<Received> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8")
          let body: unknown = raw
          try {
            body = JSON.parse(raw)
          } catch {
            // keep the raw text
          }
          received.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw, body })
          answer(script.shift(), res)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          server,
          fake: { url: `http://127.0.0.1:${port}`, received }
        }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ fake }) => fake))
