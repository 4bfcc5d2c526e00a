/**
 * Test fixtures: a real database of each dialect seeded through recorded runs (agent loop, scripted model,
 * SqlRecorder), a store over it, and the four host frameworks serving the router on loopback sockets.
 */
import { serve as honoServe } from "@hono/node-server"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Ids, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import express from "express"
import Fastify from "fastify"
import { Hono } from "hono"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Dialect } from "../../../test-support/databases.js"
import { forbidden, makeReadRouter, type ReadRouterOptions, toWebHandler, unauthorized } from "../src/index.js"
import { toNodeHandler } from "../src/node.js"

export type { Dialect }

export { dialects, freshDatabase } from "../../recorder/test/databases.js"

const weather = Tool.make("get_weather", {
  description: "Weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})

/** Scripted turns: a tool call, then an answer. */
export const script = (answer: string): ReadonlyArray<ScriptedModel.ScriptStep> => [
  {
    toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }],
    usage: { inputTokens: 50, outputTokens: 12, costUsd: 0.001 }
  },
  { text: answer, usage: { inputTokens: 80, outputTokens: 9, costUsd: 0.002 } }
]

/** Runs an agent with extra tools, recorded by the ambient recorder. */
export const run = (
  name: string,
  steps: ReadonlyArray<ScriptedModel.ScriptStep>,
  options: Agent.RunOptions = {},
  tools: ReadonlyArray<Tool.Tool> = []
) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({ name, instructions: `You are ${name}.`, tools: [weather, ...tools] })
    return yield* agent.run("What's the weather?", { runId: Ids.make(), ...options }).pipe(
      Effect.provide(ScriptedModel.layer(steps))
    )
  })

/** A recorder over a database URL, for seeding from Promise-based tests. */
export const recorderRuntime = (url: string) => ManagedRuntime.make(SqlRecorder.layerFromUrl(url).pipe(Layer.orDie))
/** The recorder runtime's type. */
export type RecorderRuntime = ManagedRuntime.ManagedRuntime<Recorder | import("@effect/sql").SqlClient.SqlClient, never>

/** Tokens the tests' bearer `authorize` accepts, and the tenant each is scoped to. */
export const tokens: Record<string, { readonly tenantId?: string }> = {
  admin: {},
  acme: { tenantId: "acme" },
  globex: { tenantId: "globex" }
}

/** The bearer-token `authorize` of the tests: unknown token 401, token "nobody" 403. */
export const bearerAuthorize: NonNullable<ReadRouterOptions["authorize"]> = (request) => {
  const header = request.headers.authorization ?? ""
  const token = header.startsWith("Bearer ") ? header.slice(7) : undefined
  if (token === "nobody") return forbidden("This token may not read runs.")
  if (token === undefined || tokens[token] === undefined) return unauthorized("A valid bearer token is required.")
  return { subject: token, ...tokens[token] }
}

/** A server of one host framework with the router mounted under `prefix`; resolves to its base URL and `close`. */
export interface Host {
  readonly name: string
  readonly start: (
    router: ReturnType<typeof makeReadRouter>,
    prefix: string
  ) => Promise<{ readonly base: string; readonly close: () => Promise<void> }>
}

const listen = (server: Http.Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  )
const closeServer = (server: Http.Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

/** node:http, Express, Fastify and Hono. */
export const hosts: ReadonlyArray<Host> = [
  {
    name: "node:http",
    start: async (router, prefix) => {
      const handle = toNodeHandler(router, { prefix })
      const server = Http.createServer((req, res) => {
        if (req.url?.startsWith(prefix)) return handle(req, res)
        res.writeHead(418).end("host route")
      })
      return { base: (await listen(server)) + prefix, close: () => closeServer(server) }
    }
  },
  {
    name: "express",
    start: async (router, prefix) => {
      const app = express()
      app.use(prefix, toNodeHandler(router))
      app.get("/", (_req, res) => void res.status(418).send("host route"))
      const server = Http.createServer(app)
      return { base: (await listen(server)) + prefix, close: () => closeServer(server) }
    }
  },
  {
    name: "fastify",
    start: async (router, prefix) => {
      const app = Fastify()
      const handle = toNodeHandler(router, { prefix })
      app.all(`${prefix}/*`, (request, reply) => {
        reply.hijack()
        handle(request.raw, reply.raw)
      })
      app.all(prefix, (request, reply) => {
        reply.hijack()
        handle(request.raw, reply.raw)
      })
      const address = await app.listen({ port: 0, host: "127.0.0.1" })
      return { base: address + prefix, close: () => app.close() }
    }
  },
  {
    name: "hono",
    start: async (router, prefix) => {
      const app = new Hono()
      const handle = toWebHandler(router, { prefix })
      app.all(`${prefix}/*`, (c) => handle(c.req.raw))
      const server = await new Promise<Http.Server>((resolve) => {
        const s = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Http.Server))
      })
      return {
        base: `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`,
        close: () => closeServer(server)
      }
    }
  }
]

/** A fresh store client over a URL. */
export const openStore = (url: string) => RunStore.fromDatabaseUrl(url)

/** What `getJson` read: the status, the content type, the body (parsed JSON, else the text) and the text. */
export interface Got {
  readonly status: number
  readonly type: string
  readonly body: any
  readonly text: string
}

/** GET `base + path` with a bearer `token` (no authorization when null) and extra `headers`. */
export const getJson = async (
  base: string,
  path: string,
  token: string | null = "admin",
  headers: Record<string, string> = {}
): Promise<Got> => {
  const res = await fetch(base + path, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }
  })
  const text = await res.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, type: res.headers.get("content-type") ?? "", body, text }
}

/** One frame of an SSE stream. */
export interface SseFrame {
  readonly id?: string
  readonly event?: string
  readonly data?: string
  readonly comment?: string
}

/** Reads SSE frames from a response body. */
export const sseFrames = (response: Response) => {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  const parse = (block: string): SseFrame => {
    const frame: Record<string, string> = {}
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) frame.comment = line.slice(1).trim()
      else {
        const i = line.indexOf(":")
        const key = line.slice(0, i)
        const value = line.slice(i + 1).replace(/^ /, "")
        frame[key] = frame[key] === undefined ? value : `${frame[key]}\n${value}`
      }
    }
    return frame
  }
  return {
    /** The next frame, or undefined when the stream ended. */
    next: async (): Promise<SseFrame | undefined> => {
      for (;;) {
        const end = buffer.indexOf("\n\n")
        if (end >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          return parse(block)
        }
        const chunk = await reader.read()
        if (chunk.done) return undefined
        buffer += decoder.decode(chunk.value, { stream: true })
      }
    },
    close: () => reader.cancel().catch(() => undefined)
  }
}
