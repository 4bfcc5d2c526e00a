/**
 * Billing sums over `token_usage` (one row per completed model call, tenant and agent denormalised): rollups
 * grouped by tenant, agent, model and/or UTC day, and the totals of a run's subtree.
 */
import { Effect, Schema } from "effect"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as rows from "../rows.js"
import { chunks, query, type QueryContext, scoped } from "./context.js"

const decodeUsage = decode.options(Options.UsageOptions)

const SUMS = `COALESCE(SUM(input_tokens), 0) AS input_tokens,
  COALESCE(SUM(output_tokens), 0) AS output_tokens,
  COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
  COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
  COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens,
  COALESCE(SUM(cost_usd), 0) AS cost_usd,
  COUNT(DISTINCT agent_run_id) AS run_count,
  COUNT(*) AS model_call_count,
  COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0) AS unpriced_call_count`

const decodeSums = Schema.decodeUnknown(Schema.Array(rows.UsageSumsRow))

const zeroTotals: R.UsageTotals = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  costUsd: 0,
  runCount: 0,
  modelCallCount: 0,
  unpricedCallCount: 0
}

const addTotals = (a: R.UsageTotals, b: R.UsageTotals): R.UsageTotals => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  costUsd: a.costUsd + b.costUsd,
  runCount: a.runCount + b.runCount,
  modelCallCount: a.modelCallCount + b.modelCallCount,
  unpricedCallCount: a.unpricedCallCount + b.unpricedCallCount
})

/** The sums over the `token_usage` rows of these runs. */
export const subtreeTotals = (ctx: QueryContext, runIds: ReadonlyArray<string>) =>
  query(Effect.forEach(chunks(runIds), (chunk) =>
    Effect.flatMap(
      ctx.sql`SELECT ${ctx.sql.literal(SUMS)} FROM token_usage WHERE agent_run_id IN ${ctx.sql.in(chunk)}`,
      decodeSums
    ))).pipe(Effect.map((parts) => parts.flat().map(rows.toUsageTotals).reduce(addTotals, zeroTotals)))

/** The SQL expression and result column of each dimension. */
const dimensions = (ctx: QueryContext): Record<R.UsageGroupBy, readonly [expr: string, alias: string]> => ({
  tenant: ["tenant_id", "tenant_id"],
  agent: ["agent_name", "agent_name"],
  model: ["model", "model"],
  day: [ctx.pg ? "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : "substr(created_at, 1, 10)", "day"]
})

const GroupKeys = Schema.Struct({
  tenant_id: Schema.optional(Schema.NullOr(Schema.String)),
  agent_name: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  day: Schema.optional(Schema.String)
})
const decodeGroups = Schema.decodeUnknown(Schema.Array(Schema.extend(GroupKeys, rows.UsageSumsRow)))

type GroupRow = Schema.Schema.Type<typeof GroupKeys> & Schema.Schema.Type<typeof rows.UsageSumsRow>

/** A result row as a group: only the keys grouped by, then the sums. */
const toGroup = (groupBy: ReadonlyArray<R.UsageGroupBy>) => (r: GroupRow): R.UsageGroup => ({
  ...(groupBy.includes("tenant") ? { tenantId: r.tenant_id ?? null } : {}),
  ...(groupBy.includes("agent") && r.agent_name !== undefined ? { agentName: r.agent_name } : {}),
  ...(groupBy.includes("model") && r.model !== undefined ? { model: r.model } : {}),
  ...(groupBy.includes("day") && r.day !== undefined ? { day: r.day } : {}),
  ...rows.toUsageTotals(r)
})

/** `usage`: rollups of `token_usage`, ordered by their keys. */
export const usage = (ctx: QueryContext): Api.RunStoreService["usage"] => (options) =>
  Effect.gen(function*() {
    const o = yield* decodeUsage(options)
    const { sql } = ctx
    const conditions = [
      ...scoped(ctx, o.scope),
      ...(o.tenantId === undefined ? [] : [sql`tenant_id = ${o.tenantId}`]),
      ...(o.from === undefined ? [] : [sql`created_at >= ${o.from}`]),
      ...(o.to === undefined ? [] : [sql`created_at < ${o.to}`])
    ]
    const keys = o.groupBy.map((g) => dimensions(ctx)[g])
    const select = keys.map(([expr, alias]) => `${expr} AS ${alias}, `).join("")
    const exprs = keys.map(([expr]) => expr).join(", ")
    const grouping = keys.length === 0 ? "" : ` GROUP BY ${exprs} ORDER BY ${exprs}`
    const found = yield* query(Effect.flatMap(
      sql`SELECT ${sql.literal(select + SUMS)} FROM token_usage WHERE ${sql.and(conditions)}${sql.literal(grouping)}`,
      decodeGroups
    ))
    return { items: found.map(toGroup(o.groupBy)) }
  })
