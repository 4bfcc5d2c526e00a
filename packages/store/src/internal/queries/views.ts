/**
 * The views: run rows (a page of `listRuns` plus two grouped counts over the page's ids), the waiting runs
 * (with their last pause), and a run's timeline (one read of its events, normalised in `timeline.ts`).
 */
import type { SqlError } from "@effect/sql"
import { HookEvent, Lifecycle } from "@sextant/runtime"
import { Effect, Schema } from "effect"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as V from "../../Views.js"
import * as decode from "../decode.js"
import * as rows from "../rows.js"
import { buildTimeline } from "../timeline.js"
import { chunks, query, type QueryContext, requireRun, scoped, stored } from "./context.js"
import { allEvents } from "./events.js"
import { decodeRunId, filterConditions, listRuns } from "./runs.js"

const decodeWaiting = decode.options(V.WaitingOptions)
const decodeCall = decode.options(Options.CallOptions)

const Count = Schema.Struct({ id: Schema.String, n: Schema.Union(Schema.Number, Schema.NumberFromString) })
const decodeCounts = Schema.decodeUnknown(Schema.Array(Count))

/** `id → count` from a grouped count, over ids in chunks under the parameter limits. */
const countsBy = (
  ids: ReadonlyArray<string>,
  statement: (chunk: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<unknown>, SqlError.SqlError>
) =>
  query(Effect.forEach(chunks(ids), (chunk) => Effect.flatMap(statement(chunk), decodeCounts))).pipe(
    Effect.map((parts) => new Map(parts.flat().map((c) => [c.id, c.n] as const)))
  )

const pausedType = HookEvent.EventTypes.RunPaused

/** `listRunRows`: a page of `listRuns`, each run with its pause count, child count and wall time. */
export const listRunRows = (ctx: QueryContext): Api.RunStoreService["listRunRows"] => (options) =>
  Effect.gen(function*() {
    const page = yield* listRuns(ctx)(options)
    // Ids are looked up in their stored (escaped) form; the counts come back keyed by it.
    const ids = page.items.map((r) => stored(r.id))
    const { sql } = ctx
    // The scope of the children is that of the call, so a child outside it is neither listed nor counted.
    const callScope = (yield* decodeCall(options)).scope
    const [pauses, children] = yield* Effect.all([
      countsBy(ids, (chunk) =>
        sql`SELECT agent_run_id AS id, COUNT(*) AS n FROM run_events
          WHERE agent_run_id IN ${sql.in(chunk)} AND event_type = ${pausedType} GROUP BY agent_run_id`),
      countsBy(ids, (chunk) =>
        sql`SELECT parent_run_id AS id, COUNT(*) AS n FROM agent_runs
          WHERE ${sql.and([sql`parent_run_id IN ${sql.in(chunk)}`, ...scoped(ctx, callScope)])}
          GROUP BY parent_run_id`)
    ], { concurrency: "unbounded" })
    return {
      ...page,
      items: page.items.map((r): V.RunRow => ({
        ...r,
        pauseCount: pauses.get(stored(r.id)) ?? 0,
        childCount: children.get(stored(r.id)) ?? 0,
        durationMs: r.finishedAt === null ? null : Date.parse(r.finishedAt) - Date.parse(r.createdAt)
      }))
    }
  })

const waitingStatuses = [...Lifecycle.pausedStatuses]

/** `listWaiting`: runs in a waiting status, longest waiting first, each with its last pause. */
export const listWaiting = (ctx: QueryContext): Api.RunStoreService["listWaiting"] => (options) =>
  Effect.gen(function*() {
    const o = yield* decodeWaiting(options)
    const { sql } = ctx
    const conditions = [
      ...filterConditions(ctx, {
        scope: o.scope,
        status: waitingStatuses,
        ...(o.agentName === undefined ? {} : { agentName: o.agentName }),
        ...(o.tenantId === undefined ? {} : { tenantId: o.tenantId })
      })
    ]
    const [runs, total] = yield* query(Effect.all([
      Effect.flatMap(
        sql`SELECT ${sql.literal(ctx.cols.summary)} FROM agent_runs WHERE ${sql.and(conditions)}
          ORDER BY last_progress_at, id LIMIT ${o.limit}`,
        rows.runSummaries
      ),
      Effect.map(
        sql<{ readonly n: unknown }>`SELECT COUNT(*) AS n FROM agent_runs WHERE ${sql.and(conditions)}`,
        (r) => Number(r[0]!.n)
      )
    ], { concurrency: "unbounded" }))
    const pauses = yield* lastPauses(ctx, runs.map((r) => stored(r.id)))
    const asOf = new Date().toISOString()
    const items = runs.map((run): V.WaitingRun => {
      const pause = pauses.get(run.id)
      const data = (pause?.data ?? {}) as Record<string, unknown>
      const calls = Array.isArray(data.pendingCalls) ? (data.pendingCalls as Array<Record<string, unknown>>) : []
      const pausedAt = pause?.createdAt ?? run.updatedAt
      return {
        run,
        status: run.status as V.WaitingRun["status"],
        pausedAt,
        waitMs: Math.max(0, Date.parse(asOf) - Date.parse(pausedAt)),
        pendingCalls: calls.map((c) => ({
          id: String(c.id ?? ""),
          name: String(c.name ?? ""),
          target: String(c.target ?? "client")
        })),
        prompt: typeof data.prompt === "string" ? data.prompt : null
      }
    })
    return { items: items.sort((a, b) => a.pausedAt.localeCompare(b.pausedAt)), total, asOf }
  })

/** The last `run.paused` event of each run. */
const lastPauses = (ctx: QueryContext, ids: ReadonlyArray<string>) =>
  query(Effect.forEach(chunks(ids), (chunk) =>
    Effect.flatMap(
      ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.event)} FROM run_events e WHERE agent_run_id IN ${ctx.sql.in(chunk)}
        AND event_type = ${pausedType} AND sequence_index = (SELECT MAX(sequence_index) FROM run_events m
          WHERE m.agent_run_id = e.agent_run_id AND m.event_type = ${pausedType})`,
      rows.storedEvents
    ))).pipe(Effect.map((parts) => new Map(parts.flat().map((e): [string, R.StoredEvent] => [e.runId, e]))))

/** `getTimeline`: the run's nodes from its events, with its status and last sequence index. */
export const getTimeline = (ctx: QueryContext): Api.RunStoreService["getTimeline"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeCall(options)
    const status = yield* requireRun(ctx, id, o.scope)
    const events = yield* allEvents(ctx, id)
    return {
      runId: id,
      status: status as R.RunStatus,
      lastSequenceIndex: events[events.length - 1]?.sequenceIndex ?? -1,
      nodes: buildTimeline(events)
    }
  })
