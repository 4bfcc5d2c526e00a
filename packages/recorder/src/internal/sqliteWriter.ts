/**
 * The recorder's own SQLite write connection (better-sqlite3, the driver of `@effect/sql-sqlite-node`, which
 * does not expose its handle), owned by a worker thread (`sqliteWorker.ts`) so that the main event loop never
 * blocks on a commit: a router, a dashboard or a health check in the same process keeps answering while runs
 * record. Every statement the writer issues has one text per table and column shape, prepared once on first
 * use and kept: the run's insert, its compare-and-swap move (one text per set of columns and usage fields),
 * each table's insert or upsert, the billing row and its rollup, and `run_events`. The main thread compiles a
 * group commit into statement ids and parameters (texts are sent once); the thread runs it as one synchronous
 * BEGIN IMMEDIATE … COMMIT, so no lock is ever held across an await, and replies how it ended. `busy_timeout`
 * (the ambient client's) lets the other connection's ledger writes and this one wait for each other, and a
 * timeout past it is `SQLITE_BUSY`, which the writer retries as before. Statements, outcomes and error
 * messages are those of the `@effect/sql` path (`write.ts`, `batch.ts`), which Postgres keeps.
 *
 * Fail-closed as before: a caller is completed only after the thread's COMMIT returned. An attempt cut by its
 * timeout stops waiting at once; the thread finishes that transaction before it takes the next (requests are
 * served in order), and a retry of events it committed meanwhile is recognised as a replay. A thread that
 * dies fails every waiting write and every later one (a permanent `SqlError`), and the recorder stops its runs.
 */
import { SqlError } from "@effect/sql"
import { Lifecycle } from "@sextant/runtime"
import { Effect, type Scope } from "effect"
import type { Worker } from "node:worker_threads"
import type { DriverNotInstalled } from "../Errors.js"
import { WriteConflict } from "./conflict.js"
import * as Drivers from "./drivers.js"
import { unescapeText } from "./escape.js"
import { type Plan, type RowInsert, usageCounts, type Value } from "./plan.js"
import { rollupRow, SQLITE_ROLLUP_SQL } from "./rollup.js"
import { EXECUTOR_SOURCE, WORKER_SOURCE } from "./sqliteWorker.js"
import { MISSED_RUN_SQL, type MissedRun, missMessage, RECORDED_SQL, type WriteError } from "./write.js"

/** Writes groups of events on the recorder's own connection. */
export interface SqliteWriter {
  /** One transaction: one caller's events one by one, or several callers' (any miss fails the whole write). */
  readonly transact: (groups: ReadonlyArray<ReadonlyArray<Plan>>) => Effect.Effect<void, WriteError>
}

/** What the writer's connection takes over from the ambient one. */
export interface SqliteWriterOptions {
  readonly busyTimeoutMs: number
  /** SQLite `synchronous` (the number `PRAGMA synchronous` reads: 1 NORMAL, 2 FULL). */
  readonly synchronous: number
  /**
   * Whether a small group commit may run on the main thread's own connection when the thread is idle (see
   * `localPath`): only in WAL mode with `synchronous` NORMAL or OFF, where a commit never waits for the disk.
   */
  readonly local: boolean
}

/** The most events a group commit on the main thread carries (a few hundred µs of SQLite at most). */
const LOCAL_MAX_EVENTS = 8
/**
 * After how many writes of others a run that has not ended stops counting as writing. The count tells one or
 * two runs writing in turn (the main thread's case) from many concurrent runs, whose events must queue behind
 * the thread's commit to be grouped: committed at once on the main thread, each would be a transaction of its own.
 */
