import { Either, ParseResult, Schema } from "effect"
import { escapeJsonText, escapeText, jsonTextHasEscape, unescapeJson, unescapeText } from "./escape.js"
import { stringify } from "./json.js"

/** How a column is stored on each dialect. */
export type Kind = "text" | "json" | "bool" | "int" | "bigint" | "real" | "timestamp" | "serial"

/** The two dialects. */
export type Dialect = "sqlite" | "pg"

/** A value as it is bound to a statement. */
export type Value = string | number | null

/** A column: its storage kind, whether it may be NULL, the migration that added it, and its codec. */
export interface Column<A> {
  readonly kind: Kind
  readonly nullable: boolean
  /** The migration (`0001`, `0002`, `0003` …) that added the column. */
  readonly since: number
  /** Decodes what either dialect's driver returns into the value; its encoding side writes it. */
  readonly schema: Schema.Schema<A, Encoded>
  /** The value as a statement parameter (the fast path of `schema`'s encoding). */
  readonly encode: (value: A) => Value
}

/** What a driver may return for a column (each codec's own input type is narrower; Schema is invariant in it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Encoded = any

/** Any column. */
export type AnyColumn = Column<Encoded>

/** The decoded value of a column. */
export type ValueOf<C> = C extends Column<infer A> ? A : never

// ---------------------------------------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------------------------------------

/** A string column: what a column cannot hold (NUL, lone surrogates) is escaped on write, unescaped on read. */
export const Text: Schema.Schema<string, string> = Schema.transform(Schema.String, Schema.String, {
  strict: true,
  decode: unescapeText,
  encode: escapeText
})

/**
 * JSON as stored: `JSON.stringify` with every string escaped like `Text`; refuses what JSON would mangle
 * (a BigInt, a function, a cycle, a non-finite number) by throwing `NotJson`.
 */
export const encodeJson = (value: unknown): string => escapeJsonText(stringify(value))

/** A stored JSON value: text (SQLite, and Postgres through `Database`), or a value another driver parsed. */
export const decodeJson = (raw: unknown): unknown => {
  if (typeof raw !== "string") return unescapeJson(raw)
  const value: unknown = JSON.parse(raw)
  return jsonTextHasEscape(raw) ? unescapeJson(value) : value
}

/** A JSON column (JSONB on Postgres, TEXT on SQLite): JSON text in, the value out, strings unescaped. */
export const Json: Schema.Schema<unknown, unknown> = Schema.transformOrFail(Schema.Unknown, Schema.Unknown, {
  strict: true,
  decode: (raw, _, ast) => {
    try {
      return ParseResult.succeed(decodeJson(raw))
    } catch (e) {
      return ParseResult.fail(new ParseResult.Type(ast, raw, `not JSON text: ${(e as Error).message}`))
    }
  },
  encode: (value, _, ast) => {
    try {
      return ParseResult.succeed(encodeJson(value))
    } catch (e) {
      return ParseResult.fail(new ParseResult.Type(ast, value, (e as Error).message))
    }
  }
})

/** A boolean column (BOOLEAN on Postgres, 0/1 on SQLite). */
export const Bool: Schema.Schema<boolean, boolean | 0 | 1> = Schema.transform(
  Schema.Union(Schema.Boolean, Schema.Literal(0, 1)),
  Schema.Boolean,
  { strict: true, decode: (v) => v === true || v === 1, encode: (b) => (b ? 1 : 0) }
)

/**
 * A number: integer and real columns and aggregates (`COUNT(*)`, `SUM`), whether the driver gives a number, a
 * BigInt or a decimal string (int8 and numeric on Postgres without `Database`'s parsers).
 */
export const Num: Schema.Schema<number, number | string | bigint> = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String, Schema.BigIntFromSelf),
  Schema.Number,
  {
    strict: true,
    decode: (raw, _, ast) => {
      const n = typeof raw === "number" ? raw : typeof raw === "bigint" ? Number(raw) : raw.trim() === "" ? NaN : +raw
      return Number.isFinite(n)
        ? ParseResult.succeed(n)
        : ParseResult.fail(new ParseResult.Type(ast, raw, "not a number"))
    },
    encode: ParseResult.succeed
  }
)

