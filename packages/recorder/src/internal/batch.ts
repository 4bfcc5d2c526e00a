import { type SqlClient, type SqlError, Statement } from "@effect/sql"
import { Lifecycle } from "@sextant/runtime"
import { Array as Arr, Effect } from "effect"
import { WriteConflict } from "./conflict.js"
import { unescapeText } from "./escape.js"
import { costFromNanos, type Plan, type RowInsert, usageCounts, type Value } from "./plan.js"
import { rollupRow, rollupUpsert } from "./rollup.js"
import { llmInteractions, reactTraces, runEvents, runStreams, sqlType, streamChunks, toolCalls } from "./tables.js"

type Sql = SqlClient.SqlClient
type Kind = "text" | "int" | "real" | "ts"

// Both drivers take ~32k (SQLite) / 65k (Postgres) parameters per statement; stay well under either.
const MAX_PARAMS = 30_000

const chunks = <A>(items: ReadonlyArray<A>, columns: number): ReadonlyArray<ReadonlyArray<A>> =>
  Arr.chunksOf(items, Math.max(1, Math.floor(MAX_PARAMS / columns)))

/**
 * A parameter bound as it is: `@effect/sql-pg` passes the value of its JSON fragment to node-postgres untouched,
 * which sends a JS array as a Postgres array literal (elements quoted and escaped, null as NULL).
 */
const pgParam = Statement.custom<Statement.Custom<"PgJson", unknown>>("PgJson")

const PG_ARRAY: Record<Kind, string> = { text: "text[]", int: "bigint[]", real: "float8[]", ts: "timestamptz[]" }

/**
 * Postgres: one array parameter per column, `unnest($1::text[], $2::bigint[], …)`: one statement text (and one
 * prepared plan) for any number of rows, and two parameters' worth of work per column instead of a CAST
 * around every value.
 */
const unnest = (
  sql: Sql,
  types: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<Value>>
): Statement.Fragment => {
  const params = types.map((type, i) =>
    sql`${pgParam(rows.map((row) => row[i] ?? null), undefined, undefined)}::${sql.literal(type)}`
  )
  return sql`SELECT * FROM unnest(${sql.csv(params)})`
}

const isPg = (sql: Sql): boolean => sql.onDialectOrElse({ pg: () => true, orElse: () => false })

/**
 * A `name(columns) AS (…)` list. Postgres: `unnest` of one array per column; SQLite: `VALUES` whose parameters
 * are cast, so that they are stored with the column's affinity.
 */
const values = (
  sql: Sql,
  name: string,
  columns: ReadonlyArray<readonly [string, Kind]>,
  rows: ReadonlyArray<ReadonlyArray<Value>>
) => {
  const head = sql`${sql(name)} (${sql.csv(columns.map(([column]) => sql`${sql(column)}`))})`
  if (isPg(sql)) return sql`${head} AS (${unnest(sql, columns.map(([, kind]) => PG_ARRAY[kind]), rows)})`
  const cast = (value: Value, kind: Kind): Statement.Fragment => {
    switch (kind) {
      case "text":
        return sql`CAST(${value} AS TEXT)`
      case "int":
        return sql`CAST(${value} AS BIGINT)`
      case "real":
        return sql`CAST(${value} AS DOUBLE PRECISION)`
      case "ts":
        return sql`${value}`
    }
  }
  const list = sql.csv(rows.map((row) => sql`(${sql.csv(row.map((value, i) => cast(value, columns[i]![1])))})`))
  return sql`${head} AS (VALUES ${list})`
}

const PROGRESS: ReadonlyArray<readonly [string, Kind]> = [
  ["id", "text"],
  ["st", "text"],
  ["seq", "int"],
  ["prev", "int"],
  ["at", "ts"],
  ["iter", "int"],
  ["d_in", "int"],
  ["d_out", "int"],
  ["d_cache_read", "int"],
  ["d_cache_write", "int"],
  ["d_reasoning", "int"],
  ["d_cost", "int"],
  ["d_calls", "int"],
  ["d_unpriced", "int"]
]

const addOptional = (sql: Sql, column: string, delta: string) =>
  sql`${sql(column)} = CASE WHEN v.${sql(delta)} IS NULL THEN agent_runs.${sql(column)}
    ELSE COALESCE(agent_runs.${sql(column)}, 0) + v.${sql(delta)} END`

/**
 * One compare-and-swap UPDATE moving many runs forward (each guarded by its sequence index and the status the
 * lifecycle requires); returns the ids it moved. Costs add integer nano-dollars; the USD total is derived.
 */
