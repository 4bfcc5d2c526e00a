/**
 * Runs: the filter conditions shared by lists and exports, keyset pages, counts, and one run in full.
 */
import type { Statement } from "@effect/sql"
import { Tables } from "@sextant/recorder"
import { Effect } from "effect"
import type { StoreError } from "../../Errors.js"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as mappers from "../mappers.js"
import * as rows from "../rows.js"
import { notFound, query, type QueryContext, scoped, stored, where } from "./context.js"
import { countRuns } from "./count.js"

/** Decoded filters of `listRuns` / `exportRuns`. */
export type Filter = typeof Options.RunFilter.Type

/** Decodes the filters of `exportRuns`. */
export const decodeFilter = decode.options(Options.RunFilter)
const decodeList = decode.options(Options.ListRunsOptions)
const decodeCall = decode.options(Options.CallOptions)
/** Decodes a run id argument. */
export const decodeRunId = decode.argument("runId", Options.RunId)

const ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// Case folding of ASCII letters only, identically on both dialects: SQLite's LOWER() folds only ASCII, while
// Postgres' LOWER() folds by locale ('É' → 'é'), so Postgres folds with translate() instead.
const foldAscii = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase())

/** The LIKE pattern of a search text: a substring, `%`, `_` and `\` taken literally. */
export const likePattern = (text: string) => `%${foldAscii(text).replace(/[\\%_]/g, (c) => `\\${c}`)}%`

const folded = (ctx: QueryContext, column: "agent_name" | "id") =>
  ctx.pg
    ? ctx.sql`translate(${ctx.sql(column)}, ${ASCII_UPPER}, ${ASCII_UPPER.toLowerCase()})`
    : ctx.sql`LOWER(${ctx.sql(column)})`

const metadataCondition = (ctx: QueryContext, key: string, value: Options.MetadataValue) => {
  // As the recorder stores it: strings inside escaped like every text (keys are plain by `MetadataFilter`).
  const json = Tables.encodeJson(value)
  return ctx.pg
    ? ctx.sql`metadata -> ${key}::text = ${json}::jsonb`
    : ctx.sql`metadata -> ${`$."${key}"`} = ${json}`
}

/** The WHERE conditions of a filter (scopes included; none for no filter), every text in its stored form. */
export const filterConditions = (ctx: QueryContext, f: Filter): Array<Statement.Fragment> => {
  const { sql } = ctx
  const c: Array<Statement.Fragment> = scoped(ctx, f.scope)
  if (f.status !== undefined) c.push(f.status.length === 0 ? sql.literal("1=0") : sql`status IN ${sql.in(f.status)}`)
  if (f.agentName !== undefined) c.push(sql`agent_name = ${stored(f.agentName)}`)
  if (f.tenantId !== undefined) c.push(sql`tenant_id = ${stored(f.tenantId)}`)
  if (f.parentRunId !== undefined) c.push(sql`parent_run_id = ${stored(f.parentRunId)}`)
  if (f.threadId !== undefined) c.push(sql`thread_id = ${stored(f.threadId)}`)
  if (f.createdAfter !== undefined) c.push(sql`created_at >= ${f.createdAfter}`)
  if (f.createdBefore !== undefined) c.push(sql`created_at < ${f.createdBefore}`)
  for (const [key, value] of Object.entries(f.metadata ?? {})) c.push(metadataCondition(ctx, key, value))
  if (f.search !== undefined) {
    const p = likePattern(stored(f.search))
    c.push(sql`(${folded(ctx, "agent_name")} LIKE ${p} ESCAPE '\\' OR ${folded(ctx, "id")} LIKE ${p} ESCAPE '\\')`)
  }
  return c
}

/** A page of runs and, when there are more, where the next page starts. */
export interface Page {
  readonly items: ReadonlyArray<R.RunSummary>
  readonly next: Options.Cursor | undefined
}

// A cursor holds the stored form of the last id (`stored`), so the keyset compares what the index orders.
const keyset = (ctx: QueryContext, cursor: Options.Cursor) =>
  ctx.sql`(created_at < ${cursor.createdAt} OR (created_at = ${cursor.createdAt} AND id < ${cursor.id}))`

/** One page of runs matching `conditions`, newest first, after `cursor`. */
export const pageWhere = (
  ctx: QueryContext,
  conditions: ReadonlyArray<Statement.Fragment>,
  cursor: Options.Cursor | undefined,
  limit: number
): Effect.Effect<Page, StoreError> =>
  query(Effect.flatMap(
    ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.summary)} FROM agent_runs
      ${where(ctx, cursor === undefined ? conditions : [...conditions, keyset(ctx, cursor)])}
      ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`),
    mappers.runSummaries
  )).pipe(Effect.map((items) => {
    const page = items.length > limit ? items.slice(0, limit) : items
    const last = page[page.length - 1]
    return {
      items: page,
      next: items.length > limit && last !== undefined ? { createdAt: last.createdAt, id: stored(last.id) } : undefined
    }
  }))

/** One page of runs, newest first, after `cursor`. */
export const pageOfRuns = (
  ctx: QueryContext,
  f: Filter,
  cursor: Options.Cursor | undefined,
  limit: number
): Effect.Effect<Page, StoreError> => pageWhere(ctx, filterConditions(ctx, f), cursor, limit)

/** `listRuns`: a page and, as `includeTotal` asks, the count of every match or its estimate. */
export const listRuns = (ctx: QueryContext): Api.RunStoreService["listRuns"] => (options) =>
  Effect.gen(function*() {
    const o = yield* decodeList(options)
    const conditions = filterConditions(ctx, o)
    // SQLite has one connection and a synchronous driver: running the two statements side by side only adds fibers.
    const [page, total] = yield* Effect.all([
      pageWhere(ctx, conditions, o.cursor, o.limit),
      countRuns(ctx, conditions, o.includeTotal)
    ], { concurrency: ctx.pg ? 2 : 1 })
    return {
      items: page.items,
      nextCursor: page.next === undefined ? null : Options.encodeCursor(page.next),
      ...total
    }
  })

/** One run in full, or `RunNotFound`. */
export const detailOf = (ctx: QueryContext, runId: string, callScope: Api.Scope | undefined) =>
  query(Effect.flatMap(
    ctx.rows(
      ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.detail)} FROM agent_runs WHERE ${
        ctx.sql.and([ctx.sql`id = ${stored(runId)}`, ...scoped(ctx, callScope)])
      }`
    ),
    rows.runDetails
  )).pipe(Effect.flatMap((found) => (found.length === 0 ? Effect.fail(notFound(runId)) : Effect.succeed(found[0]!))))

/** `getRun`. */
export const getRun = (ctx: QueryContext): Api.RunStoreService["getRun"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeCall(options)
    return yield* detailOf(ctx, id, o.scope)
  })