const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/**
 * A timestamp column (TIMESTAMPTZ on Postgres, ISO-8601 UTC text on SQLite), decoded to the `toISOString`
 * form on both. The recorder's own text is already in that form and passes through without a Date.
 */
export const Timestamp: Schema.Schema<string, string | Date> = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.DateFromSelf),
  Schema.String,
  {
    strict: true,
    decode: (raw, _, ast) => {
      if (typeof raw === "string" && CANONICAL.test(raw)) return ParseResult.succeed(raw)
      const date = typeof raw === "string" ? new Date(raw) : raw
      return Number.isNaN(date.getTime())
        ? ParseResult.fail(new ParseResult.Type(ast, raw, "not a valid timestamp"))
        : ParseResult.succeed(date.toISOString())
    },
    encode: ParseResult.succeed
  }
)

// ---------------------------------------------------------------------------------------------------------
// Columns
// ---------------------------------------------------------------------------------------------------------

const column =
  <A>(kind: Kind, schema: Schema.Schema<A, Encoded>, encode: (value: A) => Value) => (since = 1): Column<A> => ({
    kind,
    nullable: false,
    since,
    schema,
    encode
  })

const identity = (n: number): number => n

// Column constructors: the argument is the migration that added the column (1 by default).
/** A TEXT column. */
export const text = column("text", Text, escapeText)
/** A JSON column (JSONB / TEXT). */
export const json = column<unknown>("json", Json, encodeJson)
/** A boolean column (BOOLEAN / 0-1). */
export const bool = column("bool", Bool, (b: boolean) => (b ? 1 : 0))
/** An INTEGER column. */
export const int = column("int", Num, identity)
/** A BIGINT column (token counts, nano-dollars). */
export const bigint = column("bigint", Num, identity)
/** A DOUBLE PRECISION / REAL column. */
export const real = column("real", Num, identity)
/** A timestamp column (TIMESTAMPTZ / ISO-8601 text). */
export const timestamp = column("timestamp", Timestamp, (iso: string) => iso)
/** An auto-incremented key (BIGSERIAL / INTEGER PRIMARY KEY). */
export const serial = column("serial", Num, identity)

/** The same column, NULL allowed. */
export const nullable = <A>(c: Column<A>): Column<A | null> => ({
  ...c,
  nullable: true,
  schema: Schema.NullOr(c.schema),
  encode: (value) => (value === null ? null : c.encode(value))
})

// ---------------------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------------------

/** A table: its name, its columns in order, the Schema of a row, and the writer of (part of) a row. */
export interface Table<Name extends string, Cols extends Record<string, AnyColumn>> {
  readonly name: Name
  readonly definition: Cols
  /** Column names, in table order. */
  readonly columns: ReadonlyArray<Extract<keyof Cols, string>>
  /** A row as selected (`SELECT *` or any subset with `Row.pick`) from either dialect, decoded. */
  readonly Row: Schema.Struct<{ readonly [K in keyof Cols]: Cols[K]["schema"] }>
  /** Encodes the given columns' values as statement parameters (escaped text, JSON text, 0/1, ISO time). */
  readonly encode: <const R extends { readonly [K in keyof Cols]?: ValueOf<Cols[K]> }>(
    row: R
  ) => { readonly [K in keyof R]: Value }
  /** Decodes rows selected with every column (or the `Row` fields they have). */
  readonly decode: (
    rows: ReadonlyArray<unknown>
  ) => Either.Either<Array<RowOf<Table<Name, Cols>>>, ParseResult.ParseError>
}

/** A decoded row of these columns. */
export type RowFields<Cols> = { readonly [K in keyof Cols]: ValueOf<Cols[K]> }

/** The decoded row of a table. */
export type RowOf<T> = T extends Table<string, infer Cols> ? RowFields<Cols> : never

