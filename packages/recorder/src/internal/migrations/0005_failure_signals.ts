import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/**
 * Migration 5: `failure_signals`, what `@sextant/detectors` found in a run: one row per run and signal type
 * (re-detection updates it), with severity, confidence, the sequence-index range it points at, structured
 * evidence (counts, names and hashes: never the run's content), whether it is `shadow` (recorded, not
 * alerted), a human `label` (`true_positive` / `false_positive`) and `detected_at`. Rows go with their run.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const json = sql.literal(pg ? "JSONB" : "TEXT")
  const ts = sql.literal(pg ? "TIMESTAMPTZ" : "TEXT")
  const bool = sql.literal(pg ? "BOOLEAN" : "INTEGER")
  const real = sql.literal(pg ? "DOUBLE PRECISION" : "REAL")
  yield* sql`CREATE TABLE failure_signals (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES agent_runs(id) ON DELETE CASCADE,
    tenant_id TEXT,
    agent_name TEXT NOT NULL,
    signal_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    confidence ${real} NOT NULL,
    step_start INTEGER NOT NULL,
    step_end INTEGER NOT NULL,
    evidence ${json} NOT NULL,
    shadow ${bool} NOT NULL,
    label TEXT,
    labelled_at ${ts},
    detected_at ${ts} NOT NULL,
    UNIQUE (run_id, signal_type)
  )`
  yield* sql`CREATE INDEX failure_signals_agent_detected ON failure_signals (agent_name, detected_at)`
  yield* sql`CREATE INDEX failure_signals_type_detected ON failure_signals (signal_type, detected_at)`
  yield* sql`CREATE INDEX failure_signals_tenant_detected ON failure_signals (tenant_id, detected_at)`
})
