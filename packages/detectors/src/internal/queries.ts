/**
 * The SQL of the detectors: reading a run and its events back from the record, the step-count baseline,
 * and reading and writing `failure_signals`. Portable across SQLite and Postgres (JSON as text, timestamps
 * as ISO-8601, booleans 0/1 or BOOLEAN).
 */
import { type SqlClient, SqlError } from "@effect/sql"
import { Encryption, Tables } from "@sextant/recorder"
import { Effect, Option } from "effect"
import { fromStored, type RunEvent } from "../RunEvents.js"
import type { Finding, Label, Signal } from "../Signal.js"

/** The run row fields detection needs. */
export interface RunRow {
  readonly id: string
  readonly tenantId: string | null
  readonly agentName: string
  readonly status: string
  readonly metadata: Record<string, unknown>
  readonly lastProgressAt: string
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString())
const bool = (v: unknown): boolean => v === true || v === 1 || v === "1" || v === "t"
const obj = (v: unknown): Record<string, unknown> => {
  const d = v === null || v === undefined ? {} : Tables.decodeJson(v)
  return typeof d === "object" && d !== null && !Array.isArray(d) ? (d as Record<string, unknown>) : {}
}

/** One run's row, or undefined. */
export const runRow = (sql: SqlClient.SqlClient, runId: string) =>
  Effect.map(
    sql<Record<string, unknown>>`SELECT id, tenant_id, agent_name, status, metadata, last_progress_at
      FROM agent_runs WHERE id = ${runId}`,
    (rows): RunRow | undefined => {
      const r = rows[0]
      if (r === undefined) return undefined
      return {
        id: String(r.id),
        tenantId: r.tenant_id === null ? null : String(r.tenant_id),
        agentName: Tables.unescapeText(String(r.agent_name)),
        status: String(r.status),
        metadata: obj(r.metadata),
        lastProgressAt: iso(r.last_progress_at)
      }
    }
  )

/**
 * Rows with their sealed content opened with the `Encryption` key ring in context (the recorder's); a sealed
 * value without its key fails the read (an `SqlError` whose cause is the typed error), never reads as data.
 */
const opened = (rows: ReadonlyArray<Record<string, unknown>>) =>
  Effect.flatMap(Encryption.current, (ring) => {
    try {
      return Effect.succeed(Tables.openSealed(Option.getOrUndefined(ring), rows))
    } catch (cause) {
      return Effect.fail(new SqlError.SqlError({ cause, message: (cause as Error).message }))
    }
  })

/** One run's recorded events in sequence order. */
export const runEvents = (sql: SqlClient.SqlClient, runId: string) =>
  Effect.map(
    Effect.flatMap(
      sql<Record<string, unknown>>`SELECT sequence_index, event_type, iteration, correlation_id, data, created_at
      FROM run_events WHERE agent_run_id = ${runId} ORDER BY sequence_index`,
      opened
    ),
    (rows): ReadonlyArray<RunEvent> =>
      rows.map((r) =>
        fromStored({
          sequenceIndex: Number(r.sequence_index),
          eventType: String(r.event_type),
          iteration: Number(r.iteration),
          correlationId: r.correlation_id === null ? null : String(r.correlation_id),
          data: Tables.decodeJson(r.data),
          createdAt: iso(r.created_at)
        })
      )
  )

/**
 * Step counts (tool + model calls) of the agent's most recent successful runs before this one, newest first,
 * of the same version (the metadata key) when the run has one.
 */
export const baseline = (
  sql: SqlClient.SqlClient,
  run: RunRow,
  versionKey: string,
  limit: number
) =>
  Effect.map(
    sql<Record<string, unknown>>`SELECT r.id, r.metadata,
        (SELECT COUNT(*) FROM tool_calls t WHERE t.agent_run_id = r.id) AS tools,
        (SELECT COUNT(*) FROM llm_interactions l WHERE l.agent_run_id = r.id) AS llms
      FROM agent_runs r
      WHERE r.agent_name = ${Tables.escapeText(run.agentName)} AND r.status = 'success' AND r.id <> ${run.id}
      ORDER BY r.created_at DESC, r.id DESC
      LIMIT ${limit * 4}`,
    (rows) => {
      const version = run.metadata[versionKey]
      return rows
        .filter((r) => version === undefined || obj(r.metadata)[versionKey] === version)
        .slice(0, limit)
        .map((r) => Number(r.tools) + Number(r.llms))
    }
  )

