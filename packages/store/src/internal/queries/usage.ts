/**
 * Billing sums over `token_usage` (one row per completed model call, tenant and agent denormalised): rollups
 * grouped by tenant, agent, model and/or UTC day, and the totals of a run's subtree.
 */
import { Tables } from "@sextant/recorder"
import { Effect, Schema } from "effect"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as rows from "../rows.js"
import { chunks, query, type QueryContext, scoped, stored, where } from "./context.js"

const decodeUsage = decode.options(Options.UsageOptions)

// Costs are summed as integers (`cost_nanos`): a sum of REALs depends on the order the rows are added in, so
// the dialects would disagree in the last digit (0.840913 and 0.8409129999999997).
const SUMS = `${Tables.usageCountColumns.map((c) => `COALESCE(SUM(${c}), 0) AS ${c}`).join(",\n  ")},
  COUNT(DISTINCT agent_run_id) AS run_count,
  COUNT(*) AS model_call_count,
  COALESCE(SUM(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END), 0) AS unpriced_call_count`

const decodeSums = Schema.decodeUnknownEither(Schema.Array(rows.UsageSumsRow))

type Sums = typeof rows.UsageSumsRow.Type

const zeroSums: Sums = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  reasoning_tokens: 0,
  cost_nanos: 0,
  run_count: 0,
  model_call_count: 0,
  unpriced_call_count: 0
}

// Integers added (nanos included), so chunked sums equal one big sum; dollars once, at the end.
const addSums = (a: Sums, b: Sums): Sums => ({
  input_tokens: a.input_tokens + b.input_tokens,
  output_tokens: a.output_tokens + b.output_tokens,
  cache_read_tokens: a.cache_read_tokens + b.cache_read_tokens,
  cache_write_tokens: a.cache_write_tokens + b.cache_write_tokens,
  reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
  cost_nanos: a.cost_nanos + b.cost_nanos,
  run_count: a.run_count + b.run_count,
  model_call_count: a.model_call_count + b.model_call_count,
  unpriced_call_count: a.unpriced_call_count + b.unpriced_call_count
})

