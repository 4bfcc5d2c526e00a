/**
 * Resuming a paused run: the submission is validated against the pending calls, then the run is claimed
 * (compare-and-swap on its status, storing the submission under a fresh submission id, so a claim retried
 * after a lost reply recognises its own win) and continued in this process. Of concurrent submitters exactly
 * one wins; the others get a typed error.
 */
import { context as otelContext } from "@opentelemetry/api"
import { Effect, Either, Option } from "effect"
import type { RunOptions } from "../../Agent.js"
import {
  InvalidToolResults,
  RecorderError,
  RunAlreadyClaimed,
  RunAlreadyTerminal,
  type RunError,
  RunNotPaused,
  type SubmitError
} from "../../Errors.js"
import type { HookEvent, Json, PausedStatus, ToolCallRef } from "../../HookEvent.js"
import * as Ids from "../../Ids.js"
import { LanguageModel } from "../../LanguageModel.js"
import * as Lifecycle from "../../Lifecycle.js"
import { Recorder } from "../../Recorder.js"
import { RunLedger, type RunLedgerService, type StoredRun } from "../../RunLedger.js"
import type { RunResult } from "../../RunResult.js"
import { makeBus, type Sink } from "../bus.js"
import type { AgentDefinition } from "../definition.js"
import { describeError } from "../json.js"
import { checkAgent, findRun } from "../lookup.js"
import { forCaller, policyFor, type StateCell } from "../privacy.js"
import { makeStoragePass } from "../redaction/policy.js"
import { type Batch, decodePause, fromPause, type PauseState, type RunState, type ToolOutcome } from "../runState.js"
import { report, type Scanned, scanValue } from "../sanitize.js"
import * as Services from "../services.js"
import { checkRunNotifiers, segmentSinks } from "../sinks.js"
import { processBatch } from "./batch.js"
import { failedOutcome } from "./events.js"
import { validateResume } from "./options.js"
import { type OutputSpec, resolveOutput, resumeOutput } from "./output.js"
import { runSegment } from "./segment.js"
import { decodeSubmission, encodeSubmission, type Submission } from "./submissions.js"
import { recordCall } from "./toolCall.js"
import { iterate } from "./turn.js"

/** Builds the submission from what the run stored, or says why it does not fit. */
export type BuildSubmission = (saved: PauseState) => Either.Either<Submission, SubmitError>

const storedState = (run: StoredRun): Effect.Effect<PauseState, RecorderError> => {
  const decoded = decodePause(run.pauseState)
  return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(
    new RecorderError({
      operation: "ledger.get",
      runId: run.runId,
      attempts: 1,
      reason: "permanent",
      message: `the stored pause state of run ${run.runId} cannot be read: ${decoded.left.message}`
    })
  )
}

/** Why a claim was lost, as the run is now. */
const classifyLost = (ledger: RunLedgerService, runId: string) =>
  Effect.flatMap(findRun(ledger, runId), ({ status }): Effect.Effect<never, SubmitError> => {
    if (Lifecycle.isTerminal(status)) {
      return Effect.fail(
        new RunAlreadyTerminal({ runId, status, message: `run ${runId} has already ended (${status})` })
      )
    }
    if (status === "running") {
      return Effect.fail(new RunAlreadyClaimed({ runId, message: `run ${runId} was resumed by another submitter` }))
    }
    return Effect.fail(new RunNotPaused({ runId, status, message: `run ${runId} is ${status}` }))
  })

/** The run must be paused in one of `accepts` (a flagged or finished run has ended for the submitter). */
const checkPaused = (
  run: StoredRun,
  accepts: ReadonlyArray<PausedStatus>
): Effect.Effect<PausedStatus, RunAlreadyTerminal | RunNotPaused> => {
  const { runId, status } = run
  if (Lifecycle.isTerminal(status) || run.cancelRequested) {
    const ended = run.cancelRequested ? "cancelled" : status
    return Effect.fail(new RunAlreadyTerminal({ runId, status: ended, message: `run ${runId} has ended (${ended})` }))
  }
  if (!Lifecycle.isPaused(status) || !accepts.includes(status)) {
    const message = `run ${runId} is ${status}, not ${accepts.join(" or ")}`
    return Effect.fail(new RunNotPaused({ runId, status, message }))
  }
  return Effect.succeed(status)
}

