import { ReadApi, toWebHandler } from "@sextant/http-router"
import type { ReadRouter } from "@sextant/http-router"
import { RunStore, type RunStoreClient } from "@sextant/store"
import { readFileSync } from "node:fs"
import { gunzipSync } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Dashboard, makeDashboard } from "../src/index.js"
import { paths } from "../ui/src/paths.js"
import { freshDatabase, TOKEN } from "./support.js"

const PREFIX = "/api/sextant"

describe("the dashboard's files beside the read API", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let store: RunStoreClient
  let router: ReadRouter
  let handle: (request: Request) => Promise<Response>
  const get = (path: string, headers: Record<string, string> = {}) =>
    handle(new Request(`http://host${PREFIX}${path}`, { headers }))
  let script: string

  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    store = await RunStore.fromDatabaseUrl(db.url)
    router = makeDashboard({ store, authorize: Dashboard.bearer(TOKEN) })
    handle = toWebHandler(router, { prefix: PREFIX })
    const index = await (await get("/ui/")).text()
    script = /src="\.\/(assets\/index-[^"]+\.js)"/.exec(index)![1]!
  })
  afterAll(async () => {
    await router?.dispose()
    await store?.close()
    await db?.drop()
  })

  it("serves index.html at /ui/, revalidated, with a CSP and a base that works at any depth", async () => {
    const res = await get("/ui/")
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(res.headers.get("cache-control")).toBe("no-cache")
    expect(res.headers.get("content-security-policy")).toContain("connect-src 'self'")
    expect(res.headers.get("x-content-type-options")).toBe("nosniff")
    expect(await res.text()).toContain("<base href=\"./\" />")
    // A deep link is the same app, its base pointing back at /ui/.
    const deep = await get("/ui/runs/abc")
    expect(deep.status).toBe(200)
    expect(await deep.text()).toContain("<base href=\"../\" />")
    expect(await (await get("/ui/runs/abc/")).text()).toContain("<base href=\"../../\" />")
    expect(await (await get("/ui/usage?by=day")).text()).toContain("<base href=\"./\" />")
  })

  it("redirects /ui to ui/ (relative, so any mount resolves it)", async () => {
    const res = await get("/ui")
    expect(res.status).toBe(302)
    expect(res.headers.get("location")).toBe("ui/")
  })

  it("serves hashed files with their type and a year of immutable cache; ETags give 304s", async () => {
    const res = await get(`/ui/${script}`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
    const etag = res.headers.get("etag")!
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    const body = new Uint8Array(await res.arrayBuffer())
    expect(body).toEqual(new Uint8Array(readFileSync(new URL(`../dist/ui/${script}`, import.meta.url))))
    const again = await get(`/ui/${script}`, { "if-none-match": etag })
    expect(again.status).toBe(304)
    expect(again.headers.get("etag")).toBe(etag)
    expect(await again.text()).toBe("")
    const page = await get("/ui/")
    expect((await get("/ui/", { "if-none-match": page.headers.get("etag")! })).status).toBe(304)
    const css = await get("/ui/")
    const sheet = /href="\.\/(assets\/[^"]+\.css)"/.exec(await css.text())![1]!
    expect((await get(`/ui/${sheet}`)).headers.get("content-type")).toBe("text/css; charset=utf-8")
    const icon = await get("/ui/favicon.svg")
    expect(icon.headers.get("content-type")).toBe("image/svg+xml")
    expect(icon.headers.get("cache-control")).toBe("no-cache")
  })

  it("gzips text for clients that accept it, under its own ETag", async () => {
    const plain = await get(`/ui/${script}`)
    const zipped = await handle(
      new Request(`http://host${PREFIX}/ui/${script}`, { headers: { "accept-encoding": "gzip, br" } })
    )
    // fetch's Response does not decode here: the bytes are the gzip stream.
    expect(zipped.headers.get("content-encoding")).toBe("gzip")
    expect(zipped.headers.get("vary")).toBe("accept-encoding")
    expect(zipped.headers.get("etag")).not.toBe(plain.headers.get("etag"))
    const bytes = gunzipSync(new Uint8Array(await zipped.arrayBuffer()))
    expect(new Uint8Array(bytes)).toEqual(new Uint8Array(await plain.arrayBuffer()))
  })

  it("answers a missing file under assets/ with a JSON 404, not the app", async () => {
    const res = await get("/ui/assets/nope-12345678.js")
    expect(res.status).toBe(404)
    expect(res.headers.get("content-type")).toContain("application/json")
    expect(await res.json()).toMatchObject({ _tag: "RouteNotFound" })
    // A malformed escape is a JSON client error too, never the app or a 500.
    const malformed = await get("/ui/%E0%A4%A")
    expect([400, 404]).toContain(malformed.status)
    expect(await malformed.json()).toHaveProperty("_tag")
  })

  it("keeps the API and /docs behind authorize while the app's files are public", async () => {
    expect((await get("/ui/")).status).toBe(200)
    expect((await get("/run-rows")).status).toBe(401)
    expect((await get("/docs")).status).toBe(401)
    expect((await get("/run-rows", { authorization: "Bearer wrong" })).status).toBe(401)
    expect((await get("/run-rows", { authorization: `Bearer ${TOKEN}x` })).status).toBe(401)
    expect((await get("/run-rows", { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
    expect((await get("/docs", { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
  })

  it("calls only routes of the read API (the client's paths are the API's)", () => {
    const declared = new Map<string, string>()
    for (const group of Object.values(ReadApi.groups)) {
      for (const endpoint of Object.values(group.endpoints)) declared.set(endpoint.name, endpoint.path)
    }
    for (const [name, path] of Object.entries(paths)) expect({ name, path }).toEqual({ name, path: declared.get(name) })
  })

  it("refuses to start without a built app, naming the build command", () => {
    expect(() => makeDashboard({ store, uiDir: "/nonexistent/ui" })).toThrow(/npm run build:ui/)
    expect(() => Dashboard.bearer("")).toThrow(/authToken/)
  })
})

describe("Dashboard.serve", () => {
  it("serves the app at /ui/ with / redirecting to it; a missing database or a taken port is a clear error", async () => {
    const db = await freshDatabase("sqlite")
    const running = await Dashboard.serve({ databaseUrl: db.url, port: 0, authToken: TOKEN })
    try {
      expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/ui\/$/)
      const root = await fetch(new URL("/", running.url), { redirect: "manual" })
      expect(root.status).toBe(302)
      expect(root.headers.get("location")).toBe("/ui/")
      expect((await fetch(running.url)).status).toBe(200)
      expect((await fetch(new URL("/run-rows", running.url))).status).toBe(401)
      const port = Number(new URL(running.url).port)
      await expect(Dashboard.serve({ databaseUrl: db.url, port })).rejects.toMatchObject({
        _tag: "DashboardError",
        reason: "listen",
        message: expect.stringContaining("EADDRINUSE")
      })
      await expect(Dashboard.serve({ databaseUrl: "sqlite:/nonexistent/x.db", port: 0 })).rejects.toMatchObject({
        _tag: "DatabaseNotFound"
      })
    } finally {
      await running.close()
      await db.drop()
    }
  })
})