const RECENT_WRITES = 16
/** The most runs writing (see `fewRuns`) for a commit to run on the main thread. */
const LOCAL_MAX_RUNS = 2
/** A run's write that ends its writing for now: its end, or its pause (until a resume writes again). */
const ENDS_WRITING: ReadonlySet<string> = new Set([
  "run.completed",
  "run.failed",
  "run.cancelled",
  "run.interrupted",
  "run.abandoned",
  "run.paused"
])
/** Main-thread commits between two passive WAL checkpoints asked of the thread (that connection never checkpoints). */
const CHECKPOINT_EVERY = 256

interface Executor {
  readonly transact: (groups: ReadonlyArray<ReadonlyArray<Op>>) => Reply
}

interface SqliteDatabase {
  readonly pragma: (source: string) => unknown
  readonly prepare: (source: string) => unknown
  readonly close: () => void
  readonly inTransaction: boolean
}

/** The thread's transaction logic, compiled once for the main thread (one text: both connections write alike). */
let executorFactory:
  | ((db: SqliteDatabase, textOf: (sid: number) => string | undefined) => Executor)
  | undefined
const makeExecutor = (db: SqliteDatabase, textOf: (sid: number) => string | undefined): Executor => {
  executorFactory ??= new Function(`"use strict"\n${EXECUTOR_SOURCE}\nreturn makeExecutor`)() as typeof executorFactory
  return executorFactory!(db, textOf)
}

const usageColumns = ["cacheReadTokens", "cacheWriteTokens", "reasoningTokens"] as const
const usageTargets = {
  cacheReadTokens: "total_cache_read_tokens",
  cacheWriteTokens: "total_cache_write_tokens",
  reasoningTokens: "total_reasoning_tokens"
} as const

/** The compare-and-swap move of one event: its shape (the key of its text), its text on demand, its parameters. */
const moveOf = (plan: Plan): { readonly shape: string; readonly text: () => string; readonly params: Array<Value> } => {
  const sets = ["last_sequence_index = ?", "last_progress_at = ?", "updated_at = ?"]
  const params: Array<Value> = [plan.sequenceIndex, plan.at, plan.at]
  let shape = ""
  for (const column in plan.columns) {
    sets.push(`${column} = ?`)
    params.push(plan.columns[column]!)
    shape += `${column},`
  }
  if (plan.progress?.iteration !== undefined) {
    sets.push("iteration_count = ?")
    params.push(plan.progress.iteration)
    shape += "i"
  }
  const u = plan.step.addUsage
  if (u !== undefined) {
    sets.push("total_input_tokens = total_input_tokens + ?", "total_output_tokens = total_output_tokens + ?")
    params.push(u.inputTokens, u.outputTokens)
    shape += "u"
    for (const field of usageColumns) {
      const value = u[field]
      if (value === undefined) continue
      sets.push(`${usageTargets[field]} = COALESCE(${usageTargets[field]}, 0) + ?`)
      params.push(value)
      shape += field[0]! + field[5]!
    }
    const nanos = u.costUsd === undefined ? null : Lifecycle.toNanos(u.costUsd)
    if (nanos !== null) {
      sets.push(
        "total_cost_nanos = COALESCE(total_cost_nanos, 0) + ?",
        `total_cost_usd = CAST(COALESCE(total_cost_nanos, 0) + ? AS DOUBLE PRECISION) / ${Lifecycle.NANOS_PER_USD}.0`
      )
      params.push(nanos, nanos)
      shape += "$"
    }
    sets.push("model_call_count = model_call_count + 1", "unpriced_call_count = unpriced_call_count + ?")
    params.push(nanos === null ? 1 : 0)
  }
  params.push(plan.runKey, plan.sequenceIndex - 1)
  const from = plan.step.from === "new" ? [] : plan.step.from
  params.push(...from)
  shape += `|${from.length}`
  const guard = from.length === 0 ? "" : ` AND status IN (${from.map(() => "?").join(", ")})`
  return {
    shape,
    text: () =>
      `UPDATE agent_runs SET ${sets.join(", ")} WHERE id = ? AND last_sequence_index = ?${guard} RETURNING id`,
    params
  }
}

