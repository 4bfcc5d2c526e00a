import { SqlClient, SqlError } from "@effect/sql"
import {
  type CallTokens,
  HookEvent,
  Lifecycle,
  RecorderError,
  type RecorderOperation,
  type RetryPolicy,
  type RunLedgerService,
  type StoredRun,
  type ThreadRun,
  type ThreadState
} from "@sextant/runtime"
import { Clock, Effect, Either, Option, ParseResult, Schema } from "effect"
import { unescapeText } from "./escape.js"
import { markFailed } from "./halt.js"
import { ACTIVE_STATUSES } from "./migrations/0006_threads.js"
import { type MaybeOpener, openRows, type Sealer, sealRow } from "./sealed.js"
import { agentRuns, reactTraces } from "./tables.js"
import { describeWriteError, withRetry, type WriteError } from "./write.js"

/** The columns a stored run is read from. */
const RunRow = agentRuns.Row.pick(
  "id",
  "agent_name",
  "status",
  "input",
  "tenant_id",
  "thread_id",
  "parent_run_id",
  "metadata",
  "delegation_level",
  "idempotency_key",
  "idempotency_fingerprint",
  "answer",
  "iteration_count",
  "total_input_tokens",
  "total_output_tokens",
  "total_cache_read_tokens",
  "total_cache_write_tokens",
  "total_reasoning_tokens",
  "total_cost_nanos",
  "unpriced_call_count",
  "error_tag",
  "error_message",
  "failure_reason",
  "pause_state",
  "last_sequence_index",
  "last_progress_at",
  "cancel_requested"
)
type RunRow = typeof RunRow.Type
const COLUMNS = Object.keys(RunRow.fields).join(", ")
const decodeRuns = Schema.decodeUnknownEither(Schema.Array(RunRow))

const toStoredRun = (row: RunRow): StoredRun => {
  const usage = {
    inputTokens: row.total_input_tokens,
    outputTokens: row.total_output_tokens,
    ...(row.total_cache_read_tokens === null ? {} : { cacheReadTokens: row.total_cache_read_tokens }),
    ...(row.total_cache_write_tokens === null ? {} : { cacheWriteTokens: row.total_cache_write_tokens }),
    ...(row.total_reasoning_tokens === null ? {} : { reasoningTokens: row.total_reasoning_tokens }),
    // A run's cost is only known when every model call had one.
    ...(row.total_cost_nanos === null || row.unpriced_call_count > 0
      ? {}
      : { costUsd: Lifecycle.fromNanos(row.total_cost_nanos) })
  }
  return {
    runId: row.id,
    agentName: row.agent_name,
    status: row.status as StoredRun["status"],
    input: row.input,
    delegationLevel: row.delegation_level,
    iterations: row.iteration_count,
    usage,
    lastSequenceIndex: row.last_sequence_index,
    lastProgressAt: Date.parse(row.last_progress_at),
    cancelRequested: row.cancel_requested,
    ...(row.tenant_id === null ? {} : { tenantId: row.tenant_id }),
    ...(row.thread_id === null ? {} : { threadId: row.thread_id }),
    ...(row.parent_run_id === null ? {} : { parentRunId: row.parent_run_id }),
    ...(row.metadata === null ? {} : { metadata: row.metadata as StoredRun["metadata"] & object }),
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
    ...(row.pause_state === null ? {} : { pauseState: row.pause_state as StoredRun["pauseState"] & object })
  }
}

/** The columns a thread's messages are read from (its runs' `react_traces`). */
const MessageRow = reactTraces.Row.pick(
  "role",
  "content",
  "tool_calls",
  "tool_call_id",
  "provider_call_id",
  "tool_name",
  "is_error",
  "parts"
)
type MessageRow = typeof MessageRow.Type
/** A thread's message rows carry their run. */
const ThreadRow = Schema.Struct({ ...MessageRow.fields, run_id: agentRuns.Row.fields.id })
type ThreadRow = typeof ThreadRow.Type
const decodeThreadRows = Schema.decodeUnknownEither(Schema.Array(ThreadRow))
/** A thread's run and the run it retried. */
const RunRef = Schema.Struct({ run_id: agentRuns.Row.fields.id, retry_of_run_id: agentRuns.Row.fields.retry_of_run_id })
type RunRef = typeof RunRef.Type
const decodeRunRefs = Schema.decodeUnknownEither(Schema.Array(RunRef))
const decodeCalls = Schema.decodeUnknownEither(Schema.Array(HookEvent.ToolCallRef))
const decodeParts = Schema.decodeUnknownEither(Schema.Array(HookEvent.UserPart))

