/**
 * The read router in an Express 5 app, mounted under /api/sextant with a bearer-token authorize.
 * Records one scripted run into a temporary SQLite database, serves, asks itself for the run list, prints
 * the answer and exits. Run: node --conditions=@sextant/source --import tsx examples/05-router-express/main.ts
 */
import { makeReadRouter, unauthorized } from "@sextant/http-router"
import { toNodeHandler } from "@sextant/http-router/node"
import { SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Effect, Layer } from "effect"
import express from "express"
import { mkdtempSync, rmSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const directory = mkdtempSync(join(tmpdir(), "sextant-05-"))
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
const app = express()
app.get("/", (_req, res) => void res.send("the host app\n"))
// Express strips the mount path, so the handler needs no prefix.
app.use("/api/sextant", toNodeHandler(router))
const server = app.listen(0, "127.0.0.1")
await new Promise<void>((resolve) => server.once("listening", resolve))
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
