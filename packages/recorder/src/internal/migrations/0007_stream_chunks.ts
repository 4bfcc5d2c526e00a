import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Migration 7: streams. `run_streams` holds one aggregate row per stream (a tool call's `stream.ended`, or a
 * streamed model call's deltas summed on `llm.completed`): chunk count, bytes, time to first chunk, duration and
 * rates. `stream_chunks` holds the chunks a tool's sampling kept, keyed by stream and sequence. Neither is
 * written row by row as chunks arrive: both are written in the transaction of the event that ends the stream.
 * Independent of migrations 5 and 6 (it touches no table they create or alter).
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const big = sql.literal(pg ? "BIGINT" : "INTEGER")
  const real = sql.literal(pg ? "DOUBLE PRECISION" : "REAL")
  const ts = sql.literal(pg ? "TIMESTAMPTZ" : "TEXT")
  const json = sql.literal(pg ? "JSONB" : "TEXT")
  yield* sql`CREATE TABLE run_streams (
    id TEXT PRIMARY KEY,
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    chunk_count ${big} NOT NULL,
    bytes ${big} NOT NULL,
    time_to_first_chunk_ms ${real},
    duration_ms ${real} NOT NULL,
    chunks_per_second ${real},
    bytes_per_second ${real},
    sampled_count INTEGER NOT NULL,
    started_at ${ts} NOT NULL,
    ended_at ${ts} NOT NULL
  )`
  yield* sql`CREATE INDEX run_streams_run ON run_streams (agent_run_id, started_at, id)`
  yield* sql`CREATE TABLE stream_chunks (
    stream_id TEXT NOT NULL,
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL,
    offset_ms ${real} NOT NULL,
    bytes INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    data ${json} NOT NULL,
    created_at ${ts} NOT NULL,
    PRIMARY KEY (stream_id, sequence)
  )`
  yield* sql`CREATE INDEX stream_chunks_run ON stream_chunks (agent_run_id)`
})
