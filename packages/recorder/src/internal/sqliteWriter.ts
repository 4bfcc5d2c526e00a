/**
 * The recorder's own SQLite write connection (better-sqlite3, the driver of `@effect/sql-sqlite-node`, which
 * does not expose its handle). Every statement the writer issues has one text per table and column shape,
 * prepared once on first use and kept: the run's insert, its compare-and-swap move (one text per set of
 * columns and usage fields), each table's insert or upsert, the billing row and its rollup, and `run_events`. A group commit
 * is one synchronous BEGIN IMMEDIATE … COMMIT, so no lock is ever held across an await; `busy_timeout` (the
 * ambient client's) lets the other connection's ledger writes and this one wait for each other, and a
 * timeout past it is `SQLITE_BUSY`, which the writer retries as before. Statements, outcomes and error
 * messages are those of the `@effect/sql` path (`write.ts`, `batch.ts`), which Postgres keeps.
 */
import { SqlError } from "@effect/sql"
import { Lifecycle } from "@sextant/runtime"
import { Effect, type Scope } from "effect"
import { createRequire } from "node:module"
import { WriteConflict } from "./conflict.js"
import { unescapeText } from "./escape.js"
import { type Plan, type RowInsert, usageCounts, type Value } from "./plan.js"
import { rollupRow, SQLITE_ROLLUP_SQL } from "./rollup.js"
import { MISSED_RUN_SQL, type MissedRun, missMessage, RECORDED_SQL, type WriteError } from "./write.js"

interface Prepared {
  readonly run: (...params: ReadonlyArray<Value>) => { readonly changes: number }
  readonly all: (...params: ReadonlyArray<Value>) => Array<unknown>
  readonly get: (...params: ReadonlyArray<Value>) => unknown
}
interface Connection {
  readonly prepare: (sql: string) => Prepared
  readonly pragma: (source: string) => unknown
  readonly close: () => void
  readonly inTransaction: boolean
}
type Driver = new(
  filename: string,
  options: { readonly fileMustExist: true; readonly timeout: number }
) => Connection

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

/** A miss of the batch: the writer retries its callers one by one, where each miss is resolved precisely. */
class Isolate extends Error {}

/** What a failed transaction was, as the writer's retry machine classifies it. */
const asWriteError = (cause: unknown): WriteError =>
  cause instanceof WriteConflict
    ? cause
    : cause instanceof Isolate
    ? new WriteConflict({ message: `${cause.message}: writing the batch's events one by one` })
    : new SqlError.SqlError({ cause, message: "Failed to execute statement" })

/** Opens the writer's connection on `filename` for the scope (the file exists: the ambient client made it). */
export const open = (
  filename: string,
  options: SqliteWriterOptions
): Effect.Effect<SqliteWriter, SqlError.SqlError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const Sqlite = createRequire(import.meta.url)("better-sqlite3") as Driver
        const db = new Sqlite(filename, { fileMustExist: true, timeout: options.busyTimeoutMs })
        db.pragma(`synchronous = ${Math.max(0, Math.min(3, Math.floor(options.synchronous)))}`)
        db.pragma("foreign_keys = ON")
        db.pragma("secure_delete = ON")
        return db
      },
      catch: (cause) => new SqlError.SqlError({ cause, message: `cannot open SQLite database ${filename}` })
    }),
    (db) => Effect.sync(() => db.close())
  ).pipe(Effect.map((db) => writerOn(db)))

