/**
 * Read-side benchmark on 100,000 runs (8 events each), seeded once per dialect with raw `INSERT … SELECT`:
 * - RunStore `listRuns` (status + tenant filter, page of 50 with its total) and `getEvents` (a run's events):
 *   p50/p99 through the Promise client, against the same SQL statements run directly on the driver
 *   (better-sqlite3 / node-postgres) with no decoding.
 * - `GET /runs?limit=50` through the Node handler against a bare node:http handler returning the same JSON
 *   bytes, both driven by autocannon (10 connections, separate process) on loopback.
 */
import { Database, Migrations } from "@sextant/recorder"
import { RunStore, type RunStoreClient } from "@sextant/store"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as Http from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import pg from "pg"
import { createPgDatabase, createTempDir } from "../../../test-support/databases.js"
import { makeReadRouter } from "../src/index.js"
import { toNodeHandler } from "../src/node.js"

/** A section of BENCHMARKS.md (the shape `bench/section.ts` declares). */
interface BenchSection {
  readonly title: string
  readonly markdown: string
}

const RUNS = Number(process.env.BENCH_STORE_RUNS ?? 100_000)
const EVENTS_PER_RUN = 8
const TENANTS = 20
const SAMPLES = Number(process.env.BENCH_STORE_SAMPLES ?? 1000)
const HTTP_SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 5)

const require = createRequire(import.meta.url)
interface SqliteStatement {
  all: (...params: ReadonlyArray<unknown>) => Array<unknown>
  run: (...params: ReadonlyArray<unknown>) => unknown
}
interface SqliteDb {
  prepare: (sql: string) => SqliteStatement
  transaction: (f: () => void) => () => void
  close: () => void
}
const BetterSqlite = require("better-sqlite3") as new(file: string, options?: { readonly?: boolean }) => SqliteDb

// Seeding in SQL (one INSERT … SELECT per table): tenants by i % TENANTS, statuses by (i / TENANTS) % 10 (7 success, error,
// running, cancelled), one second between runs, 8 events per run.
const statusSql =
  `CASE (i / ${TENANTS}) % 10 WHEN 7 THEN 'error' WHEN 8 THEN 'running' WHEN 9 THEN 'cancelled' ELSE 'success' END`
const eventTypeSql = `CASE s ${
  [
    "run.started",
    "message.appended",
    "llm.started",
    "llm.completed",
    "tool.started",
    "tool.completed",
    "message.appended",
    "run.completed"
  ]
    .map((t, k) => `WHEN ${k} THEN '${t}'`).join(" ")
} END`
const eventData = JSON.stringify({
  text: "The weather in Lisbon is sunny, 21 degrees.",
  usage: { inputTokens: 50, outputTokens: 12 }
})
const runInsert =
  `INSERT INTO agent_runs (id, tenant_id, agent_name, status, input, instructions, answer, model, provider,
  delegation_level, iteration_count, total_input_tokens, total_output_tokens, total_cost_usd, model_call_count,
  unpriced_call_count, metadata, cancel_requested, last_sequence_index, created_at, updated_at, last_progress_at, finished_at)`
const eventInsert =
  "INSERT INTO run_events (agent_run_id, sequence_index, event_type, iteration, correlation_id, data, created_at)"

