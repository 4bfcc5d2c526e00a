/**
 * The consumer smoke test's app: what a stranger writes after `npm install @sextant/*`. A tiny agent with a
 * tool on a scripted model, recorded to a SQLite file, read back through RunStore and through the read router
 * mounted in Express, with the dashboard's app (its built files shipped in the package) mounted beside it.
 * The app installs only the SQLite driver: a postgres:// URL must fail with `DriverNotInstalled` naming `pg`.
 * Exits non-zero (with the reason) when anything is not as a user expects.
 */
import { makeDashboard } from "@sextant/dashboard"
import { makeReadRouter } from "@sextant/http-router"
import { toNodeHandler } from "@sextant/http-router/node"
import { DriverNotInstalled, SqlRecorder } from "@sextant/recorder"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Ingest, Remote, Trace } from "@sextant/trace"
import { Effect, Either, Layer, Schema } from "effect"
import express from "express"
import { mkdtempSync } from "node:fs"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const check = (ok: boolean, what: string): void => {
  if (!ok) {
    console.error(`consumer smoke test: ${what}`)
    process.exit(1)
  }
}

const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), "sextant-consumer-")), "runs.db")}`
const getWeather = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})
const agent = Agent.makeSync({ name: "weather", instructions: "Be brief.", tools: [getWeather] })
const model = ScriptedModel.layer([
  { toolCalls: [{ name: "get_weather", arguments: { city: "Lisbon" } }], usage: { inputTokens: 10, outputTokens: 5 } },
  { text: "21 °C in Lisbon.", usage: { inputTokens: 20, outputTokens: 6 } }
])

const result = await Effect.runPromise(
  agent.run("Weather in Lisbon?").pipe(Effect.provide(Layer.merge(model, SqlRecorder.layerFromUrl(databaseUrl))))
)
check(
  result.status === "success" && result.answer === "21 °C in Lisbon.",
  `unexpected result ${JSON.stringify(result)}`
)

const store = await RunStore.fromDatabaseUrl(databaseUrl)
const run = await store.getRun(result.runId)
check(run.status === "success" && run.totals.inputTokens === 30, `RunStore returned ${JSON.stringify(run)}`)

// Drivers are optional peers: this app has no `pg`, and a Postgres URL says what to install.
const hasPg = (() => {
  try {
    createRequire(import.meta.url).resolve("pg")
    return true
  } catch {
    return false
  }
})()
check(!hasPg, "pg is installed in the consumer, but drivers are optional peers: nothing should have pulled it in")
const pgUrl = "postgres://app:secret@127.0.0.1:5432/app"
const pgRun = await Effect.runPromise(
  Effect.either(agent.run("Weather?").pipe(Effect.provide(Layer.merge(model, SqlRecorder.layerFromUrl(pgUrl)))))
)
check(
  Either.isLeft(pgRun) && pgRun.left instanceof DriverNotInstalled &&
    pgRun.left.message.includes("npm install pg @effect/sql-pg"),
  `a postgres:// URL without pg gave ${JSON.stringify(Either.isLeft(pgRun) ? pgRun.left : pgRun)}`
)
const pgStore = await RunStore.fromDatabaseUrl(pgUrl).then(() => undefined, (e: unknown) => e)
check(
  (pgStore as { _tag?: string } | undefined)?._tag === "DriverNotInstalled",
  `RunStore on a postgres:// URL without pg gave ${String(pgStore)}`
)

const router = makeReadRouter({ store, authorize: () => ({ subject: "smoke" }) })
const app = express()
app.use("/api/sextant", toNodeHandler(router))
const server = app.listen(0, "127.0.0.1")

await new Promise<void>((resolve) => server.once("listening", resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sextant`
const res = await fetch(`${base}/runs/${result.runId}/events`)
const body = (await res.json()) as { items?: ReadonlyArray<{ eventType: string }> }
check(res.status === 200, `GET /runs/:id/events answered ${res.status}`)
check(body.items?.at(-1)?.eventType === "run.completed", `unexpected events ${JSON.stringify(body).slice(0, 300)}`)

// The dashboard: the same router with the app at /ui/, its built files served from the installed package.
const dashboard = makeDashboard({ store, authorize: () => ({ subject: "smoke" }) })
app.use("/admin/sextant", toNodeHandler(dashboard))
const ui = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/sextant/ui/`
const index = await fetch(ui)
const html = await index.text()
check(
  index.status === 200 && index.headers.get("content-type") === "text/html; charset=utf-8",
  `GET ${ui} answered ${index.status}`
)
const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1]
check(script !== undefined, `the dashboard's index.html names no script: ${html.slice(0, 300)}`)
const asset = await fetch(new URL(script!, ui))
check(
  asset.status === 200 && asset.headers.get("content-type") === "text/javascript; charset=utf-8" &&
    asset.headers.get("cache-control") === "public, max-age=31536000, immutable" && (await asset.text()).length > 1000,
  `GET ${script} answered ${asset.status} ${asset.headers.get("content-type")}`
)
const rows = await fetch(new URL("../run-rows", ui))
check(rows.status === 200, `GET /admin/sextant/run-rows answered ${rows.status}`)

// An agent not built on the loop, traced from "another process" through the ingest endpoint mounted in Express.
const ingest = await Ingest.fromLayer(SqlRecorder.layerFromUrl(databaseUrl, { haltRuns: false }), {
  authorize: Ingest.apiKeys({ "smoke-key": "smoke" }),
  prefix: "/ingest"
})
app.use("/ingest", ingest.node)
const tracer = Trace.make(
  Remote.layer({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`, apiKey: "smoke-key" })
)
const tracedId = await tracer.run("outside-agent", { tenantId: "smoke", input: "hi" }, async (traced) => {
  await traced.tool("lookup", { id: 1 }, () => ({ ok: true }))
  return traced.runId
})
await tracer.close()
const traced = await store.getRun(tracedId)
check(traced.status === "success" && traced.tenantId === "smoke", `traced run read back as ${JSON.stringify(traced)}`)
await ingest.close()
server.close()
await dashboard.dispose()
await router.dispose()
await store.close()
console.log(
  `consumer smoke test: run ${result.runId} recorded, read through RunStore, Express and the dashboard; ` +
    "postgres:// without pg: DriverNotInstalled"
)