const insertText = (table: string, columns: ReadonlyArray<string>) =>
  `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`

/** A row's insert, or its upsert (only ever over a row of its own run: it returns the ids it wrote). */
const rowText = (insert: RowInsert, columns: ReadonlyArray<string>) =>
  insert.upsert === undefined
    ? insertText(insert.table, columns)
    : `${insertText(insert.table, columns)} ON CONFLICT (id) DO UPDATE SET ${
      insert.upsert.map((c) => `${c} = excluded.${c}`).join(", ")
    } WHERE ${insert.table}.agent_run_id = excluded.agent_run_id RETURNING id`

// Billing rows carry the run's tenant and agent (copied from its row), so usage queries need no join.
const USAGE_SQL = "INSERT INTO token_usage (id, agent_run_id, llm_interaction_id, tenant_id, agent_name, iteration, " +
  "provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, " +
  "cost_nanos, created_at) SELECT ?, r.id, ?, r.tenant_id, r.agent_name, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? " +
  "FROM agent_runs r WHERE r.id = ?"

/** A driver error as the thread reports it (a plain record: what `classify.ts` reads, `code` and `message`). */
interface ThreadError {
  readonly name: string
  readonly message: string
  readonly code?: string | undefined
}

/** One event compiled for the thread (see the protocol in `sqliteWorker.ts`). */
interface Op {
  readonly a: readonly [number, ReadonlyArray<Value>]
  readonly r: ReadonlyArray<readonly [number, ReadonlyArray<Value>, boolean]>
  readonly u: readonly [ReadonlyArray<Value>, ReadonlyArray<Value>] | null
  readonly e: readonly [number, ReadonlyArray<Value>]
  readonly k: readonly [string, number, string, string]
}

type Reply =
  | { readonly t: "ok" }
  | { readonly t: "miss"; readonly plan: number; readonly missed: MissedRun | undefined }
  | { readonly t: "conflict"; readonly group: number; readonly plan: number; readonly row: number }
  | { readonly t: "unmoved"; readonly group: number; readonly plan: number }
  | { readonly t: "sql"; readonly cause: ThreadError }

// Statements 0–6 are fixed (the thread prepares them from these texts); shapes get ids from 7 on.
const FIXED = ["BEGIN IMMEDIATE", "COMMIT", "ROLLBACK", USAGE_SQL, SQLITE_ROLLUP_SQL, RECORDED_SQL, MISSED_RUN_SQL]

const failed = (cause: ThreadError | { readonly message: string }) =>
  new SqlError.SqlError({ cause, message: "Failed to execute statement" })

/** What a transaction's reply means for its callers (`undefined`: committed). */
const outcome = (reply: Reply, groups: ReadonlyArray<ReadonlyArray<Plan>>): WriteError | undefined => {
  switch (reply.t) {
    case "ok":
      return undefined
    case "miss": {
      // One caller (a lone group): the miss is resolved precisely, as `write.ts` does.
      const plans = groups[0]!
      return new WriteConflict({
        message: missMessage(plans[reply.plan]!, reply.missed),
        index: plans.length === 1 ? undefined : reply.plan
      })
    }
    case "conflict": {
      // An upsert over another run's row; in a shared batch, the writer retries its callers one by one.
      const plans = groups[reply.group]!
      const insert = plans[reply.plan]!.rows[reply.row]!
      const message = `${insert.table} id '${unescapeText(String(insert.row.id))}' is already recorded by another ` +
        "run (call ids are unique across runs)"
      return groups.length === 1
        ? new WriteConflict({ message, index: plans.length === 1 ? undefined : reply.plan })
        : new WriteConflict({ message: `${message}: writing the batch's events one by one` })
    }
    case "unmoved": {
      const plan = groups[reply.group]![reply.plan]!
      return new WriteConflict({
        message: `${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId} did not move its run: ` +
          "writing the batch's events one by one"
      })
    }
    case "sql":
      return failed(reply.cause)
  }
}

