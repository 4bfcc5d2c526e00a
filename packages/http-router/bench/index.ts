/**
 * The read side on 100,000 runs (8 events each), seeded once per dialect (`seed.ts`):
 * - `listRuns` (a status + tenant filter, and unfiltered) and `getEvents` through the RunStore's Promise client,
 *   against the same statements on the bare driver without decoding (`driver.ts`), alternating call by call;
 * - where an unfiltered `GET /runs?limit=50` spends its time (the page, the count as the store compiles it, the
 *   count without `WHERE 1=1`, the store call, the HTTP request);
 * - `GET /runs?limit=50` (and filtered) through `toNodeHandler` on node:http, against a bare node:http handler
 *   running the same prepared queries and serialising the same JSON (checked equal), and one returning the same
 *   bytes from memory, all driven by autocannon in its own process, in alternating rounds.
 */
import { Database, Migrations } from "@sextant/recorder"
import { RunStore, type RunStoreClient } from "@sextant/store"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Http from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { isDeepStrictEqual } from "node:util"
import {
  alternate,
  type Config,
  logRound,
  type Measured,
  num,
  quantile,
  rateRatio,
  ratioText,
  roundsFromEnv,
  sig,
  spread,
  startClocks,
  stats,
  table
} from "../../../bench/measure.js"
import { type BenchSection, type Figure, rateFigure } from "../../../bench/section.js"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { makeReadRouter } from "../src/index.js"
import { toNodeHandler } from "../src/node.js"
import { type Driver, type Filter, pgDriver, pgPool, runPage, sqliteDriver } from "./driver.js"
import { RUNS, seedPg, seedSqlite, TENANTS } from "./seed.js"

const SAMPLES = Number(process.env.BENCH_STORE_SAMPLES ?? 1000)
const HTTP_SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 2)
const HTTP_ROUNDS = roundsFromEnv(3)
const BLOCKS = 5
const require = createRequire(import.meta.url)

/** Latencies of one operation measured alternately with others. */
interface Sampled {
  readonly p50: number
  readonly p99: number
  /** CPU ms per call. */
  readonly cpu: number
  /** p50 of each fifth of the samples, for the spread of a ratio. */
  readonly blocks: ReadonlyArray<number>
}

/** Calls the operations in turn (A B C A B C …), `SAMPLES` times each after a warm-up; p50/p99, CPU per call. */
const sample = async (ops: Record<string, () => Promise<unknown>>, samples = SAMPLES) => {
  const names = Object.keys(ops)
  for (let i = 0; i < Math.min(200, samples); i++) for (const n of names) await ops[n]!()
  const lat = Object.fromEntries(names.map((n) => [n, [] as Array<number>]))
  const cpu = Object.fromEntries(names.map((n) => [n, 0]))
  for (let i = 0; i < samples; i++) {
    for (const n of names) {
      const clocks = startClocks()
      await ops[n]!()
      const { cpuMs, wallMs } = clocks.stop()
      lat[n]!.push(wallMs)
      cpu[n]! += cpuMs
    }
  }
  return Object.fromEntries(names.map((n): [string, Sampled] => {
    const xs = lat[n]!
    const sorted = [...xs].sort((a, b) => a - b)
    const size = Math.floor(xs.length / BLOCKS)
    const blocks = Array.from(
      { length: BLOCKS },
      (_, b) => quantile([...xs.slice(b * size, (b + 1) * size)].sort((x, y) => x - y), 0.5)
    )
    return [n, { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), cpu: cpu[n]! / samples, blocks }]
  }))
}

/** `a.p50 / b.p50`, with the spread of the per-block ratios. */
const p50Ratio = (a: Sampled, b: Sampled) => {
  const per = stats(a.blocks.map((x, i) => x / b.blocks[i]!))
  return { value: a.p50 / b.p50, min: per.min, max: per.max }
}

interface Cannon {
  readonly requests: number
  readonly seconds: number
  readonly p50: number
  readonly p99: number
}

