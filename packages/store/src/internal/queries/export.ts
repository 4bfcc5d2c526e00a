/**
 * The export: matching runs paged by keyset, each with everything recorded about it, one element (or one
 * NDJSON line) per run, so memory stays bounded by one run whatever the number of runs.
 */
import { Chunk, Effect, Option, Stream } from "effect"
import type * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as calls from "./calls.js"
import { always, type QueryContext } from "./context.js"
import { allEvents } from "./events.js"
import { decodeFilter, detailOf, type Filter, pageOfRuns } from "./runs.js"

const EXPORT_PAGE = 100

/** A run with everything recorded about it; None when it was deleted between its page and its details. */
const exportOne = (ctx: QueryContext, summary: R.RunSummary, scope: Api.Scope | undefined) =>
  Effect.all({
    run: detailOf(ctx, summary.id, scope),
    events: allEvents(ctx, summary.id),
    traces: calls.traces(ctx, summary.id, always(ctx)),
    toolCalls: calls.toolCalls(ctx, summary.id, always(ctx)),
    llmCalls: calls.llmCalls(ctx, summary.id, always(ctx)),
    usage: calls.usageRows(ctx, summary.id)
  }, { concurrency: "unbounded" }).pipe(
    Effect.map(Option.some<R.ExportedRun>),
    Effect.catchTag("RunNotFound", () => Effect.succeed(Option.none<R.ExportedRun>()))
  )

/** Where the next page starts (None: the first page). */
type Position = Option.Option<Options.Cursor>

/** Matching runs, newest first, a page at a time. */
const summaries = (ctx: QueryContext, f: Filter) =>
  Stream.paginateChunkEffect(
    Option.none() as Position,
    (position) =>
      Effect.map(pageOfRuns(ctx, f, Option.getOrUndefined(position), EXPORT_PAGE), (page) =>
        [
          Chunk.unsafeFromArray(page.items),
          Option.map(Option.fromNullable(page.next), (next): Position => Option.some(next))
        ] as const)
  )

/** `exportRecords`. */
export const exportRecords = (ctx: QueryContext): Api.RunStoreService["exportRecords"] => (filter) =>
  Stream.unwrap(Effect.map(decodeFilter(filter), (f) =>
    summaries(ctx, f).pipe(
      Stream.mapEffect((summary) => exportOne(ctx, summary, f.scope)),
      Stream.filterMap((line) => line)
    )))

/** `exportRuns`: `exportRecords` as NDJSON lines. */
export const exportRuns = (ctx: QueryContext): Api.RunStoreService["exportRuns"] => (filter) =>
  Stream.map(exportRecords(ctx)(filter), (run) => `${JSON.stringify(run)}\n`)
