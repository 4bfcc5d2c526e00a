/**
 * The dashboard mounted at `/api/sextant` in node:http, Fastify and Hono (Express is the browser suite's host):
 * the same files, deep links, redirects and API on each, and the app itself working in Chromium on each.
 */
import { serve as honoServe } from "@hono/node-server"
import { toWebHandler } from "@sextant/http-router"
import { toNodeHandler } from "@sextant/http-router/node"
import { RunStore, type RunStoreClient } from "@sextant/store"
import Fastify from "fastify"
import { Hono } from "hono"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Dashboard, makeDashboard } from "../src/index.js"
import { freshDatabase, launch, recorderOf, seed, type Seeded, signedInPage, TOKEN } from "./support.js"

const PREFIX = "/api/sextant"

type Router = ReturnType<typeof makeDashboard>
type Started = { readonly base: string; readonly close: () => Promise<void> }

const listen = (server: Http.Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  )
const stop = (server: Http.Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

const hosts: ReadonlyArray<{ readonly name: string; readonly start: (router: Router) => Promise<Started> }> = [
  {
    name: "node:http",
    start: async (router) => {
      const handle = toNodeHandler(router, { prefix: PREFIX })
      const server = Http.createServer((req, res) =>
        req.url?.startsWith(PREFIX) ? handle(req, res) : void res.writeHead(404).end()
      )
      return { base: (await listen(server)) + PREFIX, close: () => stop(server) }
    }
  },
  {
    name: "fastify",
    start: async (router) => {
      const app = Fastify()
      const handle = toNodeHandler(router, { prefix: PREFIX })
      for (const path of [PREFIX, `${PREFIX}/*`]) {
        app.all(path, (request, reply) => {
          reply.hijack()
          handle(request.raw, reply.raw)
        })
      }
      return { base: (await app.listen({ port: 0, host: "127.0.0.1" })) + PREFIX, close: () => app.close() }
    }
  },
  {
    name: "hono",
    start: async (router) => {
      const app = new Hono()
      const handle = toWebHandler(router, { prefix: PREFIX })
      app.all(`${PREFIX}/*`, (c) => handle(c.req.raw))
      app.all(PREFIX, (c) => handle(c.req.raw))
      const server = await new Promise<Http.Server>((resolve) => {
        const s = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Http.Server))
      })
      return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX}`, close: () => stop(server) }
    }
  }
]

describe("the dashboard mounted at /api/sextant in node:http, Fastify and Hono", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  let recorder: ReturnType<typeof recorderOf>
  let seeded: Seeded
  let store: RunStoreClient
  let router: Router
  let browser: Awaited<ReturnType<typeof launch>>

  beforeAll(async () => {
    db = await freshDatabase("sqlite")
    recorder = recorderOf(db.url)
    seeded = await recorder.runPromise(seed())
    store = await RunStore.fromDatabaseUrl(db.url)
    router = makeDashboard({ store, authorize: Dashboard.bearer(TOKEN) })
    browser = await launch()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await router?.dispose()
    await store?.close()
    await recorder?.dispose()
    await db?.drop()
  })

  for (const host of hosts) {
    it(`${host.name}: files, deep links and the redirect resolve under the mount; the app lists and opens runs`, async () => {
      const { base, close } = await host.start(router)
      try {
        const redirect = await fetch(`${base}/ui`, { redirect: "manual" })
        expect(redirect.status).toBe(302)
        expect(new URL(redirect.headers.get("location")!, `${base}/ui`).pathname).toBe(`${PREFIX}/ui/`)
        const index = await fetch(`${base}/ui/`)
        const html = await index.text()
        expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8")
        const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)![1]!
        const asset = await fetch(`${base}/ui/${script}`)
        expect(asset.status).toBe(200)
        expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
        expect(await (await fetch(`${base}/ui/runs/${seeded.weather}`)).text()).toContain("<base href=\"../\" />")
        expect((await fetch(`${base}/run-rows`)).status).toBe(401)

        const page = await signedInPage(browser.context, `${base}/ui/runs/${seeded.weather}`)
        try {
          await page.locator("ol.timeline li[data-node-type=end]").waitFor()
          await page.locator("a", { hasText: "← Runs" }).click()
          await page.waitForURL(`${base}/ui/`)
          await page.locator(`tr[data-run-id="${seeded.parent}"]`).waitFor()
          expect(await page.locator(".mount").textContent()).toBe(`${PREFIX}/`)
        } finally {
          await page.close()
        }
      } finally {
        await close()
      }
    })
  }
})