const writerOn = (db: Connection): SqliteWriter => {
  // Texts are one per table and shape (a few dozen at most): each is prepared once and kept.
  const prepared = new Map<string, Prepared>()
  const prepare = (text: string) => {
    let statement = prepared.get(text)
    if (statement === undefined) {
      statement = db.prepare(text)
      prepared.set(text, statement)
    }
    return statement
  }
  const begin = prepare("BEGIN IMMEDIATE")
  const commit = prepare("COMMIT")
  const rollback = prepare("ROLLBACK")
  const usage = prepare(USAGE_SQL)
  const rollup = prepare(SQLITE_ROLLUP_SQL)
  const recorded = prepare(RECORDED_SQL)
  const missed = prepare(MISSED_RUN_SQL)

  // Statements by shape: a short key (table and column names) looked up per row; the text is built once.
  const byShape = new Map<string, Prepared>()
  const shaped = (shape: string, text: () => string) => {
    let statement = byShape.get(shape)
    if (statement === undefined) {
      statement = prepare(text())
      byShape.set(shape, statement)
    }
    return statement
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

  /** Moves the run; false when the row did not move (a replay or a conflict, resolved by the caller). */
  const advance = (plan: Plan): boolean => {
    if (plan.runRow !== undefined) {
      const { shape, values } = valuesOf(plan.runRow)
      return shaped(
        `agent_runs|${shape}`,
        () => `${insertText("agent_runs", Object.keys(plan.runRow!))} ON CONFLICT DO NOTHING RETURNING id`
      ).all(...values)
        .length > 0
    }
    const move = moveOf(plan)
    return shaped(`move|${move.shape}`, move.text).all(...move.params).length > 0
  }

  const writeRows = (plan: Plan) => {
    for (const insert of plan.rows) {
      const { shape, values } = valuesOf(insert.row)
      const statement = shaped(
        `${insert.table}|${insert.upsert?.join(",") ?? ""}|${shape}`,
        () => rowText(insert, Object.keys(insert.row))
      )
      if (insert.upsert === undefined) {
        statement.run(...values)
      } else if (statement.all(...values).length !== 1) {
        throw new WriteConflict({
          message: `${insert.table} id '${unescapeText(String(insert.row.id))}' is already recorded by another run ` +
            "(call ids are unique across runs)"
        })
      }
    }
    const u = plan.usage
    if (u !== undefined) {
      usage.run(
        u.id,
        u.id,
        u.iteration,
        u.provider,
        u.model,
        ...usageCounts(u),
        u.at,
        u.runKey
      )
      rollup.run(...rollupRow(u))
    }
    const event = valuesOf(plan.eventRow)
    shaped(`run_events|${event.shape}`, () => insertText("run_events", Object.keys(plan.eventRow))).run(...event.values)
  }

  /** One event of a lone caller: a miss is a replay (already durable: nothing written) or a conflict. */
  const applyOne = (plan: Plan, index: number | undefined) => {
    if (!advance(plan)) {
      if (recorded.get(plan.runKey, plan.sequenceIndex, plan.eventType, plan.at) !== undefined) return
      const message = missMessage(plan, missed.get(plan.runKey) as MissedRun | undefined)
      throw new WriteConflict({ message, index })
    }
    try {
      writeRows(plan)
    } catch (e) {
      throw e instanceof WriteConflict ? new WriteConflict({ message: e.message, index }) : e
    }
  }

  const run = (groups: ReadonlyArray<ReadonlyArray<Plan>>): WriteError | undefined => {
    begin.run()
    try {
      if (groups.length === 1) {
        const plans = groups[0]!
        plans.forEach((plan, i) => applyOne(plan, plans.length === 1 ? undefined : i))
      } else {
        for (const plans of groups) {
          for (const plan of plans) {
            if (!advance(plan)) {
              throw new Isolate(`${plan.eventType} #${plan.sequenceIndex} of run ${plan.runId} did not move its run`)
            }
            try {
              writeRows(plan)
            } catch (e) {
              throw e instanceof WriteConflict ? new Isolate(e.message) : e
            }
          }
        }
      }
      commit.run()
      return undefined
    } catch (cause) {
      if (db.inTransaction) rollback.run()
      return asWriteError(cause)
    }
  }

  return {
    transact: (groups) =>
      Effect.suspend(() => {
        let failed: WriteError | undefined
        try {
          failed = run(groups)
        } catch (cause) {
          // BEGIN itself failed (busy past the timeout), or the ROLLBACK did.
          failed = asWriteError(cause)
        }
        return failed === undefined ? Effect.void : Effect.fail(failed)
      })
  }
}