export const progressStatements = (sql: Sql, plans: ReadonlyArray<Plan>) =>
  chunks(plans, PROGRESS.length).map((chunk) => {
    const rows = chunk.map((p): ReadonlyArray<Value> => {
      const u = p.progress?.usage
      return [
        p.runKey,
        p.progress!.status,
        p.sequenceIndex,
        p.sequenceIndex - 1,
        p.at,
        p.progress?.iteration ?? null,
        u?.inputTokens ?? 0,
        u?.outputTokens ?? 0,
        u?.cacheReadTokens ?? null,
        u?.cacheWriteTokens ?? null,
        u?.reasoningTokens ?? null,
        u?.costUsd === undefined ? null : Lifecycle.toNanos(u.costUsd),
        u === undefined ? 0 : 1,
        u !== undefined && u.costUsd === undefined ? 1 : 0
      ]
    })
    return sql<{ readonly id: string }>`WITH ${values(sql, "v", PROGRESS, rows)}
      UPDATE agent_runs SET last_sequence_index = v.seq, last_progress_at = v.at, updated_at = v.at,
        iteration_count = COALESCE(v.iter, agent_runs.iteration_count),
        total_input_tokens = agent_runs.total_input_tokens + v.d_in,
        total_output_tokens = agent_runs.total_output_tokens + v.d_out,
        ${addOptional(sql, "total_cache_read_tokens", "d_cache_read")},
        ${addOptional(sql, "total_cache_write_tokens", "d_cache_write")},
        ${addOptional(sql, "total_reasoning_tokens", "d_reasoning")},
        ${addOptional(sql, "total_cost_nanos", "d_cost")},
        total_cost_usd = CASE WHEN v.d_cost IS NULL THEN agent_runs.total_cost_usd
          ELSE ${costFromNanos(sql, sql`COALESCE(agent_runs.total_cost_nanos, 0) + v.d_cost`)} END,
        model_call_count = agent_runs.model_call_count + v.d_calls,
        unpriced_call_count = agent_runs.unpriced_call_count + v.d_unpriced
      FROM v WHERE agent_runs.id = v.id AND agent_runs.last_sequence_index = v.prev AND agent_runs.status = v.st
      RETURNING agent_runs.id`
  })

const USAGE: ReadonlyArray<readonly [string, Kind]> = [
  ["id", "text"],
  ["run", "text"],
  ["iteration", "int"],
  ["provider", "text"],
  ["model", "text"],
  ["inp", "int"],
  ["outp", "int"],
  ["cache_read", "int"],
  ["cache_write", "int"],
  ["reasoning", "int"],
  ["cost", "real"],
  ["nanos", "int"],
  ["at", "ts"]
]

const usageStatements = (sql: Sql, plans: ReadonlyArray<Plan>) =>
  chunks(plans.flatMap((p) => (p.usage === undefined ? [] : [p.usage])), USAGE.length).map((chunk) => {
    const rows = chunk.map((r): ReadonlyArray<Value> => [
      r.id,
      r.runKey,
      r.iteration,
      r.provider,
      r.model,
      ...usageCounts(r),
      r.at
    ])
    // Billing rows carry the run's tenant and agent (copied from its row), so usage queries need no join.
    return sql`WITH ${values(sql, "v", USAGE, rows)}
      INSERT INTO token_usage (id, agent_run_id, llm_interaction_id, tenant_id, agent_name, iteration, provider, model,
        input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, cost_nanos,
        created_at)
      SELECT v.id, v.run, v.id, r.tenant_id, r.agent_name, v.iteration, v.provider, v.model, v.inp, v.outp,
        v.cache_read, v.cache_write, v.reasoning, v.cost, v.nanos, v.at
      FROM v JOIN agent_runs r ON r.id = v.run`
  })

const ROLLUP: ReadonlyArray<readonly [string, Kind]> = [
  ["id", "text"],
  ["run", "text"],
  ["model", "text"],
  ["day", "text"],
  ["inp", "int"],
  ["outp", "int"],
  ["cr", "int"],
  ["cw", "int"],
  ["rs", "int"],
  ["nanos", "int"]
]

/** The per-day rollup of the billing rows just inserted (`rollup.ts`), in the same transaction. */
const rollupStatements = (sql: Sql, plans: ReadonlyArray<Plan>) => {
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  return chunks(plans.flatMap((p) => (p.usage === undefined ? [] : [p.usage])), ROLLUP.length).map((chunk) => {
    const rows = chunk.map(rollupRow)
    return sql`WITH ${values(sql, "v", ROLLUP, rows)} ${sql.literal(rollupUpsert(pg))}`
  })
}

/** One statement of rows; an upsert lists the ids it must find absent or its own run's (it returns those). */
interface RowsWrite {
  readonly statement: Statement.Statement<unknown>
  readonly owned?: { readonly table: RowInsert["table"]; readonly ids: ReadonlyArray<string> }
}