/** A submission builder that throws (a getter on the caller's value) is an invalid submission, not a crash. */
const build = (runId: string, make: BuildSubmission, saved: PauseState) => {
  try {
    return make(saved)
  } catch (error) {
    return Either.left(
      new InvalidToolResults({
        runId,
        missing: [],
        duplicate: [],
        unknown: [],
        message: `the submission could not be read: ${describeError(error)}`
      })
    )
  }
}

/** Validates, claims and continues a paused run. */
export const submit = (
  agent: AgentDefinition,
  runId: string,
  accepts: ReadonlyArray<PausedStatus>,
  make: BuildSubmission,
  options: RunOptions,
  stream?: Sink | undefined
): Effect.Effect<RunResult, SubmitError | RunError, LanguageModel | Recorder | RunLedger> =>
  Effect.gen(function*() {
    const valid = validateResume(options)
    if (Either.isLeft(valid)) return yield* valid.left
    yield* checkRunNotifiers(valid.right.notifiers)
    const ledger = yield* Services.runLedger
    const run = yield* findRun(ledger, runId)
    const status = yield* checkPaused(run, accepts)
    yield* checkAgent(run, agent)
    const saved = yield* storedState(run)
    const spec = resolveOutput(agent, options)
    if (Either.isLeft(spec)) return yield* spec.left
    const output = resumeOutput(runId, saved.output, spec.right)
    if (Either.isLeft(output)) return yield* output.left
    const submission = build(runId, make, saved)
    if (Either.isLeft(submission)) return yield* submission.left
    // Scanned before it is stored with the claim: a client's result or a reviewer's reason is never kept raw.
    const scanning = { agent, redactions: saved.redactions }
    const scanned = scanValue(scanning, encodeSubmission(submission.right))
    // One id per submit call: a retried claim of this submission wins again, another submitter's loses. What is
    // stored is the submission as `run.resumed` records it (the redaction policy's pass too); the run itself
    // continues with the scanned value.
    const won = yield* ledger.claim(runId, status, storedSubmission(agent, run, saved, scanned.value), Ids.make())
    if (!won) return yield* classifyLost(ledger, runId)
    const clean = { ...saved, redactions: scanning.redactions }
    const continued = { ...valid.right, output: output.right }
    return yield* continueRun(agent, run, clean, decodeSubmission(scanned.value), scanned, continued, stream)
  }).pipe(Effect.scoped)

/**
 * The submission as the claim stores it: through the agent's storage pass (redaction policy, size cap), as the
 * run's `run.resumed` event is recorded, so `agent_runs.resume_submission` never holds what the policy covers.
 */
const storedSubmission = (agent: AgentDefinition, run: StoredRun, saved: PauseState, submission: Json): Json => {
  const event: HookEvent = {
    _tag: "RunResumed",
    runId: run.runId,
    sequenceIndex: run.lastSequenceIndex + 1,
    iteration: saved.iteration,
    timestamp: 0,
    agentName: agent.name,
    resumedFrom: saved.status,
    submission
  }
  const passed = makeStoragePass(agent.redaction, saved.batch.calls).event(event)
  return passed._tag === "RunResumed" ? passed.submission ?? null : null
}