/** Runs recorded (created) at or after `since`, oldest first, from `after` (an id) on, a page at a time. */
export const runIdsSince = (sql: SqlClient.SqlClient, since: string, after: string, limit: number) =>
  Effect.map(
    sql<{ id: string }>`SELECT id FROM agent_runs WHERE created_at >= ${since} AND id > ${after}
      ORDER BY id LIMIT ${limit}`,
    (rows) => rows.map((r) => String(r.id))
  )

const toSignal = (r: Record<string, unknown>): Signal => ({
  id: String(r.id),
  type: String(r.signal_type) as Signal["type"],
  severity: String(r.severity) as Signal["severity"],
  confidence: Number(r.confidence),
  runId: String(r.run_id),
  tenantId: r.tenant_id === null ? null : String(r.tenant_id),
  agentName: Tables.unescapeText(String(r.agent_name)),
  step: { start: Number(r.step_start), end: Number(r.step_end) },
  evidence: obj(r.evidence) as Signal["evidence"],
  shadow: bool(r.shadow),
  label: r.label === null || r.label === undefined ? null : (String(r.label) as Label),
  detectedAt: iso(r.detected_at)
})

/** A run's stored signals. */
export const signalsOfRun = (
  sql: SqlClient.SqlClient,
  runId: string
): Effect.Effect<ReadonlyArray<Signal>, SqlError.SqlError> =>
  Effect.map(
    sql<
      Record<string, unknown>
    >`SELECT * FROM failure_signals WHERE run_id = ${runId} ORDER BY step_start, signal_type`,
    (rows) => rows.map(toSignal)
  )

/** A signal by id. */
export const signalById = (
  sql: SqlClient.SqlClient,
  id: string
): Effect.Effect<Signal | undefined, SqlError.SqlError> =>
  Effect.map(
    sql<Record<string, unknown>>`SELECT * FROM failure_signals WHERE id = ${id}`,
    (rows) => rows[0] === undefined ? undefined : toSignal(rows[0])
  )

/** What `listSignals` filters on (all optional, combined with AND). */
export interface SignalFilter {
  readonly agentName?: string | undefined
  readonly type?: string | undefined
  readonly severity?: string | undefined
  readonly shadow?: boolean | undefined
  readonly tenantId?: string | undefined
  readonly from?: string | undefined
  readonly to?: string | undefined
  readonly limit: number
}

/** Stored signals matching the filter, newest first. */
export const listSignals = (
  sql: SqlClient.SqlClient,
  f: SignalFilter
): Effect.Effect<ReadonlyArray<Signal>, SqlError.SqlError> => {
  const where = [
    f.agentName === undefined ? undefined : sql`agent_name = ${Tables.escapeText(f.agentName)}`,
    f.type === undefined ? undefined : sql`signal_type = ${f.type}`,
    f.severity === undefined ? undefined : sql`severity = ${f.severity}`,
    f.shadow === undefined
      ? undefined
      : sql`shadow = ${sql.onDialectOrElse({ pg: () => f.shadow, orElse: () => (f.shadow ? 1 : 0) })}`,
    f.tenantId === undefined ? undefined : sql`tenant_id = ${f.tenantId}`,
    f.from === undefined ? undefined : sql`detected_at >= ${f.from}`,
    f.to === undefined ? undefined : sql`detected_at < ${f.to}`
  ].filter((w) => w !== undefined)
  return Effect.map(
    sql<Record<string, unknown>>`SELECT * FROM failure_signals
      ${where.length === 0 ? sql`` : sql`WHERE ${sql.and(where)}`}
      ORDER BY detected_at DESC, id DESC LIMIT ${f.limit}`,
    (rows) => rows.map(toSignal)
  )
}

/**
 * Replaces a run's signal set with these findings in one transaction: a type found again keeps its id, label
 * and detection time (its severity and evidence are updated); a type no longer found is removed. Returns the
 * stored signals and which of them are new.
 */