/**
 * An upsert only ever updates a row of its own run: call ids are the kernel's correlation ids, unique across
 * runs, so an id another run recorded is a conflict rather than an overwrite of that run's record.
 */
const definitions = {
  react_traces: reactTraces.definition,
  tool_calls: toolCalls.definition,
  llm_interactions: llmInteractions.definition,
  run_events: runEvents.definition,
  run_streams: runStreams.definition,
  stream_chunks: streamChunks.definition
} as Record<string, Record<string, { readonly kind: Parameters<typeof sqlType>[0] }>>

/**
 * `INSERT INTO table (columns) …` of rows of one shape: Postgres from `unnest` (one array per column, typed as
 * the column), SQLite from a multi-row `VALUES`.
 */
const insertRows = (sql: Sql, table: string, rows: ReadonlyArray<Readonly<Record<string, Value>>>) => {
  // The names are the fixed table names (unquoted, as the statements have always read).
  const name = sql.literal(table)
  if (!isPg(sql)) return sql`INSERT INTO ${name} ${sql.insert(rows as Array<Record<string, Value>>)}`
  const columns = Object.keys(rows[0]!)
  const types = columns.map((c) => `${sqlType(definitions[table]![c]!.kind, "pg")}[]`)
  return sql`INSERT INTO ${name} (${sql.csv(columns.map((c) => sql`${sql(c)}`))}) ${
    unnest(sql, types, rows.map((row) => columns.map((c) => row[c]!)))
  }`
}

const upsertStatement = (
  sql: Sql,
  table: RowInsert["table"],
  chunk: ReadonlyArray<RowInsert>,
  upsert: ReadonlyArray<string>
) =>
  sql`${insertRows(sql, table, chunk.map((i) => i.row))} ON CONFLICT (id) DO UPDATE SET ${
    sql.csv(upsert.map((column) => sql`${sql(column)} = excluded.${sql(column)}`))
  } WHERE ${sql(table)}.agent_run_id = excluded.agent_run_id RETURNING id`

const rowWrites = (sql: Sql, inserts: ReadonlyArray<RowInsert>): ReadonlyArray<RowsWrite> => {
  const groups = new Map<string, Array<RowInsert>>()
  for (const insert of inserts) {
    const key = `${insert.table}|${Object.keys(insert.row).join(",")}|${insert.upsert?.join(",") ?? ""}`
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [insert])
    else group.push(insert)
  }
  return [...groups.values()].flatMap((group) => {
    const { table, upsert } = group[0]!
    return chunks(group, Object.keys(group[0]!.row).length).map((chunk): RowsWrite =>
      upsert === undefined
        ? { statement: insertRows(sql, table, chunk.map((i) => i.row)) }
        : {
          statement: upsertStatement(sql, table, chunk, upsert),
          owned: { table, ids: chunk.map((i) => String(i.row.id)) }
        }
    )
  })
}

const allWrites = (sql: Sql, plans: ReadonlyArray<Plan>): ReadonlyArray<RowsWrite> => [
  ...rowWrites(sql, plans.flatMap((p) => p.rows)),
  ...usageStatements(sql, plans).map((statement) => ({ statement })),
  ...rollupStatements(sql, plans).map((statement) => ({ statement })),
  ...chunks(plans, 7).map((chunk) => ({
    statement: insertRows(sql, "run_events", chunk.map((p) => p.eventRow))
  }))
]

/** The statements writing the rows of events whose runs have moved: multi-row, one per table and shape. */
export const rowsStatements = (sql: Sql, plans: ReadonlyArray<Plan>): ReadonlyArray<Statement.Statement<unknown>> =>
  allWrites(sql, plans).map((w) => w.statement)

/**
 * Writes the rows of events whose runs have moved (`rowsStatements`, in order). An upsert that met another
 * run's row (it returns only the rows it wrote) fails with `WriteConflict` naming the ids.
 */
export const writeRows = (
  sql: Sql,
  plans: ReadonlyArray<Plan>
): Effect.Effect<void, SqlError.SqlError | WriteConflict> =>
  Effect.forEach(allWrites(sql, plans), ({ owned, statement }) =>
    Effect.flatMap(statement, (written) => {
      const rows = written as ReadonlyArray<{ readonly id: string }>
      if (owned === undefined || rows.length === owned.ids.length) return Effect.void
      const mine = new Set(rows.map((r) => r.id))
      const taken = owned.ids.filter((id) => !mine.has(id)).map((id) => `'${unescapeText(id)}'`)
      return Effect.fail(
        new WriteConflict({
          message: `${owned.table} id ${taken.join(", ")} is already recorded by another run (call ids are ` +
            `unique across runs)`
        })
      )
    }), { discard: true })
