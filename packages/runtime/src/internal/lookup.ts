/**
 * Reading a recorded run back for a resume, a cancel or a retry, with the typed errors a caller matches on.
 */
import { Effect, Option } from "effect"
import { AgentMismatch, type RecorderError, RunNotFound } from "../Errors.js"
import type { RunLedgerService, StoredRun } from "../RunLedger.js"
import type { AgentDefinition } from "./definition.js"

/** No run has this id. */
export const notFound = (runId: string) => new RunNotFound({ runId, message: `no run ${runId}` })

/** The run, or `RunNotFound`. */
export const findRun = (
  ledger: RunLedgerService,
  runId: string
): Effect.Effect<StoredRun, RunNotFound | RecorderError> =>
  Effect.flatMap(
    ledger.get(runId),
    (found) => (Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(notFound(runId)))
  )

/** `AgentMismatch` unless the run was started by this agent. */
export const checkAgent = (run: StoredRun, agent: AgentDefinition): Effect.Effect<void, AgentMismatch> =>
  run.agentName === agent.name ? Effect.void : Effect.fail(
    new AgentMismatch({
      runId: run.runId,
      expected: run.agentName,
      actual: agent.name,
      message: `run ${run.runId} belongs to agent '${run.agentName}', not '${agent.name}'`
    })
  )