export const replaceRunSignals = (
  sql: SqlClient.SqlClient,
  run: RunRow,
  findings: ReadonlyArray<Finding & { readonly shadow: boolean }>,
  newId: () => string,
  now: string
): Effect.Effect<
  { readonly signals: ReadonlyArray<Signal>; readonly added: ReadonlyArray<Signal> },
  SqlError.SqlError
> =>
  sql.withTransaction(Effect.gen(function*() {
    const before = yield* signalsOfRun(sql, run.id)
    const known = new Set(before.map((s) => s.type))
    const types = new Set(findings.map((f) => f.type))
    for (const s of before) if (!types.has(s.type)) yield* sql`DELETE FROM failure_signals WHERE id = ${s.id}`
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    for (const f of findings) {
      const shadow = pg ? f.shadow : f.shadow ? 1 : 0
      yield* sql`INSERT INTO failure_signals (id, run_id, tenant_id, agent_name, signal_type, severity, confidence,
          step_start, step_end, evidence, shadow, detected_at)
        VALUES (${newId()}, ${run.id}, ${run.tenantId}, ${Tables.escapeText(run.agentName)}, ${f.type}, ${f.severity},
          ${f.confidence}, ${f.step.start}, ${f.step.end}, ${Tables.encodeJson(f.evidence)}, ${shadow}, ${now})
        ON CONFLICT (run_id, signal_type) DO UPDATE SET severity = excluded.severity,
          confidence = excluded.confidence, step_start = excluded.step_start, step_end = excluded.step_end,
          evidence = excluded.evidence, shadow = excluded.shadow`
    }
    const after = yield* signalsOfRun(sql, run.id)
    return { signals: after, added: after.filter((s) => !known.has(s.type)) }
  }))

/** Sets a signal's label. */
export const setLabel = (sql: SqlClient.SqlClient, id: string, label: Label, now: string) =>
  sql`UPDATE failure_signals SET label = ${label}, labelled_at = ${now} WHERE id = ${id}`

/** Labelled counts per type. */
export const labelCounts = (sql: SqlClient.SqlClient) =>
  sql<Record<string, unknown>>`SELECT signal_type, label, COUNT(*) AS n FROM failure_signals
    WHERE label IS NOT NULL GROUP BY signal_type, label`

/** Signal counts per type and UTC day for one agent, with that day's run count. */
export const dailyCounts = (sql: SqlClient.SqlClient, agentName: string, from: string, to: string) => {
  const day = (col: string) =>
    sql.onDialectOrElse({
      pg: () => sql.literal(`to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`),
      orElse: () => sql.literal(`substr(${col}, 1, 10)`)
    })
  const name = Tables.escapeText(agentName)
  return Effect.all({
    signals: sql<Record<string, unknown>>`SELECT ${day("r.created_at")} AS day, s.signal_type, COUNT(*) AS n
      FROM failure_signals s JOIN agent_runs r ON r.id = s.run_id
      WHERE r.agent_name = ${name} AND r.created_at >= ${from} AND r.created_at < ${to} AND s.shadow = ${
      sql.onDialectOrElse({ pg: () => false, orElse: () => 0 })
    }
      GROUP BY 1, 2 ORDER BY 1, 2`,
    runs: sql<Record<string, unknown>>`SELECT ${day("created_at")} AS day, COUNT(*) AS n
      FROM agent_runs WHERE agent_name = ${name} AND created_at >= ${from} AND created_at < ${to} GROUP BY 1`
  })
}

/** The agent's ended runs in creation order, with the live signal types each raised. */
export const runsWithSignals = (sql: SqlClient.SqlClient, agentName: string | undefined) => {
  const name = agentName === undefined ? undefined : Tables.escapeText(agentName)
  const live = sql.onDialectOrElse({ pg: () => false, orElse: () => 0 })
  return sql<Record<string, unknown>>`SELECT r.id, r.agent_name, r.created_at, s.signal_type
    FROM agent_runs r LEFT JOIN failure_signals s ON s.run_id = r.id AND s.shadow = ${live}
    WHERE r.status IN ('success', 'max_iterations', 'error', 'cancelled')
    ${name === undefined ? sql`` : sql`AND r.agent_name = ${name}`}
    ORDER BY r.created_at, r.id`
}