/** Opens the writer's connection on `filename` in its thread for the scope (the file exists: the ambient client made it). */
export const open = (
  filename: string,
  options: SqliteWriterOptions
): Effect.Effect<SqliteWriter, SqlError.SqlError | DriverNotInstalled, Scope.Scope> =>
  Effect.gen(function*() {
    // The driver must be installed (an optional peer): the thread loads it by the path this module resolves.
    const driverModule = yield* Drivers.load<unknown>("sqlite", "better-sqlite3")
    const [{ Worker }, { createRequire }] = yield* Effect.promise(() =>
      Promise.all([import("node:worker_threads"), import("node:module")])
    )
    const driver = yield* Effect.try({
      try: () => createRequire(import.meta.url).resolve("better-sqlite3"),
      catch: (cause) => new SqlError.SqlError({ cause, message: "cannot resolve the SQLite driver 'better-sqlite3'" })
    })
    const local = options.local
      ? yield* Effect.acquireRelease(
        Effect.try({
          try: () => openLocal(Drivers.defaultExport(driverModule), filename, options),
          catch: (cause) => new SqlError.SqlError({ cause, message: `cannot open SQLite database ${filename}` })
        }),
        (db) => Effect.sync(() => db.close())
      )
      : undefined
    return yield* Effect.acquireRelease(
      start(Worker, filename, options, driver, local),
      (thread) => Effect.promise(() => thread.close())
    ).pipe(Effect.map((thread) => thread.writer))
  })

/**
 * The main thread's connection for small group commits: it never waits for a lock (busy timeout 0: a busy
 * database sends the commit to the thread instead) and never checkpoints (the thread does, see `localPath`),
 * so it cannot stall the event loop beyond the statements themselves.
 */
const openLocal = (Sqlite: unknown, filename: string, options: SqliteWriterOptions): SqliteDatabase => {
  const db = new (Sqlite as new(file: string, options: object) => SqliteDatabase)(filename, {
    fileMustExist: true,
    timeout: 0
  })
  // A pragma that fails closes the connection; its error reaches the caller's `Effect.try` (a `SqlError`).
  let ready = false
  try {
    db.pragma(`synchronous = ${Math.max(0, Math.min(1, Math.floor(options.synchronous)))}`)
    db.pragma("foreign_keys = ON")
    db.pragma("secure_delete = ON")
    db.pragma("wal_autocheckpoint = 0")
    ready = true
    return db
  } finally {
    if (!ready) db.close()
  }
}

interface Thread {
  readonly writer: SqliteWriter
  readonly close: () => Promise<void>
}

