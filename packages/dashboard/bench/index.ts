/**
 * Dashboard benchmark:
 * - the initial JavaScript of the runs page (the entry script and what it preloads), gzipped at level 9, against
 *   the 150 KB budget; the other pages' chunks load on demand and are listed apart.
 * - the time to render the runs page over 100,000 runs (SQLite, seeded with raw `INSERT … SELECT`, 4 events per
 *   run, every tenth run paused once): from navigation start to the first rows in the DOM (the app's
 *   `sextant:runs-rendered` mark), and first contentful paint, in Debian's Chromium with a fresh profile per
 *   sample. Baseline: a bare page on the same server that fetches the same `/run-rows?limit=50` and writes the
 *   same rows with `innerHTML`. Samples alternate; medians with their spread.
 */
import { toNodeHandler } from "@sextant/http-router/node"
import { RunStore } from "@sextant/store"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { stats } from "../../../bench/measure.js"
import { freshDatabase } from "../../recorder/test/databases.js"
import { makeDashboard } from "../src/index.js"
import { launchChromium } from "../test/chromium.js"

/** A section of BENCHMARKS.md (the shape `bench/section.ts` declares). */
interface BenchSection {
  readonly title: string
  readonly markdown: string
}

const RUNS = Number(process.env.BENCH_DASHBOARD_RUNS ?? 100_000)
const SAMPLES = Number(process.env.BENCH_DASHBOARD_SAMPLES ?? 7)
const BUDGET = 150 * 1024
const ui = fileURLToPath(new URL("../dist/ui/", import.meta.url))

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`

/** Initial JS of the runs page: the entry module and its modulepreloads, as index.html names them. */
const bundle = () => {
  const html = readFileSync(join(ui, "index.html"), "utf8")
  const initial = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!)
  const css = [...html.matchAll(/href="\.\/(assets\/[^"]+\.css)"/g)].map((m) => m[1]!)
  const size = (files: ReadonlyArray<string>) =>
    files.reduce(
      (t, f) => {
        const bytes = readFileSync(join(ui, f))
        return { raw: t.raw + bytes.length, gzip: t.gzip + gzipSync(bytes, { level: 9 }).length }
      },
      { raw: 0, gzip: 0 }
    )
  return { initial: size(initial), css: size(css), files: initial }
}

const require = createRequire(import.meta.url)
const BetterSqlite = require("better-sqlite3") as new(file: string) => {
  prepare: (sql: string) => { run: () => unknown }
  transaction: (f: () => void) => () => void
  close: () => void
}

const seed = (file: string) => {
  const db = new BetterSqlite(file)
  const ts = (offset: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + i${offset}, 'unixepoch')`
  const n = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${RUNS - 1})`
  db.transaction(() => {
    db.prepare(`INSERT INTO agent_runs (id, tenant_id, agent_name, status, input, instructions, answer, model, provider,
      delegation_level, iteration_count, total_input_tokens, total_output_tokens, total_cost_usd, model_call_count,
      unpriced_call_count, cancel_requested, last_sequence_index, created_at, updated_at, last_progress_at, finished_at)
      ${n} SELECT printf('run-%07d', i), 't' || (i % 20), 'agent-' || (i % 7),
        CASE i % 10 WHEN 7 THEN 'error' ELSE 'success' END, 'What is the weather?', 'You answer.', 'Sunny.',
        'gpt-bench', 'openai', 0, 2, 130, 21, 0.003, 2, 0, 0, 3, ${ts("")}, ${ts(" + 2")}, ${ts(" + 2")},
        ${ts(" + 2")} FROM n`).run()
    db.prepare(`INSERT INTO run_events (agent_run_id, sequence_index, event_type, iteration, correlation_id, data,
      created_at) ${n}, k(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM k WHERE s < 3)
      SELECT printf('run-%07d', i), s,
        CASE s WHEN 0 THEN 'run.started' WHEN 1 THEN CASE WHEN i % 10 = 0 THEN 'run.paused' ELSE 'llm.started' END
          WHEN 2 THEN 'llm.completed' ELSE 'run.completed' END,
        1, NULL, '{}', ${ts(" + s / 2.0")} FROM n, k ORDER BY 1, 2`).run()
  })()
  db.prepare("ANALYZE").run()
  db.close()
}

const baselinePage = `<!doctype html><html><head><meta charset="utf-8"><title>baseline</title></head><body>
<table><tbody id="rows"></tbody></table><script type="module">
const res = await fetch(new URL("../run-rows?limit=50", location.href))
const page = await res.json()
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => "&#" + c.charCodeAt(0) + ";")
document.getElementById("rows").innerHTML = page.items.map((r) => "<tr data-run-id='" + esc(r.id) + "'><td>" +
  esc(r.status) + "</td><td>" + esc(r.agentName) + "</td><td>" + esc(r.model) + "</td><td>" + esc(r.tenantId) +
  "</td><td>" + r.iterationCount + "</td><td>" + (r.totals.inputTokens + r.totals.outputTokens) + "</td><td>" +
  r.totals.costUsd + "</td><td>" + r.durationMs + "</td><td>" + r.pauseCount + "</td><td>" +
  new Date(r.createdAt).toLocaleString() + "</td></tr>").join("")
