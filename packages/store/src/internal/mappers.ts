/**
 * The hot path's row mappers, written by hand: a page of runs and a page of events become records without a
 * Schema walk per value. Each value takes the shape the drivers give it (a string, a number, a JSON text, a
 * `Date` from Postgres) directly and anything else through that column's `Tables` codec; a row that still does
 * not fit is decoded again by the reference Schema of `rows.ts`, so a bad row fails with the same `ParseError`
 * naming the column. Tests decode every row both ways on both dialects and compare, so the two cannot drift.
 */
import { Tables } from "@sextant/recorder"
import { Either, Schema } from "effect"
import type { ParseError } from "effect/ParseResult"
import type * as R from "../Records.js"
import * as rows from "./rows.js"

/** Thrown by a value that fits neither the fast shape nor its codec; the row is then decoded by Schema. */
class Mismatch {}
const mismatch = new Mismatch()

const via = <A, I>(codec: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(codec)
  return (value: unknown): A => {
    const decoded = decode(value)
    if (Either.isLeft(decoded)) throw mismatch
    return decoded.right
  }
}
const numViaCodec = via(Tables.Num)
const timeViaCodec = via(Tables.Timestamp)

const CANONICAL = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const text = (v: unknown): string => {
  if (typeof v !== "string") throw mismatch
  return Tables.unescapeText(v)
}
const textOrNull = (v: unknown): string | null => (v === null ? null : text(v))
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : numViaCodec(v))
const numOrNull = (v: unknown): number | null => (v === null ? null : num(v))
const time = (v: unknown): string =>
  typeof v === "string" && CANONICAL.test(v)
    ? v
    : v instanceof Date && !Number.isNaN(v.getTime())
    ? v.toISOString()
    : timeViaCodec(v)
const timeOrNull = (v: unknown): string | null => (v === null ? null : time(v))
const json = (v: unknown): unknown => {
  try {
    return Tables.decodeJson(v)
  } catch {
    throw mismatch
  }
}
const jsonOrNull = (v: unknown): unknown => (v === null ? null : json(v))

type Row = { readonly [column: string]: unknown }

const summaryOf = (r: Row): R.RunSummary => ({
  id: text(r.id),
  agentName: text(r.agent_name),
  status: text(r.status) as R.RunStatus,
  tenantId: textOrNull(r.tenant_id),
  model: textOrNull(r.model),
  provider: textOrNull(r.provider),
  parentRunId: textOrNull(r.parent_run_id),
  retryOfRunId: textOrNull(r.retry_of_run_id),
  threadId: textOrNull(r.thread_id),
  delegationLevel: num(r.delegation_level),
  iterationCount: num(r.iteration_count),
  totals: {
    inputTokens: num(r.total_input_tokens),
    outputTokens: num(r.total_output_tokens),
    cacheReadTokens: numOrNull(r.total_cache_read_tokens),
    cacheWriteTokens: numOrNull(r.total_cache_write_tokens),
    reasoningTokens: numOrNull(r.total_reasoning_tokens),
    costUsd: rows.costOf(numOrNull(r.total_cost_nanos)),
    modelCallCount: num(r.model_call_count),
    unpricedCallCount: num(r.unpriced_call_count)
  },
  metadata: jsonOrNull(r.metadata) as R.RunSummary["metadata"],
  createdAt: time(r.created_at),
  updatedAt: time(r.updated_at),
  finishedAt: timeOrNull(r.finished_at)
})

const eventOf = (r: Row): R.StoredEvent => ({
  runId: text(r.agent_run_id),
  sequenceIndex: num(r.sequence_index),
  eventType: text(r.event_type),
  iteration: num(r.iteration),
  correlationId: textOrNull(r.correlation_id),
  data: json(r.data),
  createdAt: time(r.created_at)
})

/** Maps every row by hand; on the first row that does not fit, decodes them all with the reference Schema. */
const mapper =
  <A>(map: (r: Row) => A, reference: (rs: ReadonlyArray<unknown>) => Either.Either<Array<A>, ParseError>) =>
  (rs: ReadonlyArray<unknown>): Either.Either<Array<A>, ParseError> => {
    const out: Array<A> = new Array(rs.length)
    try {
      for (let i = 0; i < rs.length; i++) {
        const r = rs[i]
        if (r === null || typeof r !== "object") throw mismatch
        out[i] = map(r as Row)
      }
      return Either.right(out)
    } catch {
      // Whatever the fast path could not map (a mismatch or a value its codec refused), the reference Schema
      // decodes, so a bad row fails the same typed way on both paths.
      return reference(rs)
    }
  }

/** `agent_runs` rows selected with `columns.summary`, as `RunSummary` records (the list's hot path). */
export const runSummaries = mapper(summaryOf, rows.runSummaries)

/** `run_events` rows selected with `columns.event`, as `StoredEvent` records (the events' hot path). */
export const storedEvents = mapper(eventOf, rows.storedEvents)
