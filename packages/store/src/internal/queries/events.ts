/**
 * A run's events: a page, the live tail and the pause/resume pairs built from them. An idle tail waits for the
 * next commit of the run's events: on Postgres a notification wakes it (`notifications.ts`), with its poll
 * interval as the fallback; SQLite has no notifications and polls. Either way it re-reads from its cursor, so
 * what it emits is the same: every event once, in order.
 */
import { HookEvent, Lifecycle } from "@sextant/runtime"
import { Chunk, Effect, Option, Queue, Scope, Stream } from "effect"
import type { StoreError } from "../../Errors.js"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as mappers from "../mappers.js"
import { pairPauses } from "../pauses.js"
import { always, progressOf, query, type QueryContext, requireRun, scoped, stored } from "./context.js"
import { decodeRunId } from "./runs.js"

const STREAM_BATCH = 100
/** How many times a tail of a finished run re-reads when its events fall short of the run's last index. */
const SHORT_READS = 20

const decodePage = decode.options(Options.GetEventsOptions)
const decodeTail = decode.options(Options.StreamEventsOptions)
const decodeCall = decode.options(Options.CallOptions)

/** The recorded `event_type` strings after which a run never records again. */
const terminalEventTypes: ReadonlySet<string> = new Set(
  [...Lifecycle.terminalEventTags].map((tag) => HookEvent.EventTypes[tag])
)

/** Up to `limit` events after `after` (the run id as the caller knows it); under a scope, none unless the run is visible. */
const eventsAfter = (
  ctx: QueryContext,
  runId: string,
  after: number,
  limit: number,
  callScope?: Api.Scope | undefined
): Effect.Effect<Array<R.StoredEvent>, StoreError> => {
  const { sql } = ctx
  const id = stored(runId)
  const tenants = scoped(ctx, callScope)
  const visible = tenants.length === 0
    ? always(ctx)
    : sql`EXISTS (SELECT 1 FROM agent_runs WHERE ${sql.and([sql`id = ${id}`, ...tenants])})`
  return query(Effect.flatMap(
    ctx.rows(sql`SELECT ${sql.literal(ctx.cols.event)} FROM run_events WHERE agent_run_id = ${id}
      AND sequence_index > ${after} AND ${visible} ORDER BY sequence_index LIMIT ${limit}`),
    mappers.storedEvents
  ))
}

/** `getEvents`. */
export const getEvents = (ctx: QueryContext): Api.RunStoreService["getEvents"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodePage(options)
    // One statement when there are events (their rows prove the run is visible); a check only when empty.
    const items = yield* eventsAfter(ctx, id, o.after ?? -1, o.limit, o.scope)
    if (items.length === 0) yield* requireRun(ctx, id, o.scope)
    const last = items[items.length - 1]
    return { items, nextAfter: last?.sequenceIndex ?? o.after ?? null }
  })

/** The next non-empty batch after `cursor`, or None once the run has ended (unless `follow`). */
const nextBatch = (
  ctx: QueryContext,
  runId: string,
  scope: Api.Scope | undefined,
  follow: boolean,
  pollMs: number,
  listen: Effect.Effect<Queue.Dequeue<void>> | undefined
) => {
  let signal: Queue.Dequeue<void> | undefined
  // Reads of a finished run that came back short of its last event (bounded, so a run whose events were pruned
  // behind its counter still ends).
  let shortReads = 0
  // A notification or the poll interval, whichever comes first; signals already queued are folded into it.
  // The first time the tail is idle it starts listening and reads again at once (no wait): a commit after
  // that read is signalled, one before it is read. A tail that never idles (a finished run) never listens.
  const idle = Effect.suspend(() => {
    if (listen !== undefined && signal === undefined) {
      return Effect.map(listen, (queue) => void (signal = queue))
    }
    return signal === undefined
      ? Effect.sleep(pollMs)
      : Effect.zipRight(Effect.timeoutOption(Queue.take(signal), pollMs), Queue.takeAll(signal))
  })
  const loop = (cursor: number): Effect.Effect<Option.Option<Array<R.StoredEvent>>, StoreError> =>
    Effect.gen(function*() {
      const batch = yield* eventsAfter(ctx, runId, cursor, STREAM_BATCH)
      if (batch.length > 0) return Option.some(batch)
      const progress = yield* progressOf(ctx, runId, scope)
      if (!follow && progress !== undefined && Lifecycle.isTerminal(progress.status as HookEvent.RunStatus)) {
        // The status is terminal, so every event is committed: one last look, then the tail ends, but only once
        // it has read up to the run's last recorded event (a tail never ends short of the terminal event).
        const rest = yield* eventsAfter(ctx, runId, cursor, STREAM_BATCH)
        if (rest.length > 0) return Option.some(rest)
        if (cursor >= progress.last || ++shortReads > SHORT_READS) return Option.none()
      }
      yield* idle
      return yield* loop(cursor)
    })
  return loop
}

/** `streamEvents`: the recorded events, then new ones as they land; ends after the terminal one unless `follow`. */
export const streamEvents = (ctx: QueryContext): Api.RunStoreService["streamEvents"] => (runId, options) =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeTail(options)
    yield* requireRun(ctx, id, o.scope)
    const follow = o.follow === true
    // The subscription lives as long as the stream.
    const streamScope = yield* Effect.scope
    const hub = ctx.hub
    const listen = hub === undefined ? undefined : Scope.extend(hub.subscribe(stored(id)), streamScope)
    const next = nextBatch(ctx, id, o.scope, follow, o.pollIntervalMs, listen)
    return Stream.unfoldChunkEffect(
      { cursor: o.after ?? -1, ended: false },
      (state) =>
        state.ended ? Effect.succeed(Option.none()) : Effect.map(
          next(state.cursor),
          Option.map((batch) => {
            const end = batch.findIndex((e) => terminalEventTypes.has(e.eventType))
            const emitted = !follow && end >= 0 ? batch.slice(0, end + 1) : batch
            return [
              Chunk.unsafeFromArray(emitted),
              { cursor: emitted[emitted.length - 1]!.sequenceIndex, ended: !follow && end >= 0 }
            ] as const
          })
        )
    )
  }))

/** `getPauses`: pause/resume pairs from the run's `run.paused` and `run.resumed` events. */
export const getPauses = (ctx: QueryContext): Api.RunStoreService["getPauses"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeCall(options)
    yield* requireRun(ctx, id, o.scope)
    const events = yield* query(Effect.flatMap(
      ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.event)} FROM run_events WHERE agent_run_id = ${stored(id)}
        AND event_type IN ${ctx.sql.in([HookEvent.EventTypes.RunPaused, HookEvent.EventTypes.RunResumed])}
        ORDER BY sequence_index`),
      mappers.storedEvents
    ))
    return { items: pairPauses(events) }
  })

/** Every event of a run in order (for the export). */
export const allEvents = (ctx: QueryContext, runId: string) =>
  query(Effect.flatMap(
    ctx.rows(ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.event)} FROM run_events WHERE agent_run_id = ${stored(runId)}
      ORDER BY sequence_index`),
    mappers.storedEvents
  ))
