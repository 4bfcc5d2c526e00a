/**
 * The read router in a Hono app (on @hono/node-server), mounted under /api/sextant with a bearer-token authorize.
 * Records one scripted run into a temporary SQLite database, serves, asks itself for the run list, prints
 * the answer and exits. Run: node --conditions=@sextant/source --import tsx examples/07-router-hono/main.ts
 */
import { serve } from "@hono/node-server"
import { makeReadRouter, toWebHandler, unauthorized } from "@sextant/http-router"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Effect, Layer } from "effect"
import { Hono } from "hono"
import { mkdtempSync, rmSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const directory = mkdtempSync(join(tmpdir(), "sextant-07-"))
const databaseUrl = `sqlite:${join(directory, "runs.db")}`

// 1. Record a run (a scripted model stands in for a vendor, so no API key is needed).
const agent = Agent.makeSync({ name: "greeter", instructions: "Greet the user." })
await Effect.runPromise(
  agent.run("Hello!", { tenantId: "acme" }).pipe(
    Effect.provide(Layer.merge(ScriptedModel.layer([{ text: "Hi there!" }]), SqlRecorder.layerFromUrl(databaseUrl)))
  )
)

// 2. Mount the read router under /api/sextant; the token decides who reads and which tenant they see.
const store = await RunStore.fromDatabaseUrl(databaseUrl)
const router = makeReadRouter({
  store,
  authorize: (request) =>
    request.headers.authorization === "Bearer acme-token" ? { subject: "acme-app", tenantId: "acme" } : unauthorized()
})
const app = new Hono()
app.get("/", (c) => c.text("the host app\n"))
// Hono speaks Fetch: the Web handler takes the raw Request (the same handler serves Bun, Deno and Workers).
const sextant = toWebHandler(router, { prefix: "/api/sextant" })
app.all("/api/sextant/*", (c) => sextant(c.req.raw))
const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s))
})
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sextant`

// 3. Ask ourselves.
const res = await fetch(`${base}/runs?limit=5`, { headers: { authorization: "Bearer acme-token" } })
console.log(`GET /api/sextant/runs?limit=5 -> ${res.status}`)
console.log(JSON.stringify(await res.json(), null, 2))
const denied = await fetch(`${base}/runs`)
console.log(`without a token -> ${denied.status} ${await denied.text()}`)

server.close()
await router.dispose()
await store.close()
rmSync(directory, { recursive: true, force: true })
