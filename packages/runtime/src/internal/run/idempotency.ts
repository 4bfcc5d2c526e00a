/**
 * Idempotent starts: a key is bound to the agent and the input; a second start with the same key returns the
 * earlier run's result, or fails while that run is active or when the input differs.
 */
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { IdempotencyConflict, RunAlreadyActive } from "../../Errors.js"
import * as Lifecycle from "../../Lifecycle.js"
import type { StoredRun } from "../../RunLedger.js"
import type { RunResult } from "../../RunResult.js"

/** The fingerprint an idempotency key is bound to: the agent and the input. */
export const fingerprint = (agentName: string, input: string): string =>
  createHash("sha256").update(JSON.stringify([agentName, input])).digest("hex")

/** The result a stored run stands for. */
const resultOf = (run: StoredRun): RunResult => ({
  runId: run.runId,
  status: run.status,
  iterations: run.iterations,
  usage: run.usage,
  ...(run.answer === undefined ? {} : { answer: run.answer }),
  ...(run.error === undefined ? {} : { error: run.error })
})

/** What a start with an already used key gets: the earlier result, `RunAlreadyActive` or a conflict. */
export const decideExisting = (
  run: StoredRun,
  key: string,
  agentName: string,
  print: string
): Effect.Effect<RunResult, RunAlreadyActive | IdempotencyConflict> => {
  if (run.agentName !== agentName || run.idempotencyFingerprint !== print) {
    return Effect.fail(
      new IdempotencyConflict({
        idempotencyKey: key,
        runId: run.runId,
        message: `idempotency key '${key}' was used by run ${run.runId} with a different agent or input`
      })
    )
  }
  if (!Lifecycle.isTerminal(run.status)) {
    return Effect.fail(
      new RunAlreadyActive({ runId: run.runId, status: run.status, message: `run ${run.runId} is still ${run.status}` })
    )
  }
  return Effect.succeed(resultOf(run))
}