/** autocannon in its own process: 10 connections for `seconds`. */
const autocannon = (url: string, seconds: number) =>
  new Promise<Cannon>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve("autocannon/autocannon.js"), "-c", "10", "-d", String(seconds), "-j", url],
      { stdio: ["ignore", "pipe", "ignore"] }
    )
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", () => {
      try {
        const r = JSON.parse(out) as {
          requests: { total: number }
          latency: { p50: number; p99: number }
          duration: number
          non2xx: number
          errors: number
        }
        if (r.non2xx > 0 || r.errors > 0) reject(new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`))
        else resolve({ requests: r.requests.total, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99 })
      } catch (e) {
        reject(e)
      }
    })
  })

const listen = (handler: Http.RequestListener) =>
  new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    const server = Http.createServer(handler)
    server.keepAliveTimeout = 60_000
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())))
      }))
  })

const ROUTES: ReadonlyArray<readonly [string, Filter]> = [
  ["/runs?limit=50", {}],
  ["/runs?limit=50&status=error&tenantId=t3", { status: "error", tenantId: "t3" }]
]

/** The bare handler: the same two queries (in parallel, as the store runs them), the same JSON. */
const bareHandler = (driver: Driver): Http.RequestListener => (req, res) => {
  const url = new URL(req.url ?? "/", "http://x")
  const status = url.searchParams.get("status")
  const tenantId = url.searchParams.get("tenantId")
  const filter: Filter = status === null || tenantId === null ? {} : { status, tenantId }
  Promise.all([driver.page(filter), driver.count(filter)]).then(([rows, total]) => {
    const body = JSON.stringify(runPage(rows, total))
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  }, (e) => {
    res.writeHead(500)
    res.end(String(e))
  })
}

interface HttpRow {
  readonly path: string
  readonly router: Measured
  readonly bare: Measured
  readonly staticBytes: Measured
  readonly latency: Record<string, { p50: number; p99: number }>
  readonly bytes: number
  readonly same: boolean
}

const httpBench = async (store: RunStoreClient, driver: Driver): Promise<ReadonlyArray<HttpRow>> => {
  const router = makeReadRouter({ store })
  const routed = await listen(toNodeHandler(router))
  const bare = await listen(bareHandler(driver))
  const out: Array<HttpRow> = []
  try {
    for (const [path] of ROUTES) {
      const bytes = Buffer.from(await (await fetch(routed.url + path)).arrayBuffer())
      const bareBody = await (await fetch(bare.url + path)).json()
      const same = isDeepStrictEqual(JSON.parse(bytes.toString("utf8")), bareBody)
      const fixed = await listen((_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length })
        res.end(bytes)
      })
      const latency: Record<string, Array<Cannon>> = { router: [], bare: [], static: [] }
      const cannon = (name: string, url: string): Config<undefined> => ({
        name,
        run: async () => {
          const clocks = startClocks()
          const r = await autocannon(url + path, HTTP_SECONDS)
          const { cpuMs } = clocks.stop()
          latency[name]!.push(r)
          return { units: r.requests, wallMs: r.seconds * 1000, cpuMs }
        }
      })
      // A short unmeasured warm-up of each server, then alternating rounds.
      for (const url of [routed.url, bare.url, fixed.url]) await autocannon(url + path, 1)
      const m = await alternate([cannon("router", routed.url), cannon("bare", bare.url), cannon("static", fixed.url)], {
        rounds: HTTP_ROUNDS,
        warmup: 0,
        onRound: logRound("http")
      })
      await fixed.close()
      const med = (rs: Array<Cannon>) => ({
        p50: stats(rs.map((r) => r.p50)).median,
        p99: stats(rs.map((r) => r.p99)).median
      })
      out.push({
        path,
        router: m.router!,
        bare: m.bare!,
        staticBytes: m.static!,
        latency: { router: med(latency.router!), bare: med(latency.bare!), static: med(latency.static!) },
        bytes: bytes.length,
        same
      })
    }
  } finally {
    await routed.close()
    await bare.close()
    await router.dispose()
  }
  return out
}

interface DialectResult {
  readonly name: string
  readonly seedSeconds: number
  readonly reads: Record<string, Sampled>
  readonly breakdown: Record<string, Sampled>
  readonly http: ReadonlyArray<HttpRow>
}

const measureDialect = async (name: string, url: string, driver: Driver, seedSeconds: number) => {
  const store = await RunStore.fromDatabaseUrl(url)
  try {
    let n = 0
    const tenant = () => `t${n++ % TENANTS}`
    const runId = () => `run-${String(Math.floor(Math.random() * RUNS)).padStart(7, "0")}`
    const filtered = (t: string): Filter => ({ status: "error", tenantId: t })
    console.log(`  ${name}: store vs driver`)
    const reads = await sample({
      "store listRuns filtered": () => store.listRuns({ status: "error", tenantId: tenant(), limit: 50 }),
      "driver listRuns filtered": () => {
        const f = filtered(tenant())
        return Promise.all([driver.page(f), driver.count(f)])
      },
      "store listRuns unfiltered": () => store.listRuns({ limit: 50 }),
      "driver listRuns unfiltered": () => Promise.all([driver.page({}), driver.count({})]),
      "store getEvents": () => store.getEvents(runId(), { limit: 100 }),
      "driver getEvents": () => driver.events(runId())
    })
    // Where one unfiltered request goes, each piece on its own (sequential; keep-alive for HTTP).
    const router = makeReadRouter({ store })
    const server = await listen(toNodeHandler(router))
    let breakdown: Record<string, Sampled>
    try {
      breakdown = await sample({
        "HTTP GET /runs?limit=50": () => fetch(`${server.url}/runs?limit=50`).then((r) => r.arrayBuffer()),
        "store listRuns": () => store.listRuns({ limit: 50 }),
        "page query (driver)": () => driver.page({}),
        "count as the store compiles it (`WHERE 1=1`)": () => driver.countWhereTrue(),
        "count without WHERE": () => driver.count({})
      }, Math.min(SAMPLES, 400))
    } finally {
      await server.close()
      await router.dispose()
    }
    console.log(`  ${name}: HTTP`)
    const http = await httpBench(store, driver)
    return { name, seedSeconds, reads, breakdown, http }
  } finally {
    await store.close()
  }
}

const ms = (x: number) => sig(x)

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const results: Array<DialectResult> = []

  const dir = createTempDir()
  try {
    const file = `${dir.path}/bench.db`
    const url = `sqlite:${file}`
    await Effect.runPromise(Effect.orDie(Effect.provide(Effect.void, Database.layerFromUrl(url))))
    const started = performance.now()
    seedSqlite(file)
    const seconds = (performance.now() - started) / 1000
    const driver = sqliteDriver(file)
    try {
      results.push(await measureDialect("SQLite", url, driver, seconds))
    } finally {
      await driver.close()
    }
  } finally {
    dir.remove()
  }

  const db = await createPgDatabase()
  const pool = pgPool(db.url)
  try {
    await Effect.runPromise(Effect.orDie(Effect.provide(Migrations.run, Database.layerFromUrl(db.url))))
    const started = performance.now()
    await seedPg(pool)
    const seconds = (performance.now() - started) / 1000
    results.push(await measureDialect("Postgres", db.url, pgDriver(pool), seconds))
  } finally {
    await pool.end()
    await db.drop()
  }

  const figures: Array<Figure> = []
  const readRows = results.flatMap((r) =>
    (["listRuns filtered", "listRuns unfiltered", "getEvents"] as const).map((q) => {
      const s = r.reads[`store ${q}`]!
      const d = r.reads[`driver ${q}`]!
      const ratio = p50Ratio(s, d)
      const short = r.name === "SQLite" ? "sqlite" : "postgres"
      figures.push({
        name: q === "listRuns filtered" ? `listRuns ${short} vs driver` : `${q} ${short} vs driver`,
        value: s.p50,
        unit: "ms p50 per call",
        ratio: ratio.value,
        cpuRatio: s.cpu / d.cpu,
        baseline: "the same statements on the bare driver, without decoding",
        spread: [ratio.min, ratio.max],
        ...(q === "listRuns filtered" ? { target: { of: "ratio", max: short === "sqlite" ? 1.3 : 1.2 } as const } : {})
      })
      const label = q === "listRuns filtered"
        ? "listRuns (status + tenant, 50 + total)"
        : q === "listRuns unfiltered"
        ? "listRuns (unfiltered, 50 + total)"
        : "getEvents (a run's 8 events)"
      return [
        r.name,
        label,
        `${ms(s.p50)} / ${ms(s.p99)}`,
        `${ms(d.p50)} / ${ms(d.p99)}`,
        `**${num(ratio.value, 2)}×** (${num(ratio.min, 2)}–${num(ratio.max, 2)})`,
        `${num(s.p99 / d.p99, 2)}×`,
        `${sig(s.cpu * 1000)} / ${sig(d.cpu * 1000)} µs`
      ]
    })
  )
  const breakdownRows = results.flatMap((r) => {
    const request = r.breakdown["HTTP GET /runs?limit=50"]!
    return Object.entries(r.breakdown).map(([label, s]) => [
      r.name,
      label,
      ms(s.p50),
      `${sig(s.cpu * 1000)} µs`,
      label.startsWith("HTTP") ? "100%" : `${num((100 * s.p50) / request.p50, 0)}%`
    ])
  })
  const httpRows = results.flatMap((r) =>
    r.http.map((h) => {
      const vsBare = rateRatio(h.router, h.bare)
      const vsStatic = rateRatio(h.router, h.staticBytes)
      const short = r.name === "SQLite" ? "sqlite" : "postgres"
      const filteredRoute = h.path.includes("status")
      figures.push(rateFigure(h.router, h.bare, {
        name: `router vs bare handler same queries${short === "sqlite" ? "" : " postgres"}${
          filteredRoute ? " filtered" : ""
        }`,
        unit: "requests/s, 10 connections",
        baseline: "bare node:http handler running the same prepared queries and serialising the same JSON",
        ...(short === "sqlite" && !filteredRoute ? { target: { of: "ratio", min: 0.7 } as const } : {})
      }))
      if (!filteredRoute) {
        figures.push(rateFigure(h.router, h.staticBytes, {
          name: `router vs static bytes ${short}`,
          unit: "requests/s, 10 connections",
          baseline: "node:http handler returning the same bytes from memory"
        }))
      }
      return [
        r.name,
        `\`${h.path}\``,
        spread(h.router.rate),
        spread(h.bare.rate),
        `**${ratioText(vsBare)}**`,
        spread(h.staticBytes.rate),
        ratioText(vsStatic, 3),
        `${sig(h.router.cpu.median * 1000)} / ${sig(h.bare.cpu.median * 1000)} / ${
          sig(h.staticBytes.cpu.median * 1000)
        } µs`,
        `${h.latency.router!.p99} / ${h.latency.bare!.p99} / ${h.latency.static!.p99} ms`,
        `${h.bytes}${h.same ? "" : " (**bodies differ**)"}`
      ]
    })
  )
  const seeded = results.map((r) => `${r.name} ${r.seedSeconds.toFixed(1)} s`).join(", ")
  return [
    {
      title: `RunStore reads on ${RUNS.toLocaleString("en-US")} runs`,
      markdown: [
        `${RUNS.toLocaleString("en-US")} runs × 8 events, ${TENANTS} tenants, seeded with raw \`INSERT … SELECT\` ` +
        `(${seeded}). ${SAMPLES} calls of each operation after 200 warm-up calls, all operations alternating call by ` +
        "call. Store = the Promise client (`RunStore.fromDatabaseUrl`), decoding every row with Schema; driver = " +
        "the same statements (the unfiltered count without `WHERE 1=1`) on better-sqlite3 / node-postgres, prepared " +
        "once, without decoding. Ratio = store p50 ÷ driver p50 (1× = no overhead), with the min–max of the same " +
        "ratio over each fifth of the samples; CPU is `process.cpuUsage` per call.",
        "",
        table(
          [
            "dialect",
            "query",
            "store p50 / p99 ms",
            "driver p50 / p99 ms",
            "ratio p50",
            "ratio p99",
            "CPU per call store / driver"
          ],
          readRows,
          "|---|---|---:|---:|---:|---:|---:|"
        ),
        "",
        "**Where an unfiltered `GET /runs?limit=50` goes** (each piece on its own, alternating, sequential; p50; " +
        "the last column is the piece's p50 as a share of the whole request's):",
        "",
        table(
          ["dialect", "piece", "p50 ms", "CPU per call", "share of the request"],
          breakdownRows,
          "|---|---|---:|---:|---:|"
        )
      ].join("\n")
    },
    {
      title: "Read router throughput",
      markdown: [
        "`GET /runs?limit=50` (50 runs + the total over all runs) and the same with a status + tenant filter, through " +
        "`toNodeHandler` (`@sextant/http-router/node`) on node:http (no `authorize`), against (a) the baseline: a " +
        "bare node:http handler running the same prepared queries (page and count in parallel, as the store does) " +
        "and serialising the same JSON by hand (its body is checked equal to the router's), and (b) a handler " +
        `returning the router's bytes from memory. autocannon in its own process, 10 connections, ${HTTP_SECONDS} s ` +
        `a round, ${HTTP_ROUNDS} rounds alternating after a 1 s warm-up each, loopback, on the same two cores as ` +
        "the server. CPU is the server process's `process.cpuUsage` per request (autocannon's own is not counted); " +
        "latency is autocannon's p99.",
        "",
        table(
          [
            "dialect",
            "request",
            "router req/s",
            "(a) bare, same queries req/s",
            "router vs (a)",
            "(b) static req/s",
            "router vs (b)",
            "CPU per request router / (a) / (b)",
            "p99 latency router / (a) / (b)",
            "body bytes"
          ],
          httpRows,
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        )
      ].join("\n"),
      figures
    }
  ]
}
