/**
 * A run's streams (`run_streams`: one aggregate per tool stream or streamed model call) and a stream's sampled
 * chunks (`stream_chunks`), decoded with the recorder's codecs like every other record.
 */
import { Tables } from "@sextant/recorder"
import { Effect, Schema } from "effect"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import { selection } from "../rows.js"
import { always, query, type QueryContext, requireRun, stored } from "./context.js"
import { decodeRunId } from "./runs.js"

const streamColumns = selection<Tables.RunStream, Exclude<keyof Tables.RunStream, "agent_run_id">>(
  Tables.runStreams,
  Tables.runStreams.columns.filter((c): c is Exclude<keyof Tables.RunStream, "agent_run_id"> => c !== "agent_run_id")
)
const chunkColumns = selection<
  Tables.StreamChunk,
  "sequence" | "offset_ms" | "bytes" | "encoding" | "data" | "created_at"
>(
  Tables.streamChunks,
  ["sequence", "offset_ms", "bytes", "encoding", "data", "created_at"]
)

const decodeStreams = Schema.decodeUnknownEither(Schema.Array(streamColumns.Row))
const decodeChunks = Schema.decodeUnknownEither(Schema.Array(chunkColumns.Row))

const toStream = (r: Schema.Schema.Type<typeof streamColumns.Row>): R.StreamRecord => ({
  id: r.id,
  kind: r.kind,
  name: r.name,
  iteration: r.iteration,
  chunkCount: r.chunk_count,
  bytes: r.bytes,
  timeToFirstChunkMs: r.time_to_first_chunk_ms,
  durationMs: r.duration_ms,
  chunksPerSecond: r.chunks_per_second,
  bytesPerSecond: r.bytes_per_second,
  sampledCount: r.sampled_count,
  startedAt: r.started_at,
  endedAt: r.ended_at
})

const toChunk = (r: Schema.Schema.Type<typeof chunkColumns.Row>): R.StreamChunkRecord => ({
  sequence: r.sequence,
  offsetMs: r.offset_ms,
  bytes: r.bytes,
  encoding: r.encoding,
  data: r.data,
  createdAt: r.created_at
})

const decodeIteration = decode.options(Options.IterationOptions)
const decodeChunkOptions = decode.options(Options.StreamChunksOptions)
const decodeStreamId = decode.argument("streamId", Options.RunId)

/** `getStreams`: a run's streams in start order (optionally of one iteration). */
export const getStreams = (ctx: QueryContext): Api.RunStoreService["getStreams"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const o = yield* decodeIteration(options)
    yield* requireRun(ctx, id, o.scope)
    const iteration = o.iteration === undefined ? always(ctx) : ctx.sql`iteration = ${o.iteration}`
    const columns = ctx.sql.literal(ctx.pg ? streamColumns.pg : streamColumns.sqlite)
    const rows = yield* query(Effect.flatMap(
      ctx.rows(ctx.sql`SELECT ${columns} FROM run_streams WHERE agent_run_id = ${stored(id)} AND ${iteration}
        ORDER BY started_at, id`),
      decodeStreams
    ))
    return { items: rows.map(toStream) }
  })

/** `getStreamChunks`: a stream's sampled chunks in sequence order, a page at a time. */
export const getStreamChunks =
  (ctx: QueryContext): Api.RunStoreService["getStreamChunks"] => (runId, streamId, options) =>
    Effect.gen(function*() {
      const id = yield* decodeRunId(runId)
      const stream = yield* decodeStreamId(streamId)
      const o = yield* decodeChunkOptions(options)
      yield* requireRun(ctx, id, o.scope)
      const columns = ctx.sql.literal(ctx.pg ? chunkColumns.pg : chunkColumns.sqlite)
      const rows = yield* query(Effect.flatMap(
        ctx.rows(ctx.sql`SELECT ${columns} FROM stream_chunks WHERE agent_run_id = ${stored(id)}
        AND stream_id = ${stored(stream)} AND sequence > ${o.after ?? -1} ORDER BY sequence LIMIT ${o.limit}`),
        decodeChunks
      ))
      return { items: rows.map(toChunk) }
    })
