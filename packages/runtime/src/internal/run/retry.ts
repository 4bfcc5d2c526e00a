/**
 * Retrying a finished run: a new run from its recorded input, tenant, metadata and parent, linked to it by
 * `retryOfRunId`, on its thread when it had one.
 */
import { Effect } from "effect"
import type { RunOptions } from "../../Agent.js"
import { type AgentMismatch, RunAlreadyActive, type RunError, type RunNotFound } from "../../Errors.js"
import type { LanguageModel } from "../../LanguageModel.js"
import * as Lifecycle from "../../Lifecycle.js"
import type { Recorder } from "../../Recorder.js"
import { RunLedger } from "../../RunLedger.js"
import type { RunResult } from "../../RunResult.js"
import type { AgentDefinition } from "../definition.js"
import { checkAgent, findRun } from "../lookup.js"
import * as Services from "../services.js"
import { startRun } from "./start.js"

/** Starts a new run from a finished run's input, linked to it by `retryOfRunId`. */
export const retryRun = (
  agent: AgentDefinition,
  runId: string,
  options: RunOptions
): Effect.Effect<RunResult, RunNotFound | AgentMismatch | RunError, LanguageModel | Recorder | RunLedger> =>
  Effect.gen(function*() {
    const run = yield* findRun(yield* Services.runLedger, runId)
    if (!Lifecycle.isTerminal(run.status)) {
      return yield* new RunAlreadyActive({ runId, status: run.status, message: `run ${runId} is still ${run.status}` })
    }
    yield* checkAgent(run, agent)
    return yield* startRun(agent, run.input, {
      ...(run.tenantId === undefined ? {} : { tenantId: run.tenantId }),
      ...(run.metadata === undefined ? {} : { metadata: run.metadata }),
      ...(run.parentRunId === undefined ? {} : { parentRunId: run.parentRunId }),
      // The retry continues the conversation the run belonged to, under the thread's rules (its tenant, one
      // active run): the retried run's own messages are left out of its history (the ledger's threadHistory).
      ...(run.threadId === undefined ? {} : { threadId: run.threadId }),
      ...options,
      retryOfRunId: runId
    }, undefined)
  })