/** The sums over the `token_usage` rows of these runs (ids as the caller knows them). */
export const subtreeTotals = (ctx: QueryContext, runIds: ReadonlyArray<string>) =>
  query(Effect.forEach(chunks(runIds.map(stored)), (chunk) =>
    Effect.flatMap(
      ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(SUMS)} FROM token_usage WHERE agent_run_id IN ${ctx.sql.in(chunk)}`),
      decodeSums
    ))).pipe(Effect.map((parts) => rows.toUsageTotals(parts.flat().reduce(addSums, zeroSums))))

/** The SQL expression and result column of each dimension. */
const dimensions = (ctx: QueryContext): Record<R.UsageGroupBy, readonly [expr: string, alias: string]> => ({
  tenant: ["tenant_id", "tenant_id"],
  agent: ["agent_name", "agent_name"],
  model: ["model", "model"],
  day: [ctx.pg ? "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : "substr(created_at, 1, 10)", "day"]
})

// The grouped columns are text as stored (unescaped by `Tables.Text`); `day` is computed.
const GroupKeys = Schema.Struct({
  tenant_id: Schema.optional(Schema.NullOr(Tables.Text)),
  agent_name: Schema.optional(Tables.Text),
  model: Schema.optional(Tables.Text),
  day: Schema.optional(Schema.String)
})
const decodeGroups = Schema.decodeUnknownEither(Schema.Array(Schema.extend(GroupKeys, rows.UsageSumsRow)))

type GroupRow = Schema.Schema.Type<typeof GroupKeys> & Schema.Schema.Type<typeof rows.UsageSumsRow>

/** A result row as a group: only the keys grouped by, then the sums. */
const toGroup = (groupBy: ReadonlyArray<R.UsageGroupBy>) => (r: GroupRow): R.UsageGroup => ({
  ...(groupBy.includes("tenant") ? { tenantId: r.tenant_id ?? null } : {}),
  ...(groupBy.includes("agent") && r.agent_name !== undefined ? { agentName: r.agent_name } : {}),
  ...(groupBy.includes("model") && r.model !== undefined ? { model: r.model } : {}),
  ...(groupBy.includes("day") && r.day !== undefined ? { day: r.day } : {}),
  ...rows.toUsageTotals(r)
})

const DAY_MS = 86_400_000

/** Midnight UTC of the day of an ISO instant, and of the next day, as `YYYY-MM-DD`. */
const dayStart = (iso: string): number => Math.floor(Date.parse(iso) / DAY_MS) * DAY_MS
const dayText = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/**
 * Which part of `[from, to)` the rollup serves (whole UTC days) and which raw rows serve (the partial days at
 * either end). Without bounds everything is whole days.
 */
const split = (from: string | undefined, to: string | undefined) => {
  const first = from === undefined
    ? undefined
    : dayStart(from) === Date.parse(from)
    ? dayStart(from)
    : dayStart(from) + DAY_MS
  const end = to === undefined ? undefined : dayStart(to)
  if (first !== undefined && end !== undefined && first >= end) return { whole: undefined, raw: [[from, to]] as const }
  const raw: Array<readonly [string | undefined, string | undefined]> = []
  if (from !== undefined && first !== undefined && Date.parse(from) < first) {
    raw.push([from, new Date(first).toISOString()])
  }
  if (to !== undefined && end !== undefined && end < Date.parse(to)) raw.push([new Date(end).toISOString(), to])
  return {
    whole: { from: first === undefined ? undefined : dayText(first), to: end === undefined ? undefined : dayText(end) },
    raw
  }
}

/** The rollup's run count that is `COUNT(DISTINCT run)` for a grouping (see migration 4 of the recorder). */
const runCountColumn = (groupBy: ReadonlyArray<R.UsageGroupBy>): string =>
  groupBy.includes("model")
    ? groupBy.includes("day") ? "runs_model_day" : "runs_model"
    : groupBy.includes("day")
    ? "runs_day"
    : "runs"

/** The same sums as `SUMS`, from `usage_daily`. */
const rollupSums = (runs: string) =>
  `${Tables.usageCountColumns.map((c) => `SUM(${c}) AS ${c}`).join(", ")}, SUM(${runs}) AS run_count,
  SUM(model_call_count) AS model_call_count, SUM(unpriced_call_count) AS unpriced_call_count`

const OUTER_SUMS = [
  ...Tables.usageCountColumns,
  "run_count",
  "model_call_count",
  "unpriced_call_count"
].map((c) => `COALESCE(SUM(${c}), 0) AS ${c}`)
  .join(", ")

/**
 * `usage`: sums of `token_usage`, ordered by their keys. Whole UTC days are read from the recorder's per-day
 * rollup (`usage_daily`, written in the transaction of each billing row, so it always agrees with them), the
 * partial days at the ends of a `from`/`to` range from the raw rows; one statement adds both up. A range
 * grouped without `day` is read from the raw rows: distinct runs over part of a day's buckets cannot be
 * summed from them.
 */
export const usage = (ctx: QueryContext): Api.RunStoreService["usage"] => (options) =>
  Effect.gen(function*() {
    const o = yield* decodeUsage(options)
    const { sql } = ctx
    const tenant = [
      ...scoped(ctx, o.scope),
      ...(o.tenantId === undefined ? [] : [sql`tenant_id = ${stored(o.tenantId)}`])
    ]
    const keys = o.groupBy.map((g) => dimensions(ctx)[g])
    const aliases = keys.map(([, alias]) => alias).join(", ")
    const ranged = o.from !== undefined || o.to !== undefined
    const parts = ranged && !o.groupBy.includes("day")
      ? { whole: undefined, raw: [[o.from, o.to]] as const }
      : split(o.from, o.to)
    const rawSelect = (from: string | undefined, to: string | undefined) => {
      const conditions = [
        ...tenant,
        ...(from === undefined ? [] : [sql`created_at >= ${from}`]),
        ...(to === undefined ? [] : [sql`created_at < ${to}`])
      ]
      const select = keys.map(([expr, alias]) => `${expr} AS ${alias}, `).join("")
      const grouping = keys.length === 0 ? "" : ` GROUP BY ${keys.map(([expr]) => expr).join(", ")}`
      return sql`SELECT ${sql.literal(select + SUMS)} FROM token_usage ${where(ctx, conditions)}${
        sql.literal(grouping)
      }`
    }
    const selects = parts.raw.map(([from, to]) => rawSelect(from, to))
    if (parts.whole !== undefined) {
      const conditions = [
        ...tenant,
        ...(parts.whole.from === undefined ? [] : [sql`day >= ${parts.whole.from}`]),
        ...(parts.whole.to === undefined ? [] : [sql`day < ${parts.whole.to}`])
      ]
      const select = o.groupBy.map((g) =>
        `${g === "tenant" ? "tenant_id" : g === "agent" ? "agent_name" : g} AS ${dimensions(ctx)[g][1]}, `
      ).join("")
      const grouping = keys.length === 0 ? "" : ` GROUP BY ${aliases}`
      selects.unshift(
        sql`SELECT ${sql.literal(select + rollupSums(runCountColumn(o.groupBy)))} FROM usage_daily ${
          where(ctx, conditions)
        }${sql.literal(grouping)}`
      )
    }
    const union = selects.reduce((all, next) => sql`${all} UNION ALL ${next}`)
    const outer = keys.length === 0 ? "" : ` GROUP BY ${aliases} ORDER BY ${aliases}`
    const found = yield* query(Effect.flatMap(
      ctx.rows(
        sql`SELECT ${sql.literal((keys.length === 0 ? "" : `${aliases}, `) + OUTER_SUMS)} FROM (${union}) u${
          sql.literal(outer)
        }`
      ),
      decodeGroups
    ))
    return { items: found.map(toGroup(o.groupBy)) }
  })