const continueRun = (
  agent: AgentDefinition,
  run: StoredRun,
  saved: PauseState,
  submission: Submission,
  scanned: Scanned<Json>,
  options: {
    readonly notifiers?: RunOptions["notifiers"]
    readonly traceContext?: unknown
    readonly output: OutputSpec | undefined
  },
  stream: Sink | undefined
) =>
  Effect.gen(function*() {
    const cell: StateCell = { state: undefined }
    const bus = yield* makeBus({
      runId: run.runId,
      recorder: yield* Services.recorder,
      sinks: yield* segmentSinks(options.notifiers, undefined),
      caller: forCaller(stream, cell),
      traceContext: options.traceContext ?? otelContext.active(),
      startSequence: run.lastSequenceIndex + 1,
      policy: policyFor(agent.guardrails, cell, saved.redactions),
      storage: makeStoragePass(agent.redaction, saved.batch.calls)
    })
    const segment = {
      bus,
      model: yield* Services.languageModel,
      ledger: yield* Services.runLedger,
      streaming: stream !== undefined
    }
    const state = cell.state = fromPause(segment, agent, saved)
    state.output = options.output
    return yield* runSegment(state, resumed(state, saved, submission, scanned, run.threadId))
  })

/** The resumed segment's body: `run.resumed`, the submission folded into the batch, the batch, the loop. */
const resumed = (
  state: RunState,
  saved: PauseState,
  submission: Submission,
  scanned: Scanned<Json>,
  threadId: string | undefined
) =>
  Effect.gen(function*() {
    yield* state.bus.emit({
      _tag: "RunResumed",
      agentName: state.agent.name,
      resumedFrom: saved.status,
      ...(threadId === undefined ? {} : { threadId }),
      submission: scanned.value
    }, saved.iteration)
    yield* report(state, scanned, "input", saved.iteration)
    const batch = yield* applySubmission(state, saved, submission)
    const ended = yield* processBatch(state, batch)
    if (Option.isSome(ended)) return ended.value
    return yield* iterate(state)
  })

/** Records what was submitted and folds it into the paused batch. */
const applySubmission = (
  state: RunState,
  saved: PauseState,
  submission: Submission
): Effect.Effect<Batch, RecorderError> =>
  Effect.gen(function*() {
    const { batch } = saved
    const outcomes: Record<string, ToolOutcome> = { ...batch.outcomes }
    const pending = batch.calls.filter((c) => saved.pending.includes(c.id))
    const record = (call: ToolCallRef, outcome: ToolOutcome) =>
      Effect.map(recordCall(state, call, "client", batch.iteration, Effect.succeed(outcome)), (recorded) => {
        outcomes[call.id] = recorded.outcome
      })
    switch (submission.kind) {
      case "tool_results": {
        const byId = new Map(submission.results.map((r) => [r.callId, r]))
        for (const call of pending) {
          const r = byId.get(call.id)!
          yield* record(
            call,
            r.error === undefined ? { success: true, result: r.result ?? null, durationMs: 0 } : failedOutcome(r.error)
          )
        }
        return { ...batch, outcomes }
      }
      case "input":
        yield* record(pending[0]!, { success: true, result: submission.text, durationMs: 0 })
        return { ...batch, outcomes }
      case "approval":
        return yield* applyApproval(state, batch, pending, submission)
    }
  })

/** Records `approval.decided`; approve lets the gated calls run, reject fails each pending call with the reason. */
const applyApproval = (
  state: RunState,
  batch: Batch,
  pending: ReadonlyArray<ToolCallRef>,
  decision: Extract<Submission, { readonly kind: "approval" }>
): Effect.Effect<Batch, RecorderError> =>
  Effect.map(
    state.bus.emit(
      {
        _tag: "ApprovalDecided",
        approved: decision.approved,
        ...(decision.reason === undefined ? {} : { reason: decision.reason })
      },
      batch.iteration
    ),
    (): Batch => {
      if (decision.approved) return { ...batch, approved: true }
      const message = `Rejected by a human: ${decision.reason ?? "the user declined to run this tool."}`
      const outcomes: Record<string, ToolOutcome> = { ...batch.outcomes }
      for (const call of pending) outcomes[call.id] = failedOutcome(message)
      return { ...batch, outcomes }
    }
  )