const seedSqlite = (file: string) => {
  const db = new BetterSqlite(file)
  const ts = (offset: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i${offset}, 'unixepoch')`
  db.transaction(() => {
    db.prepare(`${runInsert} WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${RUNS - 1})
      SELECT printf('run-%07d', i), 't' || (i % ${TENANTS}), 'agent-' || (i % 7), ${statusSql}, 'What is the weather?',
        'You answer weather questions.', 'It is sunny.', 'gpt-bench', 'openai', 0, 2, 130, 21, 0.003, 2, 0,
        json_object('team', CASE i % 2 WHEN 0 THEN 'red' ELSE 'blue' END, 'customer', 'c' || (i % 1000)), 0, ${
      EVENTS_PER_RUN - 1
    },
        ${ts("")}, ${ts("")}, ${ts("")}, ${ts("")} FROM n`).run()
    db.prepare(`${eventInsert} WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${RUNS - 1}),
      k(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM k WHERE s < ${EVENTS_PER_RUN - 1})
      SELECT printf('run-%07d', i), s, ${eventTypeSql}, CASE WHEN s < 2 THEN 0 ELSE 1 END,
        CASE WHEN s BETWEEN 2 AND 5 THEN 'corr-' || i || '-' || s END, '${eventData}',
        strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i + s / 1000.0, 'unixepoch') FROM n, k ORDER BY 1, 2`).run()
  })()
  db.prepare("ANALYZE").run()
  db.close()
}

const seedPg = async (pool: pg.Pool) => {
  const at = "timestamptz '2026-01-01T00:00:00Z' + i * interval '1 second'"
  await pool.query(`${runInsert}
    SELECT 'run-' || lpad(i::text, 7, '0'), 't' || (i % ${TENANTS}), 'agent-' || (i % 7), ${statusSql}, 'What is the weather?',
      'You answer weather questions.', 'It is sunny.', 'gpt-bench', 'openai', 0, 2, 130, 21, 0.003, 2, 0,
      jsonb_build_object('team', CASE i % 2 WHEN 0 THEN 'red' ELSE 'blue' END, 'customer', 'c' || (i % 1000)), false,
      ${EVENTS_PER_RUN - 1}, ${at}, ${at}, ${at}, ${at} FROM generate_series(0, ${RUNS - 1}) AS i`)
  await pool.query(`${eventInsert}
    SELECT 'run-' || lpad(i::text, 7, '0'), s, ${eventTypeSql}, CASE WHEN s < 2 THEN 0 ELSE 1 END,
      CASE WHEN s BETWEEN 2 AND 5 THEN 'corr-' || i || '-' || s END, '${eventData}'::jsonb, ${at} + s * interval '1 millisecond'
    FROM generate_series(0, ${RUNS - 1}) AS i, generate_series(0, ${EVENTS_PER_RUN - 1}) AS s ORDER BY 1, 2`)
  // What autovacuum does on a live database: statistics and the visibility map (index-only scans for COUNT).
  await pool.query("VACUUM ANALYZE agent_runs")
  await pool.query("VACUUM ANALYZE run_events")
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

/** p50/p99 of two operations measured alternately. */
const compare = async (store: () => Promise<unknown>, driver: () => Promise<unknown>) => {
  for (let i = 0; i < Math.min(200, SAMPLES); i++) {
    await store()
    await driver()
  }
  const a: Array<number> = []
  const b: Array<number> = []
  for (let i = 0; i < SAMPLES; i++) {
    let t = performance.now()
    await store()
    a.push(performance.now() - t)
    t = performance.now()
    await driver()
    b.push(performance.now() - t)
  }
  a.sort((x, y) => x - y)
  b.sort((x, y) => x - y)
  return { store: [percentile(a, 0.5), percentile(a, 0.99)], driver: [percentile(b, 0.5), percentile(b, 0.99)] }
}

const summarySelect = (pgDialect: boolean) =>
  `SELECT id, agent_name, status, tenant_id, model, provider, parent_run_id, retry_of_run_id, delegation_level,
  iteration_count, total_input_tokens, total_output_tokens, total_cache_read_tokens, total_cache_write_tokens,
  total_reasoning_tokens, total_cost_usd, model_call_count, unpriced_call_count, ${
    pgDialect ? "metadata::text AS metadata" : "metadata"
  },
  created_at, updated_at, finished_at FROM agent_runs`
const eventSelect = (pgDialect: boolean) =>
  `SELECT agent_run_id, sequence_index, event_type, iteration, correlation_id, ${
    pgDialect ? "data::text AS data" : "data"
  }, created_at
  FROM run_events`

interface Driver {
  readonly listRuns: (tenant: string) => Promise<unknown>
  readonly getEvents: (runId: string) => Promise<unknown>
}

const sqliteDriver = (file: string): Driver & { close: () => void } => {
  const db = new BetterSqlite(file, { readonly: true })
  const page = db.prepare(
    `${summarySelect(false)} WHERE tenant_id = ? AND status IN (?) ORDER BY created_at DESC, id DESC LIMIT ?`
  )
  const count = db.prepare("SELECT COUNT(*) AS n FROM agent_runs WHERE tenant_id = ? AND status IN (?)")
  const events = db.prepare(
    `${eventSelect(false)} WHERE agent_run_id = ? AND sequence_index > ? ORDER BY sequence_index LIMIT ?`
  )
  return {
    listRuns: async (tenant) => [page.all(tenant, "error", 51), count.all(tenant, "error")],
    getEvents: async (runId) => events.all(runId, -1, 100),
    close: () => db.close()
  }
}

const pgDriver = (pool: pg.Pool): Driver => ({
  listRuns: async (tenant) => [
    await pool.query(
      `${summarySelect(true)} WHERE status IN ($1) AND tenant_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
      [
        "error",
        tenant,
        51
      ]
    ),
    await pool.query("SELECT COUNT(*) AS n FROM agent_runs WHERE status IN ($1) AND tenant_id = $2", ["error", tenant])
  ],
  getEvents: async (runId) =>
    pool.query(
      `${eventSelect(true)} WHERE agent_run_id = $1 AND sequence_index > $2 ORDER BY sequence_index LIMIT $3`,
      [runId, -1, 100]
    )
})