const start = (
  WorkerClass: typeof Worker,
  filename: string,
  options: SqliteWriterOptions,
  driver: string,
  local: SqliteDatabase | undefined
): Effect.Effect<Thread, SqlError.SqlError> =>
  Effect.async<Thread, SqlError.SqlError>((resume) => {
    const worker = new WorkerClass(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver,
        filename,
        busyTimeoutMs: options.busyTimeoutMs,
        synchronous: Math.max(0, Math.min(3, Math.floor(options.synchronous))),
        fixed: FIXED
      }
    })
    const pending = new Map<number, (reply: Reply) => void>()
    let opened = false
    let dead: SqlError.SqlError | undefined
    let closed: (() => void) | undefined
    // The thread keeps the process alive only while a write waits for it.
    worker.unref()
    const hold = () => {
      if (pending.size === 0) worker.ref()
    }
    const release = () => {
      if (pending.size === 0) worker.unref()
    }
    const die = (why: string) => {
      dead ??= failed({ message: `the SQLite writer thread of ${filename} stopped: ${why}` })
      if (!opened) {
        opened = true
        resume(
          Effect.fail(new SqlError.SqlError({ cause: dead.cause, message: `cannot open SQLite database ${filename}` }))
        )
      }
      for (const [, complete] of pending) complete({ t: "sql", cause: dead.cause as ThreadError })
      pending.clear()
      worker.unref()
    }
    worker.on("error", (error) => die(error.message))
    worker.on("exit", (code) => {
      die(`exit code ${code}`)
      closed?.()
    })
    worker.on("message", (message: { readonly t: string; readonly id?: number; readonly error?: ThreadError }) => {
      if (message.t === "open") {
        opened = true
        if (message.error !== undefined) {
          void worker.terminate()
          return resume(
            Effect.fail(
              new SqlError.SqlError({ cause: message.error, message: `cannot open SQLite database ${filename}` })
            )
          )
        }
        return resume(Effect.succeed({ writer: writerOn(post, local === undefined ? undefined : localPath), close }))
      }
      if (message.t === "closed") return
      const complete = pending.get(message.id!)
      if (complete === undefined) return
      pending.delete(message.id!)
      release()
      complete(message as unknown as Reply)
    })

    let nextId = 0
    const post = (defs: Array<readonly [number, string]>, ops: ReadonlyArray<ReadonlyArray<Op>>) =>
      Effect.async<Reply>((reply) => {
        if (dead !== undefined) return reply(Effect.succeed<Reply>({ t: "sql", cause: dead.cause as ThreadError }))
        const id = nextId++
        hold()
        pending.set(id, (r) => reply(Effect.succeed(r)))
        worker.postMessage({ id, defs, groups: ops })
      })

    // A small group commit while the thread is idle runs here, on the main thread's connection: no thread hop
    // (two wake-ups, a structured clone each way) for the common case of one run's few events. The thread
    // being idle (no request in flight) keeps the order of writes: nothing can be posted while this
    // synchronous transaction runs. Fail-closed as on the thread: the caller completes after COMMIT returned.
    let executor: Executor | undefined
    let localCommits = 0
    const localPath: LocalPath = (texts, ops) => {
      if (local === undefined || dead !== undefined || pending.size > 0) return undefined
      let events = 0
      for (const group of ops) events += group.length
      if (events > LOCAL_MAX_EVENTS) return undefined
      executor ??= makeExecutor(local, (sid) => FIXED[sid] ?? texts.get(sid))
      let reply: Reply
      try {
        reply = executor.transact(ops)
      } catch {
        // BEGIN was refused (another connection holds the write lock): the thread waits for it instead.
        return undefined
      }
      // Busy in the middle (rolled back, nothing written): the thread, which may wait, takes it.
      if (reply.t === "sql" && reply.cause.code?.startsWith("SQLITE_BUSY") === true) return undefined
      if (reply.t === "ok" && ++localCommits % CHECKPOINT_EVERY === 0) worker.postMessage({ checkpoint: true })
      return reply
    }

    const close = () =>
      new Promise<void>((done) => {
        if (dead !== undefined) return done()
        closed = done
        worker.ref()
        worker.postMessage({ close: true })
        // A thread stuck in a statement gets a second; then it is stopped.
        setTimeout(() => void worker.terminate(), 1_000).unref()
      })
    // Interrupted while the thread opens: stop it.
    return Effect.sync(() => void worker.terminate())
  })

/** A group commit on the main thread's connection; `undefined` when it must go to the thread. */
type LocalPath = (
  texts: ReadonlyMap<number, string>,
  ops: ReadonlyArray<ReadonlyArray<Op>>
) => Reply | undefined

type Post = (
  defs: Array<readonly [number, string]>,
  ops: ReadonlyArray<ReadonlyArray<Op>>
) => Effect.Effect<Reply>

