/**
 * The six tables, written once: every column with its storage kind and its dialect codec, so that a row read
 * from SQLite or Postgres decodes to identical values. JSON is TEXT on SQLite and JSONB on Postgres (read back
 * as text through `Database`), booleans 0/1 or BOOLEAN, timestamps ISO-8601 text or TIMESTAMPTZ (decoded to
 * the `toISOString` form), BIGINT and aggregates numbers, and every string escaped where a column cannot hold
 * it (NUL, lone surrogates; see the README). The recorder writes through these codecs and the store reads
 * through them; the migrations' newer columns are generated from them.
 */
import type { Either, ParseResult, Schema } from "effect"
import * as deltas from "./internal/deltas.js"
import * as internal from "./internal/escape.js"
import * as sealedValues from "./internal/sealed.js"
import * as tables from "./internal/tables.js"

/** How a column is stored on each dialect. */
export type Kind = tables.Kind

/** The two dialects. */
export type Dialect = tables.Dialect

/** A value as it is bound to a statement. */
export type Value = tables.Value

/** A column: its kind, whether it may be NULL, the migration that added it, and its codec. */
export type Column<A> = tables.Column<A>

/** A table: its name, its columns in order, the Schema of a row and the encoder of (part of) a row. */
export type Table<Name extends string, Cols extends Record<string, tables.AnyColumn>> = tables.Table<Name, Cols>

/** The decoded row of a table. */
export type RowOf<T> = tables.RowOf<T>

/** `agent_runs`: one row per run (status, totals, pause state, error, claim). */
export const agentRuns = tables.agentRuns
/** A decoded `agent_runs` row. */
export type AgentRun = RowOf<typeof agentRuns>

/** `react_traces`: every user, assistant and tool message, in order. */
export const reactTraces = tables.reactTraces
/** A decoded `react_traces` row. */
export type ReactTrace = RowOf<typeof reactTraces>

/** `tool_calls`: one row per tool call. */
export const toolCalls = tables.toolCalls
/** A decoded `tool_calls` row. */
export type ToolCall = RowOf<typeof toolCalls>

/** `llm_interactions`: one row per model call. */
export const llmInteractions = tables.llmInteractions
/** A decoded `llm_interactions` row. */
export type LlmInteraction = RowOf<typeof llmInteractions>

/** `token_usage`: one billing row per completed model call. */
export const tokenUsage = tables.tokenUsage
/** A decoded `token_usage` row. */
export type TokenUsage = RowOf<typeof tokenUsage>

/** `run_events`: the append-only event log, gapless per run. */
export const runEvents = tables.runEvents
/** A decoded `run_events` row. */
export type RunEvent = RowOf<typeof runEvents>

/** `run_streams`: one aggregate row per stream (a tool's stream, a streamed model call). */
export const runStreams = tables.runStreams
/** A decoded `run_streams` row. */
export type RunStream = RowOf<typeof runStreams>

/** `stream_chunks`: the chunks of a tool's stream kept by sampling. */
export const streamChunks = tables.streamChunks
/** A decoded `stream_chunks` row. */
export type StreamChunk = RowOf<typeof streamChunks>

/** The tables, in creation order. */
export const all = tables.all

/** A string column's codec (escaped on write, unescaped on read). */
export const Text: Schema.Schema<string, string> = tables.Text

/** A JSON column's codec: stored JSON text (or a value another driver parsed) in, the value out. */
export const Json: Schema.Schema<unknown, unknown> = tables.Json

/** A boolean column's codec (BOOLEAN or 0/1). */
export const Bool: Schema.Schema<boolean, boolean | 0 | 1> = tables.Bool

/** A number column's codec, and that of aggregates (`COUNT(*)`, `SUM`): numbers, BigInts or decimal strings. */
export const Num: Schema.Schema<number, number | string | bigint> = tables.Num

/** A timestamp column's codec: TIMESTAMPTZ or ISO-8601 text, decoded to the `toISOString` form. */
export const Timestamp: Schema.Schema<string, string | Date> = tables.Timestamp

/** A string as a column stores it (NUL, lone surrogates and U+0010 escaped); use it for parameters compared with a column. */
export const escapeText: (s: string) => string = internal.escapeText

/** The string a stored text stands for (the inverse of `escapeText`). */
export const unescapeText: (s: string) => string = internal.unescapeText

/** A value as a JSON column stores it (its strings escaped); throws on what JSON cannot carry. */
export const encodeJson: (value: unknown) => string = tables.encodeJson

/** A stored JSON column's value, from its text (or a value another driver parsed); throws on bad JSON text. */
export const decodeJson: (raw: unknown) => unknown = tables.decodeJson

/** A column kind's SQL type on a dialect, as the migrations create it. */
export const sqlType: (kind: Kind, dialect: Dialect) => string = tables.sqlType

/** Decodes rows selected with every column of a table (or a `Row.pick` subset, through that Schema). */
export const decodeRows = <Name extends string, Cols extends Record<string, tables.AnyColumn>>(
  table: Table<Name, Cols>,
  rows: ReadonlyArray<unknown>
): Either.Either<Array<tables.RowFields<Cols>>, ParseResult.ParseError> => table.decode(rows)

/**
 * The token and cost columns that `token_usage` and the per-day rollup `usage_daily` both carry (and sum), in
 * one order: the billing reads and the rollup's upsert are built from this list.
 */
export const usageCountColumns: typeof tables.usageCountColumns = tables.usageCountColumns

/**
 * Rows with every sealed value (`Encryption`) opened into its stored form, before decoding; values not sealed
 * pass through. Throws `EncryptionKeyMissing` (no key ring, or not the key a value names) or `DecryptionFailed`.
 */
export const openSealed: <A>(
  ring: { readonly open: (sealed: string) => string } | undefined,
  rows: ReadonlyArray<A>
) => ReadonlyArray<A> = sealedValues.openRows

/** The content columns of each table (sealed when the recorder has an `Encryption` key ring), and their kind. */
export const contentColumns = sealedValues.contentColumns

/** A model call's request as stored (migration 8): in full, or the messages after `prefix` of its `base` call's. */
export type StoredRequest = deltas.StoredRequest

/**
 * The full requests of a run's model calls by id, rebuilt from their stored deltas (the reference read of
 * `llm_interactions.semantic_request`). Throws when a call continues one that is not among `calls`.
 */
export const rebuildRequests: (calls: ReadonlyArray<StoredRequest>) => Map<string, unknown> = deltas.rebuildRequests

/**
 * Every failure signal type `failure_signals.signal_type` holds, in catalogue order: the one list the detectors
 * raise, the store and the read router validate a `type` filter against, and the dashboard offers.
 */
export const signalTypes = [
  "TOOL_LOOP",
  "TOOL_THRASHING",
  "TOOL_AVOIDANCE",
  "GOAL_ABANDONMENT",
  "PROMPT_INJECTION_SIGNAL",
  "RAG_EMPTY_RETRIEVAL",
  "LLM_TRUNCATION_LOOP",
  "CONTEXT_BLOAT",
  "SLOW_STEP",
  "RETRY_STORM",
  "EMPTY_LLM_RESPONSE",
  "STEP_COUNT_INFLATION",
  "CASCADING_TOOL_FAILURE",
  "FIRST_STEP_FAILURE",
  "REASONING_STALL"
] as const

/** A failure signal type (`failure_signals.signal_type`). */
export type SignalType = (typeof signalTypes)[number]

/** How bad a failure signal is (`failure_signals.severity`), lowest first. */
export const signalSeverities = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const

/** A failure signal severity. */
export type SignalSeverity = (typeof signalSeverities)[number]