performance.mark("sextant:runs-rendered")
</script></body></html>`

const median = (xs: ReadonlyArray<number>) => stats(xs).median
const range = (xs: ReadonlyArray<number>) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`

/** One cold load of `url` in a fresh profile: ms to the rows mark and to first contentful paint. */
const sample = async (url: string) => {
  const browser = await launchChromium()
  try {
    const page = await browser.context.newPage()
    await page.goto(url)
    await page.waitForSelector("tr[data-run-id]")
    return await page.evaluate(() => ({
      rows: performance.getEntriesByName("sextant:runs-rendered")[0]?.startTime ?? Number.NaN,
      fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN
    }))
  } finally {
    await browser.close()
  }
}

export default async (): Promise<ReadonlyArray<BenchSection>> => {
  const b = bundle()
  const db = await freshDatabase("sqlite", "runs.db")
  const url = db.url
  const seeding = performance.now()
  seed(join(db.dir!, "runs.db"))
  console.log(`seeded ${RUNS} runs in ${((performance.now() - seeding) / 1000).toFixed(1)} s`)
  const store = await RunStore.fromDatabaseUrl(url)
  const router = makeDashboard({
    store,
    routes: [{
      path: "/baseline/",
      handle: () => new Response(baselinePage, { headers: { "content-type": "text/html" } })
    }]
  })
  const server = Http.createServer(toNodeHandler(router))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const api: Array<number> = []
  const app: Array<{ rows: number; fcp: number }> = []
  const bare: Array<{ rows: number; fcp: number }> = []
  try {
    for (let i = 0; i < 10; i++) {
      const t = performance.now()
      await (await fetch(`${base}/run-rows?limit=50`)).json()
      api.push(performance.now() - t)
    }
    await sample(`${base}/ui/`)
    await sample(`${base}/baseline/`)
    for (let i = 0; i < SAMPLES; i++) {
      app.push(await sample(`${base}/ui/`))
      bare.push(await sample(`${base}/baseline/`))
    }
  } finally {
    server.closeAllConnections()
    server.close()
    await router.dispose()
    await store.close()
    await db.drop()
  }
  const appRows = app.map((s) => s.rows)
  const bareRows = bare.map((s) => s.rows)
  const appFcp = app.map((s) => s.fcp)
  const bareFcp = bare.map((s) => s.fcp)
  const markdown = [
    "| measure | dashboard | baseline | ratio |",
    "|---|---:|---:|---:|",
    `| runs page: navigation → first rows in the DOM (median, range) | ${median(appRows).toFixed(0)} ms (${
      range(appRows)
    }) | ${median(bareRows).toFixed(0)} ms (${range(bareRows)}) | **${
      (median(appRows) / median(bareRows)).toFixed(2)
    }×** |`,
    `| first contentful paint (median, range) | ${median(appFcp).toFixed(0)} ms (${range(appFcp)}) | ${
      median(bareFcp).toFixed(0)
    } ms (${range(bareFcp)}) | ${(median(appFcp) / median(bareFcp)).toFixed(2)}× |`,
    `| initial JS of the runs page, gzipped (budget 150 KB) | ${kb(b.initial.gzip)} (${kb(b.initial.raw)} raw) | | **${
      (b.initial.gzip / BUDGET * 100).toFixed(0)
    }% of budget** |`,
    `| CSS, gzipped | ${kb(b.css.gzip)} | | |`,
    `| \`GET /run-rows?limit=50\` over ${RUNS.toLocaleString("en-US")} runs (median of 10, orientation) | ${
      median(api).toFixed(1)
    } ms | | |`,
    "",
    `${
      RUNS.toLocaleString("en-US")
    } runs in SQLite (4 events each, every tenth paused once), served by \`makeDashboard\` on ` +
    "node:http. Each sample is a cold load in Debian's Chromium with a fresh profile (no cache): dashboard = `/ui/` " +
    "(the Preact app: its JS, CSS, then `/run-rows` and `/waiting`, rendered); baseline = a bare page on the same " +
    "server that fetches the same `/run-rows?limit=50` and writes the same ten columns with `innerHTML`. " +
    `${SAMPLES} alternating samples per page. Initial JS = ${b.files.join(", ")}; the run, usage and API pages load ` +
    "their own chunks on demand."
  ].join("\n")
  return [{ title: "Dashboard: initial JS and time to render the runs page over 100,000 runs", markdown }]
}
