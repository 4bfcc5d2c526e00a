/**
 * A run's rows by table: messages (`react_traces`), tool calls, model calls and `token_usage` rows, each
 * optionally restricted to one iteration.
 */
import { SqlError, type Statement } from "@effect/sql"
import { Tables } from "@sextant/recorder"
import { Effect } from "effect"
import type { StoreError } from "../../Errors.js"
import * as Options from "../../Options.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as rows from "../rows.js"
import { always, query, type QueryContext, requireRun, stored } from "./context.js"
import { decodeRunId } from "./runs.js"

const decodeIteration = decode.options(Options.IterationOptions)

/** A run's messages in order (each query here takes the run id as the caller knows it). */
export const traces = (ctx: QueryContext, runId: string, iteration: Statement.Fragment) =>
  query(Effect.flatMap(
    ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.trace)} FROM react_traces WHERE agent_run_id = ${stored(runId)}
      AND ${iteration} ORDER BY order_index`),
    rows.traceEntries
  ))

/** A run's tool calls in start order. */
export const toolCalls = (ctx: QueryContext, runId: string, iteration: Statement.Fragment) =>
  query(Effect.flatMap(
    ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.tool)} FROM tool_calls WHERE agent_run_id = ${stored(runId)}
      AND ${iteration} ORDER BY started_at, id`),
    rows.toolCalls
  ))

/**
 * A run's model calls in start order, each with its full request: a call stored as a delta (migration 8) is
 * rebuilt from the calls it continues (read too when an iteration filter left them out).
 */
export const llmCalls = (ctx: QueryContext, runId: string, iteration: Statement.Fragment) =>
  query(Effect.gen(function*() {
    const found = yield* Effect.flatMap(
      ctx.rows(
        ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.llm)} FROM llm_interactions WHERE agent_run_id = ${stored(runId)}
        AND ${iteration} ORDER BY started_at, id`
      ),
      rows.llmRows
    )
    if (found.every((r) => r.request_base === null)) return found.map(rows.toLlmCall)
    const ids = new Set(found.map((r) => r.id))
    const chain = found.every((r) => r.request_base === null || ids.has(r.request_base))
      ? found
      : yield* Effect.flatMap(
        ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.pg ? rows.requestChain.pg : rows.requestChain.sqlite)}
          FROM llm_interactions WHERE agent_run_id = ${stored(runId)}`),
        rows.requestChainRows
      )
    const full = yield* Effect.try({
      try: () =>
        Tables.rebuildRequests(chain.map((r) => ({
          id: r.id,
          request: r.semantic_request,
          base: r.request_base,
          prefix: r.request_prefix
        }))),
      catch: (cause) => new SqlError.SqlError({ cause, message: (cause as Error).message })
    })
    return found.map((r) => rows.toLlmCall({ ...r, semantic_request: full.get(r.id) ?? null }))
  }))

/** A run's `token_usage` rows in order. */
export const usageRows = (ctx: QueryContext, runId: string) =>
  query(Effect.flatMap(
    ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.usage)} FROM token_usage WHERE agent_run_id = ${stored(runId)}
      ORDER BY created_at, id`),
    rows.usageRecords
  ))

type PerRun<A> = (
  ctx: QueryContext,
  runId: string,
  iteration: Statement.Fragment
) => Effect.Effect<ReadonlyArray<A>, StoreError>

/** A per-run list method: decodes its arguments, checks the run is visible, lists the rows as `{ items }`. */
export const perRun = <A>(ctx: QueryContext, rowsOf: PerRun<A>) =>
(
  runId: string,
  options?: Api.IterationOptions
) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeIteration(options)
    yield* requireRun(ctx, id, o.scope)
    const iteration = o.iteration === undefined ? always(ctx) : ctx.sql`iteration = ${o.iteration}`
    return { items: yield* rowsOf(ctx, id, iteration) }
  })