const writerOn = (post: Post, local: LocalPath | undefined): SqliteWriter => {
  // Texts are one per table and shape (a few dozen at most): each gets an id, and its text goes to the thread once.
  const ids = new Map<string, number>()
  const texts = new Map<number, string>()
  let defs: Array<readonly [number, string]> = []
  const shaped = (shape: string, text: () => string): number => {
    let id = ids.get(shape)
    if (id === undefined) {
      id = FIXED.length + ids.size
      ids.set(shape, id)
      const source = text()
      texts.set(id, source)
      defs.push([id, source])
    }
    return id
  }
  // The runs that wrote among the latest writes and have not ended (or paused) since: few of them means low
  // concurrency. A run's last write (its end or pause) takes it out at once, so runs one after the other count
  // as one (a ring of the latest writes' runs counted the two runs before as well, which sent every commit of
  // sequential runs to the thread); a run that stopped writing without an end ages out after RECENT_WRITES.
  const live = new Map<string, number>()
  let writes = 0
  const fewRuns = (groups: ReadonlyArray<ReadonlyArray<Plan>>): boolean => {
    for (const plans of groups) {
      const last = plans[plans.length - 1]!
      if (ENDS_WRITING.has(last.eventType)) live.delete(last.runId)
      else live.set(last.runId, writes)
      writes++
    }
    if (live.size > LOCAL_MAX_RUNS) {
      for (const [runId, at] of live) if (writes - at > RECENT_WRITES) live.delete(runId)
    }
    return live.size <= LOCAL_MAX_RUNS
  }
  const settle = (reply: Reply, groups: ReadonlyArray<ReadonlyArray<Plan>>) => {
    const error = outcome(reply, groups)
    return error === undefined ? Effect.void : Effect.fail(error)
  }
  const valuesOf = (
    row: Readonly<Record<string, Value>>
  ): { readonly shape: string; readonly values: Array<Value> } => {
    let shape = ""
    const values: Array<Value> = []
    for (const column in row) {
      shape += `${column},`
      values.push(row[column]!)
    }
    return { shape, values }
  }

  /** The run's move: its insert (`run.started`) or its compare-and-swap update. */
  const advance = (plan: Plan): readonly [number, ReadonlyArray<Value>] => {
    if (plan.runRow !== undefined) {
      const { shape, values } = valuesOf(plan.runRow)
      return [
        shaped(
          `agent_runs|${shape}`,
          () => `${insertText("agent_runs", Object.keys(plan.runRow!))} ON CONFLICT DO NOTHING RETURNING id`
        ),
        values
      ]
    }
    const move = moveOf(plan)
    return [shaped(`move|${move.shape}`, move.text), move.params]
  }

  const compile = (plan: Plan): Op => {
    const rows = plan.rows.map((insert): readonly [number, ReadonlyArray<Value>, boolean] => {
      const { shape, values } = valuesOf(insert.row)
      const id = shaped(
        `${insert.table}|${insert.upsert?.join(",") ?? ""}|${shape}`,
        () => rowText(insert, Object.keys(insert.row))
      )
      return [id, values, insert.upsert !== undefined]
    })
    const u = plan.usage
    const event = valuesOf(plan.eventRow)
    return {
      a: advance(plan),
      r: rows,
      u: u === undefined
        ? null
        : [[u.id, u.id, u.iteration, u.provider, u.model, ...usageCounts(u), u.at, u.runKey], rollupRow(u)],
      e: [
        shaped(`run_events|${event.shape}`, () => insertText("run_events", Object.keys(plan.eventRow))),
        event.values
      ],
      k: [plan.runKey, plan.sequenceIndex, plan.eventType, plan.at]
    }
  }

  return {
    transact: (groups) =>
      Effect.suspend(() => {
        const ops = groups.map((plans) => plans.map(compile))
        const here = local !== undefined && fewRuns(groups) ? local(texts, ops) : undefined
        if (here !== undefined) return settle(here, groups)
        // The thread learns the texts it has not seen yet (those first used on the main thread included).
        const sent = defs
        defs = []
        return Effect.flatMap(post(sent, ops), (reply) => settle(reply, groups))
      })
  }
}
