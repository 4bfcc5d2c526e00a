/**
 * How many runs match a list's filter: exactly (`COUNT(*)`, no `WHERE` at all without a filter, so SQLite
 * counts the b-tree instead of visiting rows), not at all, or estimated at a bounded cost:
 *
 * - both dialects first count the matches up to `exactBound` (a `LIMIT`ed subquery): at most that many, the
 *   estimate is exact;
 * - beyond it, Postgres takes the planner's row estimate of the filtered `SELECT` (`EXPLAIN (FORMAT JSON)`'s
 *   "Plan Rows": `pg_class.reltuples` scaled to the table's current size for an unfiltered list, times the
 *   filter's selectivity from the column statistics otherwise), so it is as fresh as the last ANALYZE;
 * - SQLite has no planner estimate to ask: an unfiltered list counts exactly (the b-tree count), a filtered one
 *   scales the share of matches among the newest `sampleSize` runs to the whole table's count.
 *
 * An estimate is never below the bound it passed, and is returned as `estimatedTotal`, never as `total`.
 */
import type { SqlError, Statement } from "@effect/sql"
import { Tables } from "@sextant/recorder"
import { Effect, Either, Schema } from "effect"
import type { StoreError } from "../../Errors.js"
import type * as Options from "../../Options.js"
import { query, type QueryContext, where } from "./context.js"

/** Matches counted exactly before an estimate is used. */
export const exactBound = 1000

/** SQLite: how many of the newest runs a filtered estimate samples. */
export const sampleSize = 10_000

/** The total fields of a page: `total`, `estimatedTotal` or neither. */
export type Total = { readonly total?: number; readonly estimatedTotal?: number }

// COUNT(*) is a number on SQLite and, through `Database`, on Postgres (an int8 string over another client).
const decodeCounts = Schema.decodeUnknownEither(Schema.Array(Schema.Struct({ n: Tables.Num })))
const decodeSample = Schema.decodeUnknownEither(
  Schema.Array(Schema.Struct({ matched: Tables.Num, sampled: Tables.Num }))
)

const countOf = (
  statement: Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError>
): Effect.Effect<number, StoreError> =>
  query(Effect.flatMap(statement, (rows) => Either.map(decodeCounts(rows), (r) => r[0]?.n ?? 0)))

/** The exact number of runs matching `conditions`. */
export const exactCount = (ctx: QueryContext, conditions: ReadonlyArray<Statement.Fragment>) =>
  countOf(ctx.rows(ctx.sql`SELECT COUNT(*) AS n FROM agent_runs ${where(ctx, conditions)}`))

const boundedCount = (ctx: QueryContext, conditions: ReadonlyArray<Statement.Fragment>) =>
  countOf(
    ctx.rows(
      ctx.sql`SELECT COUNT(*) AS n FROM (SELECT 1 AS one FROM agent_runs ${where(ctx, conditions)} LIMIT ${
        exactBound + 1
      }) AS bounded`
    )
  )

/** The "Plan Rows" of an `EXPLAIN (FORMAT JSON)` result (JSON as text through `Database`, or parsed by another client). */
const planRows = (rows: ReadonlyArray<Record<string, unknown>>): number => {
  try {
    const raw = rows[0]?.["QUERY PLAN"]
    const plan = (typeof raw === "string" ? JSON.parse(raw) : raw) as ReadonlyArray<
      { readonly Plan?: { readonly "Plan Rows"?: unknown } }
    >
    const n = Number(plan[0]?.Plan?.["Plan Rows"])
    return Number.isFinite(n) ? Math.round(n) : 0
  } catch {
    // A plan in an unexpected shape: the bound already counted stands.
    return 0
  }
}

const plannerEstimate = (ctx: QueryContext, conditions: ReadonlyArray<Statement.Fragment>) =>
  query(
    ctx.rows(ctx.sql<Record<string, unknown>>`EXPLAIN (FORMAT JSON) SELECT 1 FROM agent_runs ${where(ctx, conditions)}`)
  )
    .pipe(Effect.map(planRows))

const sampledEstimate = (ctx: QueryContext, conditions: ReadonlyArray<Statement.Fragment>) =>
  Effect.gen(function*() {
    const all = yield* exactCount(ctx, [])
    // The columns a filter can name (`filterConditions`), over the newest runs by the `created_at` index.
    const [sample] = yield* query(Effect.flatMap(
      ctx.rows(ctx.sql`SELECT COALESCE(SUM(CASE WHEN ${ctx.sql.and(conditions)} THEN 1 ELSE 0 END), 0) AS matched,
        COUNT(*) AS sampled
        FROM (SELECT id, status, tenant_id, agent_name, parent_run_id, created_at, metadata FROM agent_runs
          ORDER BY created_at DESC, id DESC LIMIT ${sampleSize}) AS newest`),
      decodeSample
    ))
    return sample === undefined || sample.sampled === 0 ? 0 : Math.round((sample.matched / sample.sampled) * all)
  })

/** An estimate of the runs matching `conditions`, at a cost bounded whatever the table's size. */
export const estimateCount = (
  ctx: QueryContext,
  conditions: ReadonlyArray<Statement.Fragment>
): Effect.Effect<number, StoreError> =>
  Effect.flatMap(boundedCount(ctx, conditions), (counted) => {
    if (counted <= exactBound) return Effect.succeed(counted)
    const beyond = ctx.pg
      ? plannerEstimate(ctx, conditions)
      : conditions.length === 0
      ? exactCount(ctx, conditions)
      : sampledEstimate(ctx, conditions)
    return Effect.map(beyond, (n) => Math.max(n, counted))
  })

/** The total of a list as `includeTotal` asks: exact (`true`), none (`false`) or `"estimate"`. */
export const countRuns = (
  ctx: QueryContext,
  conditions: ReadonlyArray<Statement.Fragment>,
  mode: Options.TotalMode
): Effect.Effect<Total, StoreError> =>
  mode === true
    ? Effect.map(exactCount(ctx, conditions), (total) => ({ total }))
    : mode === "estimate"
    ? Effect.map(estimateCount(ctx, conditions), (estimatedTotal) => ({ estimatedTotal }))
    : Effect.succeed({})
