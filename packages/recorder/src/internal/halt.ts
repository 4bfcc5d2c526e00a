import { SqlClient } from "@effect/sql"
import { Lifecycle } from "@sextant/runtime"
import { Clock, Context, Duration, Effect } from "effect"
import { abandonable } from "./connections.js"
import { agentRuns } from "./tables.js"

/** Runs `effect` outside any transaction open in the caller's context (the current one is a shared tag). */
export const outsideTransactions = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.mapInputContext(
    effect,
    (ctx: Context.Context<R>) => Context.omit(SqlClient.TransactionConnection)(ctx) as Context.Context<R>
  )

/** How long the best-effort mark may take. */
const MARK_WITHIN = Duration.millis(500)

/**
 * The halt of a run whose record failed (a write or a ledger statement): one best-effort write, no retries and
 * bounded, so that the run reads `error` / `failure_reason = 'recorder'` with the cause if the database still
 * takes it. A run that already ended is left as it is; a later sweep leaves an ended run alone, so the cause
 * is kept. No `run_events` row is added: the bus's sequence must not move past the failed step.
 */
export const markFailed = (sql: SqlClient.SqlClient, runId: string, message: string): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const at = new Date(now).toISOString()
    const row = agentRuns.encode({ id: runId, error_message: message, finished_at: at })
    // An ended run keeps no pause state (it holds a guarded run's raw placeholder mapping) nor submission.
    return sql`UPDATE agent_runs SET status = 'error', failure_reason = 'recorder', error_tag = 'RecorderError',
      error_message = ${row.error_message}, finished_at = ${row.finished_at}, updated_at = ${row.finished_at},
      pause_state = NULL, resume_submission = NULL
      WHERE id = ${row.id} AND status IN ${sql.in(Lifecycle.activeStatuses)}`
  }).pipe(
    abandonable,
    Effect.timeout(MARK_WITHIN),
    Effect.catchAllCause(() => Effect.void),
    outsideTransactions
  )
