/**
 * The RunStore's queries. Every query is tenant-scoped when a scope applies; every row is decoded with
 * `Schema` (see `rows.ts`); each per-run query reports `RunNotFound` for a run outside the scope.
 */
import { SqlClient, type SqlError, type Statement } from "@effect/sql"
import { Chunk, Effect, Option, Schema, Stream } from "effect"
import type { ParseError } from "effect/ParseResult"
import { InvalidQuery, RunNotFound, StoreError } from "../Errors.js"
import type * as R from "../Records.js"
import type * as Api from "../RunStore.js"
import { pairPauses } from "./pauses.js"
import * as rows from "./rows.js"
import * as v from "./validate.js"

const TERMINAL_EVENTS = new Set(["run.completed", "run.failed", "run.cancelled", "run.interrupted", "run.abandoned"])
const TERMINAL_STATUSES = new Set(["success", "error", "max_iterations", "cancelled"])
const ID_CHUNK = 500
const EXPORT_PAGE = 100
const STREAM_BATCH = 100
const MAX_TREE_DEPTH = 1000

const storeError = (e: SqlError.SqlError | ParseError) =>
  new StoreError({
    message: e._tag === "ParseError" ? `a row could not be decoded: ${e.message}` : `database error: ${e.message}`,
    cause: e
  })

/** Validated filters of `listRuns`/`exportRuns`. */
interface Filter {
  readonly status: ReadonlyArray<string> | undefined
  readonly agentName: string | undefined
  readonly tenantId: string | undefined
  readonly parentRunId: string | undefined
  readonly createdAfter: string | undefined
  readonly createdBefore: string | undefined
  readonly metadata: ReadonlyArray<readonly [string, string | number | boolean | null]> | undefined
  readonly search: string | undefined
  readonly scope: Api.Scope | undefined
}

const validateFilter = (f: Api.RunFilter) =>
  Effect.all({
    status: v.optionalStatuses(f.status),
    agentName: v.optionalText("agentName", f.agentName),
    tenantId: v.optionalText("tenantId", f.tenantId),
    parentRunId: v.optionalText("parentRunId", f.parentRunId),
    createdAfter: v.optionalInstant("createdAfter", f.createdAfter),
    createdBefore: v.optionalInstant("createdBefore", f.createdBefore),
    metadata: v.optionalMetadata(f.metadata),
    search: v.optionalText("search", f.search),
    scope: validateScope(f.scope)
  })

const validateScope = (scope: Api.Scope | undefined): Effect.Effect<Api.Scope | undefined, InvalidQuery> =>
  scope === undefined || (typeof scope.tenantId === "string" && scope.tenantId.length > 0)
    ? Effect.succeed(scope)
    : Effect.fail(new InvalidQuery({ field: "scope.tenantId", message: "scope.tenantId: must be a non-empty string" }))