/** A recorded message as the kernel keeps it (the inverse of the recorder's `react_traces` row). */
const toMessage = (row: MessageRow): Either.Either<HookEvent.Message, string> => {
  switch (row.role) {
    case "user":
      return row.parts === null
        ? Either.right({ _tag: "user", content: row.content })
        : Either.map(
          Either.mapLeft(decodeParts(row.parts), (e) => ParseResult.TreeFormatter.formatErrorSync(e)),
          (parts) => ({ _tag: "user" as const, content: row.content, parts })
        )
    case "assistant":
      return Either.map(
        Either.mapLeft(decodeCalls(row.tool_calls ?? []), (e) => ParseResult.TreeFormatter.formatErrorSync(e)),
        (toolCalls) => ({ _tag: "assistant" as const, content: row.content, toolCalls })
      )
    case "tool":
      return Either.right({
        _tag: "tool",
        toolCallId: row.tool_call_id ?? "",
        ...(row.provider_call_id === null ? {} : { providerCallId: row.provider_call_id }),
        toolName: row.tool_name ?? "",
        content: row.content,
        isError: row.is_error === true
      })
    default:
      return Either.left(`unknown role ${JSON.stringify(row.role)}`)
  }
}

/** A row that does not decode is a permanent read error (never retried, never a crash). */
const unreadable = (what: string, detail: string) =>
  Effect.fail(new SqlError.SqlError({ cause: detail, message: `${what} could not be read: ${detail}` }))

/** A thread's runs (in start order) with their decoded message rows and their calls' usage. */
const threadRuns = (
  refs: ReadonlyArray<RunRef>,
  rows: ReadonlyArray<ThreadRow>,
  calls: ReadonlyArray<{ readonly agent_run_id: string; readonly input_tokens: number; readonly output_tokens: number }>
): Effect.Effect<ReadonlyArray<ThreadRun>, SqlError.SqlError> => {
  const messages = new Map<string, Array<HookEvent.Message>>()
  for (const row of rows) {
    const message = toMessage(row)
    if (Either.isLeft(message)) return unreadable("a thread message", message.left)
    const list = messages.get(row.run_id) ?? []
    list.push(message.right)
    messages.set(row.run_id, list)
  }
  const usage = new Map<string, Array<CallTokens>>()
  for (const c of calls) {
    const id = unescapeText(c.agent_run_id)
    const list = usage.get(id) ?? []
    list.push({ inputTokens: Number(c.input_tokens), outputTokens: Number(c.output_tokens) })
    usage.set(id, list)
  }
  return Effect.succeed(refs.map((ref) => ({
    runId: ref.run_id,
    ...(ref.retry_of_run_id === null ? {} : { retryOfRunId: ref.retry_of_run_id }),
    messages: messages.get(ref.run_id) ?? [],
    calls: usage.get(ref.run_id) ?? []
  })))
}

/** Operations the run's own process makes while it runs: their failure halts the run like a failed write. */
const HALTS: ReadonlySet<RecorderOperation> = new Set(["ledger.isCancelRequested", "ledger.heartbeat"])

/**
 * The runtime's `RunLedger` over `agent_runs`: reads for resume, cancel, retry and idempotency, and the
 * compare-and-swap claim of a paused run. Statements go straight to the database (not through the
 * group-commit writer) and are retried like writes when the error is transient. A failure is a `RecorderError`
 * naming the operation; when the run's own process made it (the cancel check, the heartbeat) the run halts
 * there, so it is marked `error` / `recorder` like a failed write.
 */
