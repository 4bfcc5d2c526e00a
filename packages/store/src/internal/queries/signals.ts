/**
 * Failure signals: the rows `@sextant/detectors` wrote to `failure_signals` (migration 0005), read with the
 * recorder's column codecs (text unescaped, JSON parsed, booleans and timestamps alike on both dialects). The
 * store reads the table itself and never imports the detectors; each record carries its explanation
 * (`Explain.explain`, the templates live in this package).
 */
import type { Statement } from "@effect/sql"
import { Tables } from "@sextant/recorder"
import { Effect, Schema } from "effect"
import { explain } from "../../Explain.js"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import { query, type QueryContext, requireRun, scoped, stored } from "./context.js"

const SignalRow = Schema.Struct({
  id: Tables.Text,
  run_id: Tables.Text,
  tenant_id: Schema.NullOr(Tables.Text),
  agent_name: Tables.Text,
  signal_type: Tables.Text,
  severity: Tables.Text,
  confidence: Tables.Num,
  step_start: Tables.Num,
  step_end: Tables.Num,
  evidence: Tables.Json,
  shadow: Tables.Bool,
  label: Schema.NullOr(Tables.Text),
  labelled_at: Schema.NullOr(Tables.Timestamp),
  detected_at: Tables.Timestamp
})
const decodeRows = Schema.decodeUnknownEither(Schema.Array(SignalRow))

const columns = (pg: boolean) =>
  `id, run_id, tenant_id, agent_name, signal_type, severity, confidence, step_start, step_end, ${
    pg ? "evidence::text AS evidence" : "evidence"
  }, shadow, label, labelled_at, detected_at`

const toRecord = (r: typeof SignalRow.Type): R.SignalRecord => {
  const record: Omit<R.SignalRecord, "explanation"> = {
    id: r.id,
    runId: r.run_id,
    tenantId: r.tenant_id,
    agentName: r.agent_name,
    type: r.signal_type,
    severity: r.severity,
    confidence: r.confidence,
    step: { start: r.step_start, end: r.step_end },
    evidence: typeof r.evidence === "object" && r.evidence !== null && !Array.isArray(r.evidence)
      ? (r.evidence as Record<string, unknown>)
      : {},
    shadow: r.shadow,
    label: r.label,
    labelledAt: r.labelled_at,
    detectedAt: r.detected_at
  }
  return { ...record, explanation: explain(record) }
}

const read = (ctx: QueryContext, statement: Statement.Statement<unknown>) =>
  query(Effect.flatMap(ctx.rows(statement), decodeRows)).pipe(Effect.map((rows) => rows.map(toRecord)))

/** The condition of a shadow mode (none for `include`). */
const shadowCondition = (ctx: QueryContext, mode: Options.ShadowMode): Array<Statement.Fragment> =>
  mode === "include"
    ? []
    : [ctx.sql.literal(ctx.pg ? (mode === "only" ? "shadow" : "NOT shadow") : `shadow = ${mode === "only" ? 1 : 0}`)]

const decodeRunId = decode.argument("runId", Options.RunId)
const decodeRunSignals = decode.options(Options.RunSignalsOptions)

/** `getRunSignals`: a visible run's signals in step order, or `RunNotFound`. */
export const getRunSignals = (ctx: QueryContext): Api.RunStoreService["getRunSignals"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeRunSignals(options)
    yield* requireRun(ctx, id, o.scope)
    const { sql } = ctx
    const conditions = [sql`run_id = ${stored(id)}`, ...shadowCondition(ctx, o.shadow)]
    const items = yield* read(
      ctx,
      sql`SELECT ${sql.literal(columns(ctx.pg))} FROM failure_signals WHERE ${sql.and(conditions)}
        ORDER BY step_start, signal_type, id`
    )
    return { items }
  })

const decodeList = decode.options(Options.ListSignalsOptions)

/** `listSignals`: signals matching the filters, newest detection first (`detected_at`, then `id`), keyset pages. */
export const listSignals = (ctx: QueryContext): Api.RunStoreService["listSignals"] => (options) =>
  Effect.gen(function*() {
    const o = yield* decodeList(options)
    const { sql } = ctx
    const conditions = [...scoped(ctx, o.scope), ...shadowCondition(ctx, o.shadow)]
    if (o.agentName !== undefined) conditions.push(sql`agent_name = ${stored(o.agentName)}`)
    if (o.type !== undefined) conditions.push(sql`signal_type = ${o.type}`)
    if (o.severity !== undefined) conditions.push(sql`severity = ${o.severity}`)
    if (o.tenantId !== undefined) conditions.push(sql`tenant_id = ${stored(o.tenantId)}`)
    if (o.since !== undefined) conditions.push(sql`detected_at >= ${o.since}`)
    if (o.until !== undefined) conditions.push(sql`detected_at < ${o.until}`)
    if (o.cursor !== undefined) {
      conditions.push(sql`(detected_at < ${o.cursor.createdAt}
        OR (detected_at = ${o.cursor.createdAt} AND id < ${o.cursor.id}))`)
    }
    const where = conditions.length === 0 ? sql.literal("") : sql`WHERE ${sql.and(conditions)}`
    const found = yield* read(
      ctx,
      sql`SELECT ${sql.literal(columns(ctx.pg))} FROM failure_signals ${where}
        ORDER BY detected_at DESC, id DESC LIMIT ${o.limit + 1}`
    )
    const items = found.slice(0, o.limit)
    const last = items[items.length - 1]
    return {
      items,
      nextCursor: found.length > o.limit && last !== undefined
        ? Options.encodeCursor({ createdAt: last.detectedAt, id: stored(last.id) })
        : null
    }
  })