const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** Makes the store over the `SqlClient` in context. */
export const make = (
  options: Api.RunStoreOptions = {}
): Effect.Effect<Api.RunStoreService, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    const cols = rows.columns(pg)
    const lit = (s: string) => sql.literal(s)
    const summaryCols = lit(cols.summary)

    /** Tenant conditions of the store's scope and the call's scope (on a table with a `tenant_id` column). */
    const scopeConditions = (callScope: Api.Scope | undefined, column = "tenant_id"): Array<Statement.Fragment> =>
      [options.scope, callScope].flatMap((s) => (s === undefined ? [] : [sql`${sql(column)} = ${s.tenantId}`]))

    const run = <A>(effect: Effect.Effect<A, SqlError.SqlError | ParseError>) => Effect.mapError(effect, storeError)

    const notFound = (runId: string) => new RunNotFound({ runId, message: `Run '${runId}' not found.` })

    /** Fails with `RunNotFound` unless the run exists within the scopes. */
    const requireRun = (runId: string, callScope: Api.Scope | undefined) =>
      Effect.gen(function*() {
        if (typeof runId !== "string" || runId.length === 0) return yield* notFound(String(runId))
        const scope = yield* validateScope(callScope)
        const found = yield* run(
          sql`SELECT status FROM agent_runs WHERE ${sql.and([sql`id = ${runId}`, ...scopeConditions(scope)])}`
        )
        if (found.length === 0) return yield* notFound(runId)
        return { status: String(found[0]!.status), scope }
      })

    const filterConditions = (f: Filter): Array<Statement.Fragment> => {
      const c: Array<Statement.Fragment> = scopeConditions(f.scope)
      if (f.status !== undefined) c.push(f.status.length === 0 ? lit("1=0") : sql`status IN ${sql.in(f.status)}`)
      if (f.agentName !== undefined) c.push(sql`agent_name = ${f.agentName}`)
      if (f.tenantId !== undefined) c.push(sql`tenant_id = ${f.tenantId}`)
      if (f.parentRunId !== undefined) c.push(sql`parent_run_id = ${f.parentRunId}`)
      if (f.createdAfter !== undefined) c.push(sql`created_at >= ${f.createdAfter}`)
      if (f.createdBefore !== undefined) c.push(sql`created_at < ${f.createdBefore}`)
      for (const [key, value] of f.metadata ?? []) {
        const json = JSON.stringify(value)
        c.push(pg ? sql`metadata -> ${key}::text = ${json}::jsonb` : sql`metadata -> ${`$."${key}"`} = ${json}`)
      }
      if (f.search !== undefined) {
        const p = likePattern(f.search)
        c.push(sql`(LOWER(agent_name) LIKE ${p} ESCAPE '\\' OR LOWER(id) LIKE ${p} ESCAPE '\\')`)
      }
      return c
    }

    const keyset = (cursor: v.Cursor) =>
      sql`(created_at < ${cursor.createdAt} OR (created_at = ${cursor.createdAt} AND id < ${cursor.id}))`

    const pageOfRuns = (f: Filter, cursor: v.Cursor | undefined, limit: number) =>
      run(
        Effect.flatMap(
          sql`SELECT ${summaryCols} FROM agent_runs
            WHERE ${sql.and([...filterConditions(f), ...(cursor === undefined ? [] : [keyset(cursor)])])}
            ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`,
          rows.runSummaries
        )
      ).pipe(Effect.map((items) => {
        const more = items.length > limit
        const page = more ? items.slice(0, limit) : items
        const last = page[page.length - 1]
        return {
          items: page,
          next: more && last !== undefined ? { createdAt: last.createdAt, id: last.id } : undefined
        }
      }))

    const listRuns: Api.RunStoreService["listRuns"] = (o = {}) =>
      Effect.gen(function*() {
        const f = yield* validateFilter(o)
        const cursor = yield* v.optionalCursor(o.cursor)
        const limit = yield* v.intInRange("limit", o.limit, 1, 1000, 50)
        const [page, count] = yield* Effect.all([
          pageOfRuns(f, cursor, limit),
          run(sql`SELECT COUNT(*) AS n FROM agent_runs WHERE ${sql.and(filterConditions(f))}`)
        ], { concurrency: "unbounded" })
        return {
          items: page.items,
          nextCursor: page.next === undefined ? null : v.encodeCursor(page.next),
          total: Number(count[0]!.n)
        }
      })

    const detailOf = (runId: string, scope: Api.Scope | undefined) =>
      run(
        Effect.flatMap(
          sql`SELECT ${lit(cols.detail)} FROM agent_runs WHERE ${
            sql.and([sql`id = ${runId}`, ...scopeConditions(scope)])
          }`,
          rows.runDetails
        )
      ).pipe(Effect.flatMap((found) => (found.length === 0 ? Effect.fail(notFound(runId)) : Effect.succeed(found[0]!))))

    const getRun: Api.RunStoreService["getRun"] = (runId, o = {}) =>
      Effect.flatMap(validateScope(o.scope), (scope) => detailOf(runId, scope))

    const eventsAfter = (runId: string, after: number, limit: number, scope?: Api.Scope | undefined) => {
      const tenants = scopeConditions(scope)
      const visible = tenants.length === 0
        ? lit("1=1")
        : sql`EXISTS (SELECT 1 FROM agent_runs WHERE ${sql.and([sql`id = ${runId}`, ...tenants])})`
      return run(
        Effect.flatMap(
          sql`SELECT ${lit(cols.event)} FROM run_events WHERE agent_run_id = ${runId} AND sequence_index > ${after}
            AND ${visible} ORDER BY sequence_index LIMIT ${limit}`,
          rows.storedEvents
        )
      )
    }

    const getEvents: Api.RunStoreService["getEvents"] = (runId, o = {}) =>
      Effect.gen(function*() {
        const after = yield* v.optionalIndex("after", o.after)
        const limit = yield* v.intInRange("limit", o.limit, 1, 1000, 100)
        const scope = yield* validateScope(o.scope)
        // One statement when there are events (their rows prove the run is visible); a check only when empty.
        const items = yield* eventsAfter(runId, after ?? -1, limit, scope)
        if (items.length === 0) yield* requireRun(runId, scope)
        const last = items[items.length - 1]
        return { items, nextAfter: last?.sequenceIndex ?? after ?? null }
      })

    const streamEvents: Api.RunStoreService["streamEvents"] = (runId, o = {}) =>
      Stream.unwrap(Effect.gen(function*() {
        const after = yield* v.optionalIndex("after", o.after)
        const pollMs = yield* v.intInRange("pollIntervalMs", o.pollIntervalMs, 1, 60_000, 250)
        const { scope } = yield* requireRun(runId, o.scope)
        const follow = o.follow === true
        const status = run(
          sql`SELECT status FROM agent_runs WHERE ${sql.and([sql`id = ${runId}`, ...scopeConditions(scope)])}`
        ).pipe(Effect.map((r) => String(r[0]?.status ?? "")))
        // One step: the next non-empty batch, or None once the run is over (and not followed).
        const next = (cursor: number): Effect.Effect<Option.Option<Array<R.StoredEvent>>, StoreError> =>
          Effect.gen(function*() {
            const batch = yield* eventsAfter(runId, cursor, STREAM_BATCH)
            if (batch.length > 0) return Option.some(batch)
            if (!follow && TERMINAL_STATUSES.has(yield* status)) {
              // The status is terminal, so every event is committed: one last look, then the tail ends.
              const rest = yield* eventsAfter(runId, cursor, STREAM_BATCH)
              return rest.length > 0 ? Option.some(rest) : Option.none()
            }
            yield* Effect.sleep(pollMs)
            return yield* next(cursor)
          })
        return Stream.unfoldChunkEffect({ cursor: after ?? -1, ended: false }, (state) =>
          state.ended
            ? Effect.succeed(Option.none())
            : Effect.map(
              next(state.cursor),
              Option.map((batch) => {
                const end = batch.findIndex((e) => TERMINAL_EVENTS.has(e.eventType))
                const emitted = !follow && end >= 0 ? batch.slice(0, end + 1) : batch
                return [
                  Chunk.unsafeFromArray(emitted),
                  { cursor: emitted[emitted.length - 1]!.sequenceIndex, ended: !follow && end >= 0 }
                ] as const
              })
            ))
      }))

    const perRun = <A>(
      runId: string,
      o: Api.IterationOptions,
      query: (iteration: Statement.Fragment) => Effect.Effect<Array<A>, SqlError.SqlError | ParseError>
    ) =>
      Effect.gen(function*() {
        const iteration = yield* v.optionalIndex("iteration", o.iteration)
        yield* requireRun(runId, o.scope)
        return yield* run(query(iteration === undefined ? lit("1=1") : sql`iteration = ${iteration}`))
      })

    const traces = (runId: string, iteration: Statement.Fragment) =>
      Effect.flatMap(
        sql`SELECT ${
          lit(cols.trace)
        } FROM react_traces WHERE agent_run_id = ${runId} AND ${iteration} ORDER BY order_index`,
        rows.traceEntries
      )
    const toolCalls = (runId: string, iteration: Statement.Fragment) =>
      Effect.flatMap(
        sql`SELECT ${lit(cols.tool)} FROM tool_calls WHERE agent_run_id = ${runId} AND ${iteration}
          ORDER BY started_at, id`,
        rows.toolCalls
      )
    const llmCalls = (runId: string, iteration: Statement.Fragment) =>
      Effect.flatMap(
        sql`SELECT ${lit(cols.llm)} FROM llm_interactions WHERE agent_run_id = ${runId} AND ${iteration}
          ORDER BY started_at, id`,
        rows.llmCalls
      )
    const usageRows = (runId: string) =>
      Effect.flatMap(
        sql`SELECT ${lit(cols.usage)} FROM token_usage WHERE agent_run_id = ${runId} ORDER BY created_at, id`,
        rows.usageRecords
      )
    const allEvents = (runId: string) =>
      Effect.flatMap(
        sql`SELECT ${lit(cols.event)} FROM run_events WHERE agent_run_id = ${runId} ORDER BY sequence_index`,
        rows.storedEvents
      )

    const getPauses: Api.RunStoreService["getPauses"] = (runId, o = {}) =>
      Effect.gen(function*() {
        yield* requireRun(runId, o.scope)
        const events = yield* run(Effect.flatMap(
          sql`SELECT ${lit(cols.event)} FROM run_events WHERE agent_run_id = ${runId}
            AND event_type IN ('run.paused', 'run.resumed') ORDER BY sequence_index`,
          rows.storedEvents
        ))
        return pairPauses(events)
      })

    const sumsSelect = lit(`COALESCE(SUM(input_tokens), 0) AS input_tokens,
      COALESCE(SUM(output_tokens), 0) AS output_tokens,
      COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
      COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
      COALESCE(SUM(reasoning_tokens), 0) AS reasoning_tokens,
      COALESCE(SUM(cost_usd), 0) AS cost_usd,
      COUNT(DISTINCT agent_run_id) AS run_count,
      COUNT(*) AS model_call_count,
      COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0) AS unpriced_call_count`)
    const decodeSums = Schema.decodeUnknown(Schema.Array(rows.UsageSumsRow))

    const getRunTree: Api.RunStoreService["getRunTree"] = (runId, o = {}) =>
      Effect.gen(function*() {
        const scope = yield* validateScope(o.scope)
        const scoped = scopeConditions(scope)
        const byIds = (ids: ReadonlyArray<string>, column: "id" | "parent_run_id") =>
          run(Effect.forEach(
            chunks(ids),
            (chunk) =>
              Effect.flatMap(
                sql`SELECT ${summaryCols} FROM agent_runs WHERE ${
                  sql.and([sql`${sql(column)} IN ${sql.in(chunk)}`, ...scoped])
                }
                  ORDER BY created_at, id`,
                rows.runSummaries
              )
          )).pipe(Effect.map((pages) => pages.flat()))
        const [self] = yield* byIds([runId], "id")
        if (self === undefined) return yield* notFound(runId)
        const seen = new Set([self.id])
        // Ancestors, nearest first until the root (or a cycle, or a parent outside the scope).
        const ancestors: Array<R.RunSummary> = []
        let parentId = self.parentRunId
        while (parentId !== null && !seen.has(parentId) && ancestors.length < MAX_TREE_DEPTH) {
          const [parent] = yield* byIds([parentId], "id")
          if (parent === undefined) break
          seen.add(parent.id)
          ancestors.push(parent)
          parentId = parent.parentRunId
        }
        // Descendants, level by level, never visiting a run twice.
        const childrenOf = new Map<string, Array<R.RunSummary>>()
        const subtree = [self.id]
        let level = [self.id]
        for (let depth = 0; level.length > 0 && depth < MAX_TREE_DEPTH; depth++) {
          const found = (yield* byIds(level, "parent_run_id")).filter((r) => !seen.has(r.id))
          for (const child of found) {
            seen.add(child.id)
            subtree.push(child.id)
            const siblings = childrenOf.get(child.parentRunId!) ?? []
            siblings.push(child)
            childrenOf.set(child.parentRunId!, siblings)
          }
          level = found.map((r) => r.id)
        }
        const node = (r: R.RunSummary): R.RunTreeNode => ({ run: r, children: (childrenOf.get(r.id) ?? []).map(node) })
        const sums = yield* run(Effect.forEach(chunks(subtree), (chunk) =>
          Effect.flatMap(
            sql`SELECT ${sumsSelect} FROM token_usage WHERE agent_run_id IN ${sql.in(chunk)}`,
            decodeSums
          ))).pipe(Effect.map((parts) => parts.flat().map(rows.toUsageTotals)))
        const totals = sums.reduce(addTotals, { ...zeroTotals })
        return {
          run: self,
          ancestors: ancestors.reverse(),
          children: node(self).children,
          subtreeTotals: { ...totals, runCount: subtree.length }
        }
      })

    const dayExpr = pg ? "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : "substr(created_at, 1, 10)"
    const groupColumns: Record<R.UsageGroupBy, readonly [expr: string, alias: string]> = {
      tenant: ["tenant_id", "tenant_id"],
      agent: ["agent_name", "agent_name"],
      model: ["model", "model"],
      day: [dayExpr, "day"]
    }
    const GroupKeys = Schema.Struct({
      tenant_id: Schema.optional(Schema.NullOr(Schema.String)),
      agent_name: Schema.optional(Schema.String),
      model: Schema.optional(Schema.String),
      day: Schema.optional(Schema.String)
    })
    const decodeGroups = Schema.decodeUnknown(Schema.Array(Schema.extend(GroupKeys, rows.UsageSumsRow)))

    const usage: Api.RunStoreService["usage"] = (o = {}) =>
      Effect.gen(function*() {
        const groupBy = yield* v.groupBy(o.groupBy)
        const from = yield* v.optionalInstant("from", o.from)
        const to = yield* v.optionalInstant("to", o.to)
        const tenantId = yield* v.optionalText("tenantId", o.tenantId)
        const scope = yield* validateScope(o.scope)
        const conditions = [
          ...scopeConditions(scope),
          ...(tenantId === undefined ? [] : [sql`tenant_id = ${tenantId}`]),
          ...(from === undefined ? [] : [sql`created_at >= ${from}`]),
          ...(to === undefined ? [] : [sql`created_at < ${to}`])
        ]
        const keys = groupBy.map((g) => groupColumns[g])
        const select = keys.map(([expr, alias]) => `${expr} AS ${alias}, `).join("")
        const grouping = keys.length === 0 ? "" : ` GROUP BY ${keys.map(([expr]) => expr).join(", ")}`
        const order = keys.length === 0 ? "" : ` ORDER BY ${keys.map(([expr]) => expr).join(", ")}`
        const found = yield* run(Effect.flatMap(
          sql`SELECT ${lit(select)}${sumsSelect} FROM token_usage WHERE ${sql.and(conditions)}${lit(grouping)}${
            lit(order)
          }`,
          decodeGroups
        ))
        return found.map((r): R.UsageGroup => ({
          ...(groupBy.includes("tenant") ? { tenantId: r.tenant_id ?? null } : {}),
          ...(groupBy.includes("agent") && r.agent_name !== undefined ? { agentName: r.agent_name } : {}),
          ...(groupBy.includes("model") && r.model !== undefined ? { model: r.model } : {}),
          ...(groupBy.includes("day") && r.day !== undefined ? { day: r.day } : {}),
          ...rows.toUsageTotals(r)
        }))
      })

    const exportOne = (summary: R.RunSummary, scope: Api.Scope | undefined) =>
      Effect.gen(function*() {
        const id = summary.id
        const all = lit("1=1")
        const [detail, events, traceList, tools, llm, usageList] = yield* Effect.all([
          detailOf(id, scope),
          run(allEvents(id)),
          run(traces(id, all)),
          run(toolCalls(id, all)),
          run(llmCalls(id, all)),
          run(usageRows(id))
        ], { concurrency: "unbounded" })
        return { run: detail, events, traces: traceList, toolCalls: tools, llmCalls: llm, usage: usageList }
      }).pipe(
        // A run deleted between its page and its details is skipped.
        Effect.map(Option.some),
        Effect.catchTag("RunNotFound", () => Effect.succeed(Option.none()))
      )

    const exportRecords: Api.RunStoreService["exportRecords"] = (filter = {}) =>
      Stream.unwrap(Effect.map(validateFilter(filter), (f) =>
        Stream.paginateChunkEffect(undefined as v.Cursor | undefined, (cursor) =>
          Effect.map(pageOfRuns(f, cursor, EXPORT_PAGE), (page) =>
            [
              Chunk.unsafeFromArray(page.items),
              Option.fromNullable(page.next).pipe(Option.map((c) =>
                c as v.Cursor | undefined
              ))
            ] as const)).pipe(
            Stream.mapEffect((summary) =>
              exportOne(summary, f.scope)
            ),
            Stream.filterMap((line) => line)
          )))

    const exportRuns: Api.RunStoreService["exportRuns"] = (filter) =>
      Stream.map(exportRecords(filter), (line) =>
        `${JSON.stringify(line)}\n`)

    return {
      listRuns,
      getRun,
      getEvents,
      streamEvents,
      getTraces: (runId, o = {}) => perRun(runId, o, (it) => traces(runId, it)),
      getToolCalls: (runId, o = {}) => perRun(runId, o, (it) => toolCalls(runId, it)),
      getLlmCalls: (runId, o = {}) => perRun(runId, o, (it) => llmCalls(runId, it)),
      getPauses,
      getRunTree,
      usage,
      exportRecords,
      exportRuns
    } satisfies Api.RunStoreService
  })

const chunks = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += ID_CHUNK) out.push(items.slice(i, i + ID_CHUNK))
  return out
}

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
