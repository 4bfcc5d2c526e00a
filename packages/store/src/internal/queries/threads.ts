/**
 * Threads: a conversation's runs in the order they started (by their `run.started` row, since a thread's runs
 * start one after another) and all their messages, tenant-scoped like every read.
 */
import { Tables } from "@sextant/recorder"
import { Effect, Schema } from "effect"
import { ThreadNotFound } from "../../Errors.js"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as mappers from "../mappers.js"
import * as rows from "../rows.js"
import { query, type QueryContext, scoped, stored } from "./context.js"

const decodeCall = decode.options(Options.CallOptions)
const decodeThreadId = decode.argument("threadId", Options.RunId)

const notFound = (threadId: string) => new ThreadNotFound({ threadId, message: `Thread '${threadId}' not found.` })

/** `getThread`: the thread's runs, oldest first, and their messages in order, or `ThreadNotFound`. */
export const getThread = (ctx: QueryContext): Api.RunStoreService["getThread"] => (threadId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeThreadId(threadId)
    const o = yield* decodeCall(options)
    const { sql } = ctx
    const visible = sql.and([sql`thread_id = ${stored(id)}`, ...scoped(ctx, o.scope)])
    const runs = yield* query(Effect.flatMap(
      ctx.rows(sql`SELECT ${sql.literal(ctx.cols.summary)} FROM agent_runs WHERE ${visible}
        ORDER BY (SELECT s.id FROM run_events s WHERE s.agent_run_id = agent_runs.id AND s.sequence_index = 0),
          created_at, id`),
      mappers.runSummaries
    ))
    if (runs.length === 0) return yield* notFound(id)
    const raw = yield* query(ctx.rows(sql`SELECT agent_run_id, ${sql.literal(ctx.cols.trace)} FROM react_traces
      WHERE agent_run_id IN (SELECT id FROM agent_runs WHERE ${visible})`))
    const entries = yield* query(rows.traceEntries(raw))
    const position = new Map(runs.map((r, i) => [r.id, i] as const))
    const messages: Array<R.ThreadMessage> = entries.map((entry, i) => ({
      runId: Tables.unescapeText(String((raw[i] as { readonly agent_run_id: unknown }).agent_run_id)),
      ...entry
    }))
    messages.sort((a, b) => position.get(a.runId)! - position.get(b.runId)! || a.orderIndex - b.orderIndex)
    const priced = runs.every((r) => r.totals.costUsd !== null)
    return {
      threadId: id,
      tenantId: runs[0]!.tenantId,
      runCount: runs.length,
      lastActivityAt: runs.reduce((latest, r) => (r.updatedAt > latest ? r.updatedAt : latest), runs[0]!.updatedAt),
      totals: {
        inputTokens: runs.reduce((n, r) => n + r.totals.inputTokens, 0),
        outputTokens: runs.reduce((n, r) => n + r.totals.outputTokens, 0),
        costUsd: priced ? runs.reduce((n, r) => n + (r.totals.costUsd ?? 0), 0) : null
      },
      runs,
      messages
    }
  })

const decodeListThreads = decode.options(Options.ListThreadsOptions)

const f = Tables.agentRuns.Row.fields
/** One `GROUP BY thread_id` row, decoded with the recorder's column codecs (the same values on both dialects). */
const ThreadRow = Schema.Struct({
  thread_id: f.id,
  tenant_id: f.tenant_id,
  run_count: f.total_input_tokens,
  last_activity: f.updated_at,
  input_tokens: f.total_input_tokens,
  output_tokens: f.total_input_tokens,
  cost_nanos: f.total_cost_nanos,
  uncosted: f.total_input_tokens
})
const decodeThreadRows = Schema.decodeUnknownEither(Schema.Array(ThreadRow))

/** `listThreads`: conversations with their run count, last activity and totals, newest activity first. */
export const listThreads = (ctx: QueryContext): Api.RunStoreService["listThreads"] => (options) =>
  Effect.gen(function*() {
    const o = yield* decodeListThreads(options)
    const { sql } = ctx
    const conditions = [sql`thread_id IS NOT NULL`, ...scoped(ctx, o.scope)]
    if (o.tenantId !== undefined) conditions.push(sql`tenant_id = ${stored(o.tenantId)}`)
    const after = o.cursor === undefined ? sql.literal("") : sql`HAVING MAX(updated_at) < ${o.cursor.createdAt}
      OR (MAX(updated_at) = ${o.cursor.createdAt} AND thread_id < ${o.cursor.id})`
    const raw = yield* query(ctx.rows(sql`SELECT thread_id, MIN(tenant_id) AS tenant_id, COUNT(*) AS run_count,
        MAX(updated_at) AS last_activity, SUM(total_input_tokens) AS input_tokens,
        SUM(total_output_tokens) AS output_tokens, SUM(total_cost_nanos) AS cost_nanos,
        SUM(CASE WHEN total_cost_nanos IS NULL THEN 1 ELSE 0 END) AS uncosted
      FROM agent_runs WHERE ${sql.and(conditions)} GROUP BY thread_id ${after}
      ORDER BY last_activity DESC, thread_id DESC LIMIT ${o.limit + 1}`))
    const decoded = yield* query(decodeThreadRows(raw))
    const items: Array<R.ThreadSummary> = decoded.slice(0, o.limit).map((r) => ({
      threadId: r.thread_id,
      tenantId: r.tenant_id,
      runCount: r.run_count,
      lastActivityAt: r.last_activity,
      totals: {
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.uncosted > 0 ? null : rows.costOf(r.cost_nanos)
      }
    }))
    const last = items[items.length - 1]
    return {
      items,
      nextCursor: decoded.length > o.limit && last !== undefined
        ? Options.encodeCursor({ createdAt: last.lastActivityAt, id: stored(last.threadId) })
        : null
    }
  })
