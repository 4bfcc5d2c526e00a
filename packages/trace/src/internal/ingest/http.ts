/**
 * The ingest endpoint over HTTP: a Web `Request → Response` handler and a Node `(req, res)` handler around
 * one function that authorises, reads the body under a size limit, decodes the batch and commits it.
 */
import { RunLedger } from "@sextant/runtime"
import { Recorder } from "@sextant/runtime"
import { Duration, Effect, Either, Runtime } from "effect"
import type { IncomingMessage, ServerResponse } from "node:http"
import type * as Ingest from "../../Ingest.js"
import { makeCommitter, type Principal } from "./commit.js"
import { decodeBatch } from "./validate.js"
import * as Wire from "./wire.js"

/** A request as the core sees it. */
interface Incoming {
  readonly method: string
  readonly pathname: string
  readonly headers: Headers
  /** The body, or undefined when it exceeded `limit` bytes. */
  readonly body: (limit: number) => Promise<Uint8Array | undefined>
}

interface Outgoing {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Outgoing => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

const refusal = (r: Wire.Refusal, retryAfter: number): Outgoing =>
  json(Wire.statuses[r.error], r, r.error === "Unavailable" ? { "retry-after": String(retryAfter) } : {})

const defaults = {
  maxBodyBytes: 1_048_576,
  maxEvents: 1000,
  retryAfterSeconds: 1,
  holdFor: Duration.seconds(5),
  maxHeldEvents: 10_000,
  rememberEvents: 100_000
}

/** Handles one request: the answer is 200 only once every event of the batch is durable. */
const handle = async (
  run: <A>(effect: Effect.Effect<A>) => Promise<A>,
  committer: ReturnType<typeof makeCommitter>,
  options: Ingest.IngestOptions,
  request: Incoming
): Promise<Outgoing> => {
  const maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes
  const retryAfter = options.retryAfterSeconds ?? defaults.retryAfterSeconds
  const refuse = (r: Wire.Refusal) => refusal(r, retryAfter)
  if (request.pathname !== Wire.path) return refuse({ error: "NotFound", message: `POST events to ${Wire.path}` })
  if (request.method !== "POST") {
    return { ...refuse({ error: "MethodNotAllowed", message: `${Wire.path} takes POST` }), headers: { allow: "POST" } }
  }
  let principal: Principal | undefined
  try {
    principal = await options.authorize(request.headers)
  } catch {
    principal = undefined
  }
  if (principal === undefined) {
    return refuse({ error: "Unauthorized", message: "missing or unknown API key: send `Authorization: Bearer <key>`" })
  }
  const declared = Number(request.headers.get("content-length") ?? "0")
  const bytes = declared > maxBodyBytes ? undefined : await request.body(maxBodyBytes)
  if (bytes === undefined) {
    return refuse({ error: "TooLarge", message: `the body exceeds ${maxBodyBytes} bytes: send smaller batches` })
  }
  let body: unknown
  try {
    body = JSON.parse(new TextDecoder().decode(bytes))
  } catch (error) {
    return refuse({ error: "InvalidBatch", field: "body", message: `body: not JSON (${String(error)})` })
  }
  const decoded = decodeBatch(body, options.maxEvents ?? defaults.maxEvents)
  if (Either.isLeft(decoded)) return refuse(decoded.left)
  const who = principal
  const outcome = await run(Effect.either(committer.commit(who, decoded.right)))
  return Either.isLeft(outcome) ? refuse(outcome.left) : json(200, outcome.right)
}

const readWeb = (request: Request) => async (limit: number): Promise<Uint8Array | undefined> => {
  if (request.body === null) return new Uint8Array()
  const reader = request.body.getReader()
  const parts: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      return undefined
    }
    parts.push(value)
  }
  return Buffer.concat(parts)
}

const readNode = (req: IncomingMessage) => async (limit: number): Promise<Uint8Array | undefined> => {
  const parts: Array<Buffer> = []
  let size = 0
  for await (const chunk of req) {
    const buf = chunk as Buffer
    size += buf.byteLength
    if (size > limit) return undefined
    parts.push(buf)
  }
  return Buffer.concat(parts)
}

const nodeHeaders = (req: IncomingMessage): Headers => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value)
  }
  return headers
}

/** The endpoint's handlers over the `Recorder` and `RunLedger` in context. */
export const makeHandler = (
  options: Ingest.IngestOptions
): Effect.Effect<Ingest.IngestHandler, never, Recorder | RunLedger> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const committer = makeCommitter(yield* Recorder, yield* RunLedger, {
      holdFor: Duration.decode(options.holdFor ?? defaults.holdFor),
      maxHeldEvents: options.maxHeldEvents ?? defaults.maxHeldEvents,
      rememberEvents: options.rememberEvents ?? defaults.rememberEvents
    })
    const run = <A>(effect: Effect.Effect<A>) => Runtime.runPromise(runtime)(effect)
    const prefix = options.prefix ?? ""
    const strip = (pathname: string) =>
      prefix !== "" && pathname.startsWith(prefix) ? pathname.slice(prefix.length) : pathname
    const fetch = async (request: Request): Promise<Response> => {
      const out = await handle(run, committer, options, {
        method: request.method,
        pathname: strip(new URL(request.url).pathname),
        headers: request.headers,
        body: readWeb(request)
      })
      return new Response(out.body, { status: out.status, headers: out.headers })
    }
    const node = (req: IncomingMessage, res: ServerResponse): void => {
      const pathname = strip(new URL(req.url ?? "/", "http://localhost").pathname)
      handle(run, committer, options, {
        method: req.method ?? "GET",
        pathname,
        headers: nodeHeaders(req),
        body: readNode(req)
      })
        .then(
          (out) => {
            res.writeHead(out.status, out.headers).end(out.body)
          },
          (error: unknown) => {
            res.writeHead(500, { "content-type": "application/json" }).end(
              JSON.stringify({ error: "Internal", message: String(error) })
            )
          }
        )
    }
    return { fetch, node, openApi: Wire.openApi() }
  })
