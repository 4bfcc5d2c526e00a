import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * The six tables. Portable types: JSON is JSONB (Postgres) / TEXT (SQLite) written with JSON.stringify;
 * timestamps are TIMESTAMPTZ / ISO-8601 UTC TEXT; booleans BOOLEAN / INTEGER 0-1; costs DOUBLE PRECISION / REAL.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const t = sql.onDialectOrElse({
    pg: () => ({
      json: sql.literal("JSONB"),
      ts: sql.literal("TIMESTAMPTZ"),
      bool: sql.literal("BOOLEAN"),
      big: sql.literal("BIGINT"),
      real: sql.literal("DOUBLE PRECISION"),
      serial: sql.literal("BIGSERIAL PRIMARY KEY")
    }),
    orElse: () => ({
      json: sql.literal("TEXT"),
      ts: sql.literal("TEXT"),
      bool: sql.literal("INTEGER"),
      big: sql.literal("INTEGER"),
      real: sql.literal("REAL"),
      serial: sql.literal("INTEGER PRIMARY KEY AUTOINCREMENT")
    })
  })

  yield* sql`CREATE TABLE agent_runs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT,
    agent_name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    instructions TEXT NOT NULL,
    answer TEXT,
    model TEXT,
    provider TEXT,
    parent_run_id TEXT REFERENCES agent_runs(id) ON DELETE SET NULL,
    delegation_level INTEGER NOT NULL DEFAULT 0,
    retry_of_run_id TEXT REFERENCES agent_runs(id) ON DELETE SET NULL,
    idempotency_key TEXT,
    idempotency_fingerprint TEXT,
    iteration_count INTEGER NOT NULL DEFAULT 0,
    total_input_tokens ${t.big} NOT NULL DEFAULT 0,
    total_output_tokens ${t.big} NOT NULL DEFAULT 0,
    total_cache_read_tokens ${t.big},
    total_cache_write_tokens ${t.big},
    total_reasoning_tokens ${t.big},
    total_cost_usd ${t.real},
    model_call_count INTEGER NOT NULL DEFAULT 0,
    unpriced_call_count INTEGER NOT NULL DEFAULT 0,
    metadata ${t.json},
    pause_state ${t.json},
    error_tag TEXT,
    error_message TEXT,
    failure_reason TEXT,
    cancel_requested ${t.bool} NOT NULL DEFAULT ${
    sql.onDialectOrElse({ pg: () => sql.literal("FALSE"), orElse: () => sql.literal("0") })
  },
    last_sequence_index INTEGER NOT NULL DEFAULT -1,
    created_at ${t.ts} NOT NULL,
    updated_at ${t.ts} NOT NULL,
    last_progress_at ${t.ts} NOT NULL,
    finished_at ${t.ts}
  )`
  yield* sql`CREATE UNIQUE INDEX agent_runs_idempotency_key ON agent_runs (idempotency_key)`
  yield* sql`CREATE INDEX agent_runs_created ON agent_runs (created_at, id)`
  yield* sql`CREATE INDEX agent_runs_status_created ON agent_runs (status, created_at, id)`
  yield* sql`CREATE INDEX agent_runs_tenant_created ON agent_runs (tenant_id, created_at, id)`
  yield* sql`CREATE INDEX agent_runs_tenant_status_created ON agent_runs (tenant_id, status, created_at, id)`
  yield* sql`CREATE INDEX agent_runs_agent_created ON agent_runs (agent_name, created_at, id)`
  yield* sql`CREATE INDEX agent_runs_parent ON agent_runs (parent_run_id)`
  yield* sql`CREATE INDEX agent_runs_retry_of ON agent_runs (retry_of_run_id)`
  yield* sql`CREATE INDEX agent_runs_progress ON agent_runs (status, last_progress_at)`

  yield* sql`CREATE TABLE react_traces (
    id TEXT PRIMARY KEY,
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    order_index INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    tool_calls ${t.json},
    tool_call_id TEXT,
    provider_call_id TEXT,
    tool_name TEXT,
    is_error ${t.bool},
    created_at ${t.ts} NOT NULL,
    UNIQUE (agent_run_id, order_index)
  )`

  yield* sql`CREATE TABLE tool_calls (
    id TEXT PRIMARY KEY,
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    provider_call_id TEXT,
    tool_name TEXT NOT NULL,
    target TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    params ${t.json},
    result ${t.json},
    success ${t.bool},
    error TEXT,
    duration_ms INTEGER,
    started_at ${t.ts} NOT NULL,
    completed_at ${t.ts}
  )`
  yield* sql`CREATE INDEX tool_calls_run ON tool_calls (agent_run_id, iteration, started_at)`

  yield* sql`CREATE TABLE llm_interactions (
    id TEXT PRIMARY KEY,
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    status TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    response_model TEXT,
    response_id TEXT,
    finish_reason TEXT,
    semantic_request ${t.json},
    semantic_response ${t.json},
    provider_request ${t.json},
    provider_response ${t.json},
    input_tokens ${t.big},
    output_tokens ${t.big},
    cache_read_tokens ${t.big},
    cache_write_tokens ${t.big},
    reasoning_tokens ${t.big},
    cost_usd ${t.real},
    cost_note TEXT,
    duration_ms INTEGER,
    error_tag TEXT,
    error_message TEXT,
    started_at ${t.ts} NOT NULL,
    completed_at ${t.ts}
  )`
  yield* sql`CREATE INDEX llm_interactions_run ON llm_interactions (agent_run_id, iteration, started_at)`

  yield* sql`CREATE TABLE token_usage (
    id TEXT PRIMARY KEY,
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    llm_interaction_id TEXT NOT NULL,
    tenant_id TEXT,
    agent_name TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens ${t.big} NOT NULL,
    output_tokens ${t.big} NOT NULL,
    cache_read_tokens ${t.big},
    cache_write_tokens ${t.big},
    reasoning_tokens ${t.big},
    cost_usd ${t.real},
    created_at ${t.ts} NOT NULL
  )`
  yield* sql`CREATE INDEX token_usage_run ON token_usage (agent_run_id)`
  yield* sql`CREATE INDEX token_usage_created ON token_usage (created_at)`
  yield* sql`CREATE INDEX token_usage_tenant_created ON token_usage (tenant_id, created_at)`

  yield* sql`CREATE TABLE run_events (
    id ${t.serial},
    agent_run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    sequence_index INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    correlation_id TEXT,
    data ${t.json} NOT NULL,
    created_at ${t.ts} NOT NULL,
    UNIQUE (agent_run_id, sequence_index)
  )`
  yield* sql`CREATE INDEX run_events_type ON run_events (event_type, created_at)`
})
