/**
 * The SQLite writer thread (`sqliteWriter.ts` starts it): it owns the better-sqlite3 connection and executes
 * each group commit the main thread compiled, one `BEGIN IMMEDIATE … COMMIT` per request, so the main event
 * loop never waits on SQLite (a commit, a busy wait, an fsync). It knows nothing of plans: a request is a list
 * of prepared-statement ids and parameters, with the checks the writer makes (the run moved, an upsert wrote
 * one row); statement texts arrive once, the first time the main thread uses them. Its replies say how a
 * transaction ended; the main thread turns them into the same typed errors as before.
 *
 * It is plain CommonJS run with `eval` (no TypeScript, no imports but `worker_threads` and the driver by its
 * resolved path), so it starts the same way from the sources, under a test runner and from `dist`. Its
 * transaction logic (`EXECUTOR_SOURCE`) is shared with the writer's main-thread path (`sqliteWriter.ts`), which
 * runs a small group commit on its own connection when the thread is idle: one text, so both write alike.
 *
 * Protocol (workerData: `{ driver, filename, busyTimeoutMs, synchronous, fixed }`; `fixed` are the texts of
 * statements 0–6: BEGIN IMMEDIATE, COMMIT, ROLLBACK, the billing row, its rollup, the replay check, the miss read):
 *   ← `{ t: "open" }` or `{ t: "open", error }` once
 *   → `{ id, defs: [[sid, text]…], groups: [[op…]…] }`, op = `{ a: [sid, params], r: [[sid, params, upsert]…],
 *      u: [usageParams, rollupParams] | null, e: [sid, params], k: [run, index, type, at] }`
 *   ← `{ id, t: "ok" | "miss" | "conflict" | "unmoved" | "sql", group?, plan?, row?, missed?, cause? }`
 *   → `{ checkpoint: true }` (a passive WAL checkpoint, no reply)
 *   → `{ close: true }` ← `{ t: "closed" }`
 */
/**
 * `makeExecutor(db, textOf)`: the group-commit transaction on one better-sqlite3 connection, statements
 * prepared on first use from `textOf(sid)`. `transact(groups)` returns the reply (see the protocol above);
 * BEGIN failing (busy past the connection's timeout) throws.
 */
export const EXECUTOR_SOURCE = String.raw`
const errorOf = (e) => ({
  name: e && typeof e.name === "string" ? e.name : "Error",
  message: e && typeof e.message === "string" ? e.message : String(e),
  code: e && typeof e.code === "string" ? e.code : undefined
})
const makeExecutor = (db, textOf) => {
  const prepared = new Map()
  const statement = (sid) => {
    let s = prepared.get(sid)
    if (s === undefined) {
      const text = textOf(sid)
      if (text === undefined) throw new Error("the SQLite writer has no statement #" + sid)
      s = db.prepare(text)
      prepared.set(sid, s)
    }
    return s
  }
  const BEGIN = 0, COMMIT = 1, ROLLBACK = 2, USAGE = 3, ROLLUP = 4, RECORDED = 5, MISSED = 6
  const advance = (op) => statement(op.a[0]).all(...op.a[1]).length > 0
  // The index of an upsert that did not write its row (another run's id), or undefined.
  const writeRows = (op) => {
    for (let j = 0; j < op.r.length; j++) {
      const [sid, params, upsert] = op.r[j]
      if (!upsert) statement(sid).run(...params)
      else if (statement(sid).all(...params).length !== 1) return j
    }
    if (op.u !== null) {
      statement(USAGE).run(...op.u[0])
      statement(ROLLUP).run(...op.u[1])
    }
    statement(op.e[0]).run(...op.e[1])
    return undefined
  }
  const rollback = () => {
    if (db.inTransaction) statement(ROLLBACK).run()
  }
  const transact = (groups) => {
    statement(BEGIN).run()
    try {
      if (groups.length === 1) {
        const ops = groups[0]
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i]
          if (!advance(op)) {
            if (statement(RECORDED).get(...op.k) !== undefined) continue
            const missed = statement(MISSED).get(op.k[0])
            rollback()
            return { t: "miss", plan: i, missed }
          }
          const row = writeRows(op)
          if (row !== undefined) {
            rollback()
            return { t: "conflict", group: 0, plan: i, row }
          }
        }
      } else {
        for (let g = 0; g < groups.length; g++) {
          const ops = groups[g]
          for (let i = 0; i < ops.length; i++) {
            if (!advance(ops[i])) {
              rollback()
              return { t: "unmoved", group: g, plan: i }
            }
            const row = writeRows(ops[i])
            if (row !== undefined) {
              rollback()
              return { t: "conflict", group: g, plan: i, row }
            }
          }
        }
      }
      statement(COMMIT).run()
      return { t: "ok" }
    } catch (e) {
      rollback()
      return { t: "sql", cause: errorOf(e) }
    }
  }
  return { transact }
}
`

/** The thread: `EXECUTOR_SOURCE` on its own connection, serving requests in order. */
export const WORKER_SOURCE = String.raw`
"use strict"
const { parentPort, workerData } = require("node:worker_threads")
${EXECUTOR_SOURCE}
const main = () => {
  let db
  try {
    const Sqlite = require(workerData.driver)
    db = new Sqlite(workerData.filename, { fileMustExist: true, timeout: workerData.busyTimeoutMs })
    db.pragma("synchronous = " + workerData.synchronous)
    db.pragma("foreign_keys = ON")
    // Cleared content (pause states, submissions, pruned rows) is zeroed, not left in free pages.
    db.pragma("secure_delete = ON")
  } catch (e) {
    parentPort.postMessage({ t: "open", error: errorOf(e) })
    return
  }
  const texts = new Map()
  workerData.fixed.forEach((text, sid) => texts.set(sid, text))
  const { transact } = makeExecutor(db, (sid) => texts.get(sid))
  parentPort.on("message", (request) => {
    if (request.close === true) {
      try { db.close() } catch {}
      parentPort.postMessage({ t: "closed" })
      parentPort.close()
      return
    }
    if (request.checkpoint === true) {
      try { db.pragma("wal_checkpoint(PASSIVE)") } catch {}
      return
    }
    for (const [sid, text] of request.defs) texts.set(sid, text)
    let reply
    try {
      reply = transact(request.groups)
    } catch (e) {
      // BEGIN itself failed (busy past the timeout), or the ROLLBACK did.
      reply = { t: "sql", cause: errorOf(e) }
    }
    reply.id = request.id
    parentPort.postMessage(reply)
  })
  parentPort.postMessage({ t: "open" })
}
main()
`