export const makeLedger = (
  retry: RetryPolicy.Resolved,
  ring?: (Sealer & { readonly open: (sealed: string) => string }) | undefined
): Effect.Effect<RunLedgerService, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const opener: MaybeOpener = ring
    // Sealed content (the pause state, the input, messages) opened with the key ring; without the right key the
    // read fails (permanently, never retried) naming the key.
    const opened = <A>(rows: ReadonlyArray<A>): Effect.Effect<ReadonlyArray<A>, SqlError.SqlError> => {
      try {
        return Effect.succeed(openRows(opener, rows))
      } catch (cause) {
        return Effect.fail(new SqlError.SqlError({ cause, message: (cause as Error).message }))
      }
    }
    // SQLite's driver is synchronous: a timer cannot cut its statement, so the first attempt goes without one.
    const bareFirst = sql.onDialectOrElse({ sqlite: () => true, orElse: () => false })
    // `subject` names what was read in the message (a run, or a thread: then `runId` holds the thread id).
    const run = <A>(
      what: RecorderOperation,
      runId: string,
      statement: Effect.Effect<A, WriteError>,
      subject = `run ${runId}`
    ) =>
      Effect.flatMap(withRetry(retry, statement, { bareFirst }), (outcome) => {
        if (Either.isRight(outcome)) return Effect.succeed(outcome.right.value)
        const failed = outcome.left
        const error = new RecorderError({
          operation: what,
          runId,
          attempts: failed.attempts,
          reason: failed.transient ? "transient" : "permanent",
          message: `${what} of ${subject} failed after ${failed.attempts} attempt(s): ${
            describeWriteError(failed.error)
          }`,
          cause: failed.error
        })
        return Effect.zipRight(
          HALTS.has(what) ? markFailed(sql, runId, error.message) : Effect.void,
          Effect.fail(error)
        )
      })
    const key = (id: string) => agentRuns.encode({ id }).id
    const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())
    const select = (what: RecorderOperation, where: "id" | "idempotency_key", value: string) =>
      run(
        what,
        value,
        sql`SELECT ${sql.literal(COLUMNS)} FROM agent_runs WHERE ${sql(where)} = ${key(value)}`.pipe(
          Effect.flatMap(opened),
          Effect.flatMap((rows) =>
            Either.match(decodeRuns(rows), {
              onLeft: (error) =>
                Effect.fail(
                  new SqlError.SqlError({
                    cause: error,
                    message: `a run row could not be read: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
                  })
                ),
              onRight: (runs) => Effect.succeed(Option.map(Option.fromNullable(runs[0]), toStoredRun))
            })
          )
        )
      )
    return {
      get: (runId) => select("ledger.get", "id", runId),
      findByIdempotencyKey: (k) => select("ledger.findByIdempotencyKey", "idempotency_key", k),
      // Idempotent per submission: a claim retried after its reply was lost finds its own id and wins again.
      claim: (runId, expected, submission, submissionId) =>
        run(
          "ledger.claim",
          runId,
          Effect.flatMap(now, (at) => {
            const row = sealRow(
              ring,
              "agent_runs",
              agentRuns.encode({
                id: runId,
                resume_submission: submission,
                resume_submission_id: submissionId,
                updated_at: at
              })
            )
            return sql`UPDATE agent_runs SET status = 'running', resume_submission = ${row.resume_submission},
              resume_submission_id = ${row.resume_submission_id}, updated_at = ${at}, last_progress_at = ${at}
              WHERE id = ${row.id} AND (status = ${expected}
                OR (status = 'running' AND resume_submission_id = ${row.resume_submission_id})) RETURNING id`
          }).pipe(Effect.map((rows) => rows.length === 1))
        ),
      heartbeat: (runId) =>
        run(
          "ledger.heartbeat",
          runId,
          Effect.flatMap(
            now,
            (at) => sql`UPDATE agent_runs SET last_progress_at = ${at} WHERE id = ${key(runId)} AND status = 'running'`
          ).pipe(
            Effect.asVoid
          )
        ),
      requestCancel: (runId) =>
        run(
          "ledger.requestCancel",
          runId,
          Effect.flatMap(now, (at) =>
            sql`UPDATE agent_runs SET cancel_requested = ${
              sql.onDialectOrElse({
                pg: () => sql.literal("TRUE"),
                orElse: () => sql.literal("1")
              })
            }, updated_at = ${at}
              WHERE id = ${key(runId)} AND status NOT IN ${sql.in(Lifecycle.terminalStatuses)} RETURNING id`).pipe(
              Effect.map((rows) => rows.length === 1)
            )
        ),
      threadState: (threadId) =>
        run(
          "ledger.threadState",
          threadId,
          // The owner is the tenant of the first run by its run.started row (the runs of a thread start in turn).
          sql<{ readonly owner: string | null; readonly runs: number | string; readonly active: string | null }>`
            SELECT (SELECT f.tenant_id FROM agent_runs f
                JOIN run_events s ON s.agent_run_id = f.id AND s.sequence_index = 0
                WHERE f.thread_id = ${key(threadId)} ORDER BY s.id LIMIT 1) AS owner,
              COUNT(*) AS runs, MAX(CASE WHEN status IN ${sql.in(ACTIVE_STATUSES)} THEN id END) AS active
            FROM agent_runs WHERE thread_id = ${key(threadId)}`.pipe(
            Effect.map((rows): Option.Option<ThreadState> => {
              const row = rows[0]
              if (row === undefined || Number(row.runs) === 0) return Option.none()
              return Option.some({
                ...(row.owner === null ? {} : { tenantId: unescapeText(row.owner) }),
                runCount: Number(row.runs),
                ...(row.active === null ? {} : { activeRunId: unescapeText(row.active) })
              })
            })
          ),
          `thread ${threadId}`
        ),
      threadHistory: (threadId) =>
        run(
          "ledger.threadHistory",
          threadId,
          Effect.gen(function*() {
            // Runs by their run.started row: the runs of a thread start one after another (a run with no
            // message yet, as a retry reading its history, is listed too: it names the run it retried).
            const runs = yield* sql`SELECT r.id AS run_id, r.retry_of_run_id FROM agent_runs r
              JOIN run_events s ON s.agent_run_id = r.id AND s.sequence_index = 0
              WHERE r.thread_id = ${key(threadId)} ORDER BY s.id`
            const rows = yield* sql`SELECT r.id AS run_id, t.role, t.content, t.tool_calls,
                t.tool_call_id, t.provider_call_id, t.tool_name, t.is_error, t.parts
              FROM agent_runs r
              JOIN run_events s ON s.agent_run_id = r.id AND s.sequence_index = 0
              JOIN react_traces t ON t.agent_run_id = r.id
              WHERE r.thread_id = ${key(threadId)} ORDER BY s.id, t.order_index`.pipe(Effect.flatMap(opened))
            // The completed calls' usage, for the window's token budget (calls that recorded none are left out).
            const calls = yield* sql<{ agent_run_id: string; input_tokens: number; output_tokens: number }>`
              SELECT l.agent_run_id, l.input_tokens, l.output_tokens FROM llm_interactions l
              JOIN agent_runs r ON r.id = l.agent_run_id
              WHERE r.thread_id = ${key(threadId)} AND l.status = 'completed'
                AND l.input_tokens IS NOT NULL AND l.output_tokens IS NOT NULL
              ORDER BY l.started_at, l.iteration`
            const decoded = Either.all([decodeRunRefs(runs), decodeThreadRows(rows)])
            return yield* Either.match(decoded, {
              onLeft: (e) => unreadable("a thread message", ParseResult.TreeFormatter.formatErrorSync(e)),
              onRight: ([refs, messages]) => threadRuns(refs, messages, calls)
            })
          }),
          `thread ${threadId}`
        ),
      isCancelRequested: (runId) =>
        run(
          "ledger.isCancelRequested",
          runId,
          sql<{ readonly cancel_requested: boolean | number }>`SELECT cancel_requested FROM agent_runs
            WHERE id = ${key(runId)}`.pipe(
            Effect.map((rows) => rows[0]?.cancel_requested === true || rows[0]?.cancel_requested === 1)
          )
        )
    }
  })
