/**
 * One measured prune in a process of its own (so its peak RSS is its own): `prune-child.ts MODE URL` where MODE
 * is `retention` (Retention.prune, batches of 1,000, counts per table), `raw-batched` (the driver deleting the
 * same rows 1,000 ids per transaction, selected by the same keyset) or `raw-one` (one `DELETE … WHERE` of them
 * all). Prints `{ "runs", "ms", "maxRssMb" }`, timing only the prune (not start-up or connecting).
 */
import { Database, Retention } from "@sextant/recorder"
import { Lifecycle } from "@sextant/runtime"
import { Effect } from "effect"
import { createRequire } from "node:module"
import pg from "pg"

const [mode, url] = process.argv.slice(2) as [string, string]
const cutoff = new Date(Date.now() - 30 * 86_400_000).toISOString()
const statuses = Lifecycle.terminalStatuses.map((s) => `'${s}'`).join(", ")
const where = `status IN (${statuses}) AND created_at < '${cutoff}'`
const keyset = (after: readonly [string, string] | null) =>
  `SELECT id, created_at FROM agent_runs WHERE ${where}${
    after === null ? "" : ` AND (created_at, id) > ('${after[0]}', '${after[1]}')`
  } ORDER BY created_at, id LIMIT 1000`

interface Sqlite {
  prepare(
    text: string
  ): { all(...p: Array<unknown>): Array<Record<string, unknown>>; run(...p: Array<unknown>): { changes: number } }
  exec(text: string): void
  pragma(text: string): unknown
}

const run = async (): Promise<number> => {
  if (mode === "retention") {
    const result = await Effect.runPromise(
      Effect.provide(Retention.prune({ olderThan: "30 days" }), Database.layerFromUrl(url, { busyTimeoutMs: 5000 }))
    )
    return result.runs
  }
  const isPg = url.startsWith("postgres")
  if (isPg) {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      if (mode === "raw-one") return (await client.query(`DELETE FROM agent_runs WHERE ${where}`)).rowCount ?? 0
      let n = 0
      let after: readonly [string, string] | null = null
      while (true) {
        const rows = (await client.query(keyset(after))).rows as Array<{ id: string; created_at: Date }>
        if (rows.length === 0) return n
        const last = rows[rows.length - 1]!
        after = [last.created_at.toISOString(), last.id]
        await client.query("BEGIN")
        await client.query("DELETE FROM agent_runs WHERE id = ANY($1)", [rows.map((r) => r.id)])
        await client.query("COMMIT")
        n += rows.length
      }
    } finally {
      await client.end()
    }
  }
  const Sqlite = createRequire(import.meta.url)("better-sqlite3") as new(file: string) => Sqlite
  const db = new Sqlite(url.slice("sqlite:".length))
  db.pragma("foreign_keys = ON")
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  if (mode === "raw-one") return db.prepare(`DELETE FROM agent_runs WHERE ${where}`).run().changes
  let n = 0
  let after: readonly [string, string] | null = null
  while (true) {
    const rows = db.prepare(keyset(after)).all() as Array<{ id: string; created_at: string }>
    if (rows.length === 0) return n
    const last = rows[rows.length - 1]!
    after = [last.created_at, last.id]
    db.exec("BEGIN IMMEDIATE")
    db.prepare(`DELETE FROM agent_runs WHERE id IN (${rows.map(() => "?").join(", ")})`).run(...rows.map((r) => r.id))
    db.exec("COMMIT")
    n += rows.length
  }
}

const started = performance.now()
const runs = await run()
const ms = performance.now() - started
process.stdout.write(`${JSON.stringify({ runs, ms, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`)