/** Requests per second autocannon (in its own process) gets from a URL. */
const autocannon = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [
      require.resolve("autocannon/autocannon.js"),
      "-c",
      "10",
      "-d",
      String(HTTP_SECONDS),
      "-j",
      url
    ], {
      stdio: ["ignore", "pipe", "ignore"]
    })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    child.on("error", reject)
    child.on("close", () => {
      try {
        const result = JSON.parse(out) as { requests: { average: number }; non2xx: number; errors: number }
        if (result.non2xx > 0 || result.errors > 0) {
          reject(new Error(`autocannon saw ${result.non2xx} non-2xx and ${result.errors} errors`))
        } else resolve(result.requests.average)
      } catch (e) {
        reject(e)
      }
    })
  })

const listen = (handler: Http.RequestListener) =>
  new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    const server = Http.createServer(handler)
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((r) => server.close(() => r()))
      }))
  })

const ROUTES = ["/runs?limit=50", "/runs?limit=50&status=error&tenantId=t3"]

const throughput = async (store: RunStoreClient) => {
  const router = makeReadRouter({ store })
  const routed = await listen(toNodeHandler(router))
  const results: Array<{ path: string; routerRps: number; bareRps: number; bytes: number }> = []
  for (const path of ROUTES) {
    const bytes = Buffer.from(await (await fetch(routed.url + path)).arrayBuffer())
    const bare = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": bytes.length })
      res.end(bytes)
    })
    const routerRps = await autocannon(routed.url + path)
    const bareRps = await autocannon(bare.url + path)
    await bare.close()
    results.push({ path, routerRps, bareRps, bytes: bytes.length })
  }
  await routed.close()
  await router.dispose()
  return results
}

interface DialectResult {
  readonly name: string
  readonly seedSeconds: number
  readonly list: Awaited<ReturnType<typeof compare>>
  readonly events: Awaited<ReturnType<typeof compare>>
  readonly http: Awaited<ReturnType<typeof throughput>>
}

const measure = async (name: string, url: string, driver: Driver): Promise<DialectResult> => {
  const store = await RunStore.fromDatabaseUrl(url)
  try {
    let n = 0
    const tenant = () => `t${n++ % TENANTS}`
    const runId = () => `run-${String(Math.floor(Math.random() * RUNS)).padStart(7, "0")}`
    const list = await compare(
      () => store.listRuns({ status: "error", tenantId: tenant(), limit: 50 }),
      () => driver.listRuns(tenant())
    )
    const events = await compare(() => store.getEvents(runId(), { limit: 100 }), () => driver.getEvents(runId()))
    const http = await throughput(store)
    return { name, seedSeconds: 0, list, events, http }
  } finally {
    await store.close()
  }
}

