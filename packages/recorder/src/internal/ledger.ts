import { SqlClient } from "@effect/sql"
import {
  type HookEvent,
  Lifecycle,
  RecorderError,
  type RecorderOperation,
  type RunLedgerService,
  type StoredRun
} from "@sextant/runtime"
import { Effect, Either, Option } from "effect"
import { stringify } from "./json.js"
import { describeWriteError, type RetryPolicy, withRetry, type WriteError } from "./write.js"

interface RunRow {
  readonly id: string
  readonly agent_name: string
  readonly status: HookEvent.RunStatus
  readonly input: string
  readonly tenant_id: string | null
  readonly parent_run_id: string | null
  readonly metadata: unknown
  readonly delegation_level: number
  readonly idempotency_key: string | null
  readonly idempotency_fingerprint: string | null
  readonly answer: string | null
  readonly iteration_count: number
  readonly total_input_tokens: number
  readonly total_output_tokens: number
  readonly total_cache_read_tokens: number | null
  readonly total_cache_write_tokens: number | null
  readonly total_reasoning_tokens: number | null
  readonly total_cost_usd: number | null
  readonly unpriced_call_count: number
  readonly error_tag: string | null
  readonly error_message: string | null
  readonly failure_reason: string | null
  readonly pause_state: unknown
  readonly last_sequence_index: number
  readonly cancel_requested: boolean | number
}

/** SQLite returns JSON columns as text, Postgres JSONB as parsed values. */
const json = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value)

const toStoredRun = (row: RunRow): StoredRun => {
  const usage = {
    inputTokens: Number(row.total_input_tokens),
    outputTokens: Number(row.total_output_tokens),
    ...(row.total_cache_read_tokens === null ? {} : { cacheReadTokens: Number(row.total_cache_read_tokens) }),
    ...(row.total_cache_write_tokens === null ? {} : { cacheWriteTokens: Number(row.total_cache_write_tokens) }),
    ...(row.total_reasoning_tokens === null ? {} : { reasoningTokens: Number(row.total_reasoning_tokens) }),
    // A run's cost is only known when every model call had one.
    ...(row.total_cost_usd === null || Number(row.unpriced_call_count) > 0
      ? {}
      : { costUsd: Number(row.total_cost_usd) })
  }
  const metadata = row.metadata === null ? undefined : json(row.metadata)
  const pauseState = row.pause_state === null ? undefined : json(row.pause_state)
  return {
    runId: row.id,
    agentName: row.agent_name,
    status: row.status,
    input: row.input,
    delegationLevel: Number(row.delegation_level),
    iterations: Number(row.iteration_count),
    usage,
    lastSequenceIndex: Number(row.last_sequence_index),
    cancelRequested: row.cancel_requested === true || row.cancel_requested === 1,
    ...(row.tenant_id === null ? {} : { tenantId: row.tenant_id }),
    ...(row.parent_run_id === null ? {} : { parentRunId: row.parent_run_id }),
    ...(metadata === undefined ? {} : { metadata: metadata as StoredRun["metadata"] & object }),
    ...(row.idempotency_key === null ? {} : { idempotencyKey: row.idempotency_key }),
    ...(row.idempotency_fingerprint === null ? {} : { idempotencyFingerprint: row.idempotency_fingerprint }),
    ...(row.answer === null ? {} : { answer: row.answer }),
    ...(row.status === "error" && row.error_message !== null
      ? {
        error: {
          tag: row.error_tag ?? "Error",
          message: row.error_message,
          failureReason: (row.failure_reason ?? "internal") as NonNullable<StoredRun["error"]>["failureReason"]
        }
      }
      : {}),
    ...(pauseState === undefined ? {} : { pauseState: pauseState as StoredRun["pauseState"] & object })
  }
}

const COLUMNS = `id, agent_name, status, input, tenant_id, parent_run_id, metadata, delegation_level, idempotency_key,
  idempotency_fingerprint, answer, iteration_count, total_input_tokens, total_output_tokens, total_cache_read_tokens,
  total_cache_write_tokens, total_reasoning_tokens, total_cost_usd, unpriced_call_count, error_tag, error_message,
  failure_reason, pause_state, last_sequence_index, cancel_requested`

/**
 * The runtime's `RunLedger` over `agent_runs`: reads for resume, cancel, retry and idempotency, and the
 * compare-and-swap claim of a paused run. Statements go straight to the database (not through the
 * group-commit writer) and are retried like writes when the error is transient.
 */
export const makeLedger = (retry: RetryPolicy): Effect.Effect<RunLedgerService, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const run = <A>(what: RecorderOperation, runId: string, statement: Effect.Effect<A, WriteError>) =>
      Effect.flatMap(
        withRetry(retry, statement),
        (outcome) =>
          Either.isRight(outcome) ? Effect.succeed(outcome.right.value) : Effect.fail(
            new RecorderError({
              operation: what,
              runId,
              attempts: outcome.left.attempts,
              reason: outcome.left.transient ? "transient" : "permanent",
              message: `${what} of run ${runId} failed after ${outcome.left.attempts} attempt(s): ${
                describeWriteError(outcome.left.error)
              }`,
              cause: outcome.left.error
            })
          )
      )
    const select = (where: "id" | "idempotency_key", value: string) =>
      run(
        "ledger.get",
        value,
        Effect.map(
          sql<RunRow>`SELECT ${sql.literal(COLUMNS)} FROM agent_runs WHERE ${sql(where)} = ${value}`,
          (rows) => Option.map(Option.fromNullable(rows[0]), toStoredRun)
        )
      )
    const now = () => new Date().toISOString()
    return {
      get: (runId) => select("id", runId),
      findByIdempotencyKey: (key) => select("idempotency_key", key),
      claim: (runId, expected, submission) =>
        run(
          "ledger.claim",
          runId,
          Effect.suspend(() => {
            const at = now()
            return sql`UPDATE agent_runs SET status = 'running', resume_submission = ${stringify(submission)},
              updated_at = ${at}, last_progress_at = ${at}
              WHERE id = ${runId} AND status = ${expected} RETURNING id`
          }).pipe(Effect.map((rows) => rows.length === 1))
        ),
      // TODO(contract): store and match the submission id (a claim retried after a lost reply must win again).
      heartbeat: (runId) =>
        run(
          "ledger.heartbeat",
          runId,
          Effect.suspend(() => {
            const at = now()
            return sql`UPDATE agent_runs SET last_progress_at = ${at} WHERE id = ${runId} AND status = 'running'`
          }).pipe(Effect.asVoid)
        ),
      requestCancel: (runId) =>
        run(
          "ledger.requestCancel",
          runId,
          sql`UPDATE agent_runs SET cancel_requested = ${
            sql.onDialectOrElse({ pg: () => sql.literal("TRUE"), orElse: () => sql.literal("1") })
          }, updated_at = ${now()}
            WHERE id = ${runId} AND status NOT IN ${sql.in([...Lifecycle.terminalStatuses])} RETURNING id`.pipe(
            Effect.map((rows) => rows.length === 1)
          )
        ),
      isCancelRequested: (runId) =>
        run(
          "ledger.isCancelRequested",
          runId,
          sql<
            { readonly cancel_requested: boolean | number }
          >`SELECT cancel_requested FROM agent_runs WHERE id = ${runId}`.pipe(
            Effect.map((rows) => rows[0]?.cancel_requested === true || rows[0]?.cancel_requested === 1)
          )
        )
    }
  })