const table = <const Name extends string, const Cols extends Record<string, AnyColumn>>(
  name: Name,
  definition: Cols
): Table<Name, Cols> => {
  const fields = Object.fromEntries(Object.entries(definition).map(([k, c]) => [k, c.schema])) as {
    readonly [K in keyof Cols]: Cols[K]["schema"]
  }
  const Row = Schema.Struct(fields)
  const decodeRows = Schema.decodeUnknownEither(
    Schema.Array(Row) as unknown as Schema.Schema<ReadonlyArray<unknown>, unknown>
  )
  return {
    name,
    definition,
    columns: Object.keys(definition) as Array<Extract<keyof Cols, string>>,
    Row,
    encode: (row) => {
      const out: Record<string, Value> = {}
      for (const key in row) {
        const value = row[key]
        if (value !== undefined) out[key] = (definition[key] as AnyColumn).encode(value)
      }
      return out as never
    },
    decode: (rows) => Either.map(decodeRows(rows), (rs) => rs as never)
  }
}

const str = nullable(text())
const big = nullable(bigint())

/** One row per run. */
export const agentRuns = table("agent_runs", {
  id: text(),
  tenant_id: str,
  agent_name: text(),
  status: text(),
  input: text(),
  instructions: text(),
  answer: str,
  model: str,
  provider: str,
  parent_run_id: str,
  delegation_level: int(),
  retry_of_run_id: str,
  idempotency_key: str,
  idempotency_fingerprint: str,
  iteration_count: int(),
  total_input_tokens: bigint(),
  total_output_tokens: bigint(),
  total_cache_read_tokens: big,
  total_cache_write_tokens: big,
  total_reasoning_tokens: big,
  /** Derived from `total_cost_nanos` (nanos / 1e9), so it is the same on both dialects. */
  total_cost_usd: nullable(real()),
  model_call_count: int(),
  unpriced_call_count: int(),
  metadata: nullable(json()),
  pause_state: nullable(json()),
  error_tag: str,
  error_message: str,
  failure_reason: str,
  cancel_requested: bool(),
  last_sequence_index: int(),
  created_at: timestamp(),
  updated_at: timestamp(),
  last_progress_at: timestamp(),
  finished_at: nullable(timestamp()),
  resume_submission: nullable(json(2)),
  resume_submission_id: nullable(text(3)),
  /** The sum of the priced calls' costs in integer nano-dollars (NULL until a call had a cost). */
  total_cost_nanos: nullable(bigint(3)),
  /** The conversation the run continues (`RunOptions.threadId`). */
  thread_id: nullable(text(6))
})

/** Every user, assistant and tool message, in order. */
export const reactTraces = table("react_traces", {
  id: text(),
  agent_run_id: text(),
  order_index: int(),
  iteration: int(),
  role: text(),
  content: text(),
  tool_calls: nullable(json()),
  tool_call_id: str,
  provider_call_id: str,
  tool_name: str,
  is_error: nullable(bool()),
  created_at: timestamp(),
  /** A user message's images and files (`Message.parts`), as JSON. */
  parts: nullable(json(6))
})

/** One row per tool call. */
export const toolCalls = table("tool_calls", {
  id: text(),
  agent_run_id: text(),
  provider_call_id: str,
  tool_name: text(),
  target: text(),
  iteration: int(),
  params: nullable(json()),
  result: nullable(json()),
  success: nullable(bool()),
  error: str,
  duration_ms: nullable(int()),
  started_at: timestamp(),
  completed_at: nullable(timestamp())
})

/** One row per model call. */
export const llmInteractions = table("llm_interactions", {
  id: text(),
  agent_run_id: text(),
  iteration: int(),
  status: text(),
  provider: text(),
  model: text(),
  response_model: str,
  response_id: str,
  finish_reason: str,
  semantic_request: nullable(json()),
  semantic_response: nullable(json()),
  provider_request: nullable(json()),
  provider_response: nullable(json()),
  input_tokens: big,
  output_tokens: big,
  cache_read_tokens: big,
  cache_write_tokens: big,
  reasoning_tokens: big,
  cost_usd: nullable(real()),
  cost_note: str,
  duration_ms: nullable(int()),
  error_tag: str,
  error_message: str,
  started_at: timestamp(),
  completed_at: nullable(timestamp()),
  cost_nanos: nullable(bigint(3)),
  /**
   * Migration 8: the call whose full request this one's `semantic_request` continues (NULL: it holds the full
   * request). Such a row stores only the messages new since that call; the store rebuilds the whole request.
   */
  request_base: nullable(text(8)),
  /** Migration 8: how many of the base call's (rebuilt) messages come before the messages stored here. */
  request_prefix: nullable(int(8))
})

