/**
 * The OpenAPI document served at /openapi.json describes what the router really does: integer parameters
 * with their ranges and descriptions, the error bodies it sends (never the framework's HttpApiDecodeError),
 * and the security scheme the host's `authorize` checks.
 */
import type { RunStoreClient } from "@sextant/store"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeReadRouter, type ReadRouterOptions } from "../src/index.js"
import { bearerAuthorize, freshDatabase, hosts, openStore } from "./support.js"

const host = hosts[0]!

const documentOf = async (options: Omit<ReadRouterOptions, "store">, store: RunStoreClient) => {
  const router = makeReadRouter({ store, ...options })
  const server = await host.start(router, "/api")
  try {
    const res = await fetch(`${server.base}/openapi.json`)
    expect(res.status).toBe(200)
    return await res.json() as any
  } finally {
    await server.close()
    await router.dispose()
  }
}

const param = (doc: any, path: string, name: string) =>
  doc.paths[path].get.parameters.find((p: { name: string }) => p.name === name)

const operations = (doc: any): Array<[string, any]> =>
  Object.entries(doc.paths).map(([path, methods]) => [path, (methods as any).get])

describe("the OpenAPI document", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let store: RunStoreClient
  let doc: any
  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    store = await openStore(db.url)
    doc = await documentOf({ authorize: bearerAuthorize }, store)
  })
  afterAll(async () => {
    await store?.close()
    await db?.drop()
  })

  it("documents includeTotal, the estimate it can ask for and the optional totals of a page", () => {
    const include = param(doc, "/runs", "includeTotal")
    expect(include.schema).toMatchObject({ type: "string", enum: ["true", "false", "estimate"], default: "true" })
    expect(include.description).toContain("pg_class.reltuples")
    expect(include.description).toContain("newest 10,000 runs")
    const page = doc.components.schemas.RunPage
    expect(page.required).toEqual(["items", "nextCursor"])
    expect(Object.keys(page.properties)).toEqual(["items", "nextCursor", "total", "estimatedTotal"])
  })

  it("documents every integer parameter as an integer with its range and description", () => {
    const index = { type: "integer", minimum: 0, maximum: 2_147_483_647 }
    expect(param(doc, "/runs", "limit").schema).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 1000,
      default: 50
    })
    expect(param(doc, "/runs", "limit").description).toBe("Page size, 1..1000 (default 50)")
    expect(param(doc, "/runs/{runId}/events", "limit").schema).toMatchObject({ type: "integer", default: 100 })
    expect(param(doc, "/runs/{runId}/events", "after").schema).toMatchObject(index)
    expect(param(doc, "/runs/{runId}/events/stream", "after").schema).toMatchObject(index)
    const lastEventId = param(doc, "/runs/{runId}/events/stream", "last-event-id")
    expect(lastEventId).toMatchObject({ in: "header", schema: index })
    expect(lastEventId.description).toBe("Resume after this sequence index")
    for (const path of ["/runs/{runId}/traces", "/runs/{runId}/tool-calls", "/runs/{runId}/llm-calls"]) {
      expect(param(doc, path, "iteration")).toMatchObject({ schema: index, description: "Only rows of this iteration" })
    }
    expect(param(doc, "/runs", "agentName").schema).toMatchObject({ type: "string", minLength: 1, maxLength: 1000 })
    expect(JSON.stringify(doc)).not.toContain("a string to be decoded into a number")
  })

  it("documents the 400 body the router sends, and no HttpApiDecodeError", async () => {
    expect(JSON.stringify(doc)).not.toContain("HttpApiDecodeError")
    expect(doc.components.schemas.InvalidParameter).toMatchObject({
      required: expect.arrayContaining(["_tag", "parameter", "message"])
    })
    for (const [path, op] of operations(doc)) {
      if (op.parameters.length === 0) expect({ path, r: op.responses["400"] }).toEqual({ path, r: undefined })
      else {
        expect({ path, schema: op.responses["400"].content["application/json"].schema }).toEqual({
          path,
          schema: { $ref: "#/components/schemas/InvalidParameter" }
        })
      }
      // A 500 is the logged InternalError, or ContentEncrypted (encrypted content the server has no key for).
      expect(op.responses["500"].content["application/json"].schema).toEqual({
        anyOf: [{ $ref: "#/components/schemas/InternalError" }, { $ref: "#/components/schemas/ContentEncrypted" }]
      })
    }
    // The body really sent has exactly the documented fields.
    const router = makeReadRouter({ store })
    const server = await host.start(router, "/api")
    try {
      const body = await (await fetch(`${server.base}/runs?limit=0`)).json() as Record<string, unknown>
      expect(Object.keys(body).sort()).toEqual(Object.keys(doc.components.schemas.InvalidParameter.properties).sort())
    } finally {
      await server.close()
      await router.dispose()
    }
  })

  it("documents 401/403 on the authorized routes, 404 RunNotFound on the per-run routes", () => {
    for (const [path, op] of operations(doc)) {
      const open = path === "/health" || path === "/openapi.json"
      expect({ path, has401: "401" in op.responses, has403: "403" in op.responses }).toEqual({
        path,
        has401: !open,
        has403: !open
      })
      if (!open) {
        expect(op.responses["401"].content["application/json"].schema).toEqual({
          $ref: "#/components/schemas/Unauthorized"
        })
      }
      const perRun = path.startsWith("/runs/{runId}")
      const perThread = path.startsWith("/threads/{threadId}")
      expect({ path, notFound: op.responses["404"]?.content["application/json"].schema }).toEqual({
        path,
        notFound: perRun
          ? { $ref: "#/components/schemas/RunNotFound" }
          : perThread
          ? { $ref: "#/components/schemas/ThreadNotFound" }
          : undefined
      })
    }
  })

  it("names the HTTP bearer scheme on every authorized route and none on /health and /openapi.json", () => {
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: "http", scheme: "bearer" })
    })
    for (const [path, op] of operations(doc)) {
      const open = path === "/health" || path === "/openapi.json"
      expect({ path, security: op.security }).toEqual({ path, security: open ? [] : [{ bearer: [] }] })
    }
  })

  it("names the scheme the router's options give, and none when there is no authorize", async () => {
    const apiKey = await documentOf({
      authorize: bearerAuthorize,
      security: {
        name: "apiKey",
        scheme: { type: "apiKey", in: "header", name: "x-api-key" },
        description: "The key your admin issued"
      }
    }, store)
    expect(apiKey.components.securitySchemes).toEqual({
      apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "The key your admin issued" }
    })
    expect(apiKey.paths["/runs"].get.security).toEqual([{ apiKey: [] }])
    const open = await documentOf({}, store)
    expect(open.components.securitySchemes).toEqual({})
    for (const [path, op] of operations(open)) {
      expect({ path, security: op.security, has401: "401" in op.responses }).toEqual({
        path,
        security: [],
        has401: false
      })
    }
  })
})