const ms = (x: number) => x.toFixed(3)
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const results: Array<DialectResult> = []

  const dir = createTempDir()
  try {
    const url = `sqlite:${dir.path}/bench.db`
    await Effect.runPromise(Effect.orDie(Effect.provide(Effect.void, Database.layerFromUrl(url))))
    const started = performance.now()
    seedSqlite(`${dir.path}/bench.db`)
    const seedSeconds = (performance.now() - started) / 1000
    const driver = sqliteDriver(`${dir.path}/bench.db`)
    try {
      results.push({ ...(await measure("SQLite", url, driver)), seedSeconds })
    } finally {
      driver.close()
    }
  } finally {
    dir.remove()
  }

  const db = await createPgDatabase()
  const pool = new pg.Pool({ connectionString: db.url, max: 10 })
  try {
    await Effect.runPromise(Effect.orDie(Effect.provide(Migrations.run, Database.layerFromUrl(db.url))))
    const started = performance.now()
    await seedPg(pool)
    const seedSeconds = (performance.now() - started) / 1000
    results.push({ ...(await measure("Postgres", db.url, pgDriver(pool))), seedSeconds })
  } finally {
    await pool.end()
    await db.drop()
  }

  const queryRows = results.flatMap((r) => [
    `| ${r.name} | listRuns (status + tenant, 50 + total) | ${ms(r.list.store[0]!)} / ${ms(r.list.store[1]!)} | ${
      ms(r.list.driver[0]!)
    } / ${ms(r.list.driver[1]!)} | ${ratio(r.list.store[0]!, r.list.driver[0]!)} | ${
      ratio(r.list.store[1]!, r.list.driver[1]!)
    } |`,
    `| ${r.name} | getEvents (a run's 8 events) | ${ms(r.events.store[0]!)} / ${ms(r.events.store[1]!)} | ${
      ms(r.events.driver[0]!)
    } / ${ms(r.events.driver[1]!)} | ${ratio(r.events.store[0]!, r.events.driver[0]!)} | ${
      ratio(r.events.store[1]!, r.events.driver[1]!)
    } |`
  ])
  const httpRows = results.flatMap((r) =>
    r.http.map((h) =>
      `| ${r.name} | \`${h.path}\` | ${h.routerRps.toFixed(0)} | ${h.bareRps.toFixed(0)} | ${
        (h.routerRps / h.bareRps).toFixed(3)
      } | ${h.bytes} |`
    )
  )
  return [
    {
      title: "RunStore reads on 100,000 runs",
      markdown: [
        `${
          RUNS.toLocaleString("en")
        } runs × ${EVENTS_PER_RUN} events, ${TENANTS} tenants, seeded with raw \`INSERT … SELECT\` ` +
        `(${
          results.map((r) => `${r.name} ${r.seedSeconds.toFixed(1)} s`).join(", ")
        }). ${SAMPLES} calls each, store and driver ` +
        "alternating. Store = the Promise client (`RunStore.fromDatabaseUrl`), decoding every row with Schema; driver = the " +
        "same SQL statements on better-sqlite3 / node-postgres without decoding. Ratio = store ÷ driver (lower is better, 1× = no overhead).",
        "",
        "| dialect | query | store p50 / p99 ms | driver p50 / p99 ms | ratio p50 | ratio p99 |",
        "|---|---|---|---|---|---|",
        ...queryRows
      ].join("\n")
    },
    {
      title: "Read router throughput",
      markdown: [
        `\`GET /runs?limit=50\` (50 runs + the total over ${
          RUNS.toLocaleString("en")
        }, which costs one \`COUNT(*)\` of the table per ` +
        "request) and the same with a status + tenant filter (an indexed count), through `toNodeHandler` on node:http (no `authorize`), " +
        `against a bare node:http handler returning the same JSON bytes. autocannon in its own process, 10 connections, ${HTTP_SECONDS} s ` +
        "each, loopback, on the same cores as the server.",
        "",
        "| dialect | request | router req/s | bare req/s | ratio | body bytes |",
        "|---|---|---|---|---|---|",
        ...httpRows
      ].join("\n")
    }
  ]
}