/** One billing row per completed model call. */
export const tokenUsage = table("token_usage", {
  id: text(),
  agent_run_id: text(),
  llm_interaction_id: text(),
  tenant_id: str,
  agent_name: text(),
  iteration: int(),
  provider: text(),
  model: text(),
  input_tokens: bigint(),
  output_tokens: bigint(),
  cache_read_tokens: big,
  cache_write_tokens: big,
  reasoning_tokens: big,
  cost_usd: nullable(real()),
  created_at: timestamp(),
  cost_nanos: nullable(bigint(3))
})

/** The append-only event log, gapless per run. */
export const runEvents = table("run_events", {
  id: serial(),
  agent_run_id: text(),
  sequence_index: int(),
  event_type: text(),
  iteration: int(),
  correlation_id: str,
  data: json(),
  created_at: timestamp()
})

/**
 * One aggregate row per stream (migration 7): a tool call's stream (`stream.ended`) or a streamed model call's
 * deltas (`llm.completed`). The id is the call's correlation id (one stream per call).
 */
export const runStreams = table("run_streams", {
  id: text(7),
  agent_run_id: text(7),
  kind: text(7),
  /** The tool's name, or the model's. */
  name: text(7),
  iteration: int(7),
  chunk_count: bigint(7),
  bytes: bigint(7),
  time_to_first_chunk_ms: nullable(real(7)),
  duration_ms: real(7),
  chunks_per_second: nullable(real(7)),
  bytes_per_second: nullable(real(7)),
  sampled_count: int(7),
  started_at: timestamp(7),
  ended_at: timestamp(7)
})

/** The chunks of a tool's stream kept by sampling (migration 7); never in `run_events`. */
export const streamChunks = table("stream_chunks", {
  stream_id: text(7),
  agent_run_id: text(7),
  sequence: int(7),
  offset_ms: real(7),
  bytes: int(7),
  encoding: text(7),
  data: json(7),
  created_at: timestamp(7)
})

/** The tables, in creation order. */
export const all = [
  agentRuns,
  reactTraces,
  toolCalls,
  llmInteractions,
  tokenUsage,
  runEvents,
  runStreams,
  streamChunks
] as const

/** A column's SQL type on a dialect (as the migrations create it). */
export const sqlType = (kind: Kind, dialect: Dialect): string => {
  const pg = dialect === "pg"
  switch (kind) {
    case "text":
      return "TEXT"
    case "json":
      return pg ? "JSONB" : "TEXT"
    case "bool":
      return pg ? "BOOLEAN" : "INTEGER"
    case "int":
      return "INTEGER"
    case "bigint":
      return pg ? "BIGINT" : "INTEGER"
    case "real":
      return pg ? "DOUBLE PRECISION" : "REAL"
    case "timestamp":
      return pg ? "TIMESTAMPTZ" : "TEXT"
    case "serial":
      return pg ? "BIGSERIAL" : "INTEGER"
  }
}

/** The columns a migration adds to existing tables, from the definitions above (`since` = the migration). */
export const addedBy = (migration: number): ReadonlyArray<readonly [table: string, column: string, kind: Kind]> =>
  all.flatMap((t) =>
    Object.entries(t.definition as Record<string, AnyColumn>).flatMap(([name, c]) =>
      c.since === migration ? [[t.name, name, c.kind] as const] : []
    )
  )

/**
 * The token and cost columns that `token_usage` and the per-day rollup `usage_daily` both carry (and sum), in
 * one order: the billing reads and the rollup's upsert are built from this list.
 */
export const usageCountColumns = [
  "input_tokens",
  "output_tokens",
  "cache_read_tokens",
  "cache_write_tokens",
  "reasoning_tokens",
  "cost_nanos"
] as const
