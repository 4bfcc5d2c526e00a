import { context as otelContext } from "@opentelemetry/api"
import { Effect, Either, Fiber, Option, Schema } from "effect"
import type { AgentDefinition, RunOptions } from "../Agent.js"
import {
  AgentMismatch,
  InvalidToolResults,
  RecorderError,
  RunAlreadyActive,
  RunAlreadyClaimed,
  RunAlreadyTerminal,
  type RunError,
  RunNotFound,
  RunNotPaused,
  type SubmitError
} from "../Errors.js"
import type { Json, PausedStatus, ToolCallRef } from "../HookEvent.js"
import * as Ids from "../Ids.js"
import { LanguageModel } from "../LanguageModel.js"
import { Recorder } from "../Recorder.js"
import { RunLedger, type RunLedgerService, type StoredRun, terminalStatuses } from "../RunLedger.js"
import type { CancelResult, RunResult, ToolResultSubmission } from "../RunResult.js"
import { makeBus } from "./bus.js"
import { toJson } from "./json.js"
import {
  iterate,
  makeSinks,
  processBatch,
  runSegment,
  sanitizeOutcome,
  startRun,
  toolCompleted,
  toolStarted
} from "./loop.js"
import * as Registry from "./registry.js"
import { type Batch, PauseState, type RunState, type ToolOutcome } from "./runState.js"
import { scanValue } from "./sanitize.js"

/** What was submitted to a paused run, as it is stored with the claim. */
type Submission =
  | { readonly kind: "tool_results"; readonly results: ReadonlyArray<ToolResultSubmission> }
  | { readonly kind: "approval"; readonly approved: boolean; readonly reason?: string }
  | { readonly kind: "input"; readonly text: string }

const decodePauseState = Schema.decodeUnknownEither(PauseState)

const notFound = (runId: string) => new RunNotFound({ runId, message: `no run ${runId}` })

const mismatch = (run: StoredRun, agent: AgentDefinition) =>
  new AgentMismatch({
    runId: run.runId,
    expected: run.agentName,
    actual: agent.name,
    message: `run ${run.runId} belongs to agent '${run.agentName}', not '${agent.name}'`
  })

const storedState = (run: StoredRun): Effect.Effect<PauseState, RecorderError> => {
  const decoded = decodePauseState(run.pauseState)
  return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(
    new RecorderError({
      operation: "record",
      eventType: "run.resumed",
      runId: run.runId,
      attempts: 1,
      reason: "permanent",
      message: `the stored pause state of run ${run.runId} cannot be read: ${decoded.left.message}`
    })
  )
}

const classifyLost = (ledger: RunLedgerService, runId: string) =>
  Effect.flatMap(ledger.get(runId), (now): Effect.Effect<never, SubmitError | RecorderError> => {
    if (Option.isNone(now)) return Effect.fail(notFound(runId))
    const { status } = now.value
    if (terminalStatuses.has(status)) {
      return Effect.fail(
        new RunAlreadyTerminal({ runId, status, message: `run ${runId} has already ended (${status})` })
      )
    }
    if (status === "running") {
      return Effect.fail(new RunAlreadyClaimed({ runId, message: `run ${runId} was resumed by another submitter` }))
    }
    return Effect.fail(new RunNotPaused({ runId, status, message: `run ${runId} is ${status}` }))
  })

/**
 * Validates a submission against the paused run, then claims the run (compare-and-swap on its status,
 * storing the submission) and continues it in this process. Of concurrent submitters exactly one wins.
 */
const submit = (
  agent: AgentDefinition,
  runId: string,
  accepts: ReadonlyArray<PausedStatus>,
  build: (state: PauseState, run: StoredRun) => Either.Either<Submission, SubmitError>,
  options: RunOptions
): Effect.Effect<RunResult, SubmitError | RunError, LanguageModel | Recorder | RunLedger> =>
  Effect.gen(function*() {
    const ledger = yield* RunLedger
    const found = yield* ledger.get(runId)
    if (Option.isNone(found)) return yield* notFound(runId)
    const run = found.value
    if (terminalStatuses.has(run.status) || run.cancelRequested) {
      const status = run.cancelRequested ? "cancelled" : run.status
      return yield* new RunAlreadyTerminal({ runId, status, message: `run ${runId} has ended (${status})` })
    }
    if (!accepts.includes(run.status as PausedStatus)) {
      return yield* new RunNotPaused({
        runId,
        status: run.status,
        message: `run ${runId} is ${run.status}, not ${accepts.join(" or ")}`
      })
    }
    if (run.agentName !== agent.name) return yield* mismatch(run, agent)
    const saved = yield* storedState(run)
    const submission = build(saved, run)
    if (Either.isLeft(submission)) return yield* submission.left
    const won = yield* ledger.claim(runId, run.status as PausedStatus, submission.right as unknown as Json, Ids.make())
    if (!won) return yield* classifyLost(ledger, runId)
    return yield* continueRun(agent, run, saved, submission.right, options)
  }).pipe(Effect.scoped)

const continueRun = (
  agent: AgentDefinition,
  run: StoredRun,
  saved: PauseState,
  submission: Submission,
  options: RunOptions
) =>
  Effect.gen(function*() {
    const model = yield* LanguageModel
    const recorder = yield* Recorder
    const ledger = yield* RunLedger
    const sinks = yield* makeSinks(options, undefined)
    const bus = yield* makeBus({
      runId: run.runId,
      recorder,
      sinks,
      traceContext: options.traceContext ?? otelContext.active(),
      startSequence: run.lastSequenceIndex + 1
    })
    const state: RunState = {
      bus,
      agent,
      model,
      ledger,
      streaming: false,
      tenantId: saved.tenantId,
      delegationLevel: saved.delegationLevel,
      history: [...saved.history],
      orderIndex: saved.orderIndex,
      iterations: saved.iteration,
      usage: saved.usage,
      modelCalls: saved.modelCalls,
      callsPerTool: new Map(Object.entries(saved.callsPerTool)),
      budgetFired: new Set(saved.budgetFired),
      budgetExceeded: saved.budgetExceeded,
      redactions: saved.redactions
    }
    return yield* runSegment(
      state,
      Effect.gen(function*() {
        const scanned = scanValue(state, submission as unknown as Json)
        yield* bus.emit(
          { _tag: "RunResumed", agentName: agent.name, resumedFrom: saved.status, submission: scanned.value },
          saved.iteration
        )
        const batch = yield* applySubmission(state, saved, submission)
        const ended = yield* processBatch(state, batch)
        if (Option.isSome(ended)) return ended.value
        return yield* iterate(state)
      })
    )
  })

/** Records what was submitted and folds it into the paused batch. */
const applySubmission = (
  state: RunState,
  saved: PauseState,
  submission: Submission
): Effect.Effect<Batch, RecorderError> =>
  Effect.gen(function*() {
    const { batch } = saved
    const iteration = batch.iteration
    const outcomes: Record<string, ToolOutcome> = { ...batch.outcomes }
    const pending = batch.calls.filter((c) => saved.pending.includes(c.id))
    const record = (call: ToolCallRef, outcome: ToolOutcome) =>
      Effect.gen(function*() {
        yield* state.bus.emit(toolStarted(call, "client"), iteration)
        const clean = yield* sanitizeOutcome(state, outcome, iteration)
        outcomes[call.id] = clean.outcome
        yield* state.bus.emit(toolCompleted(call, "client", clean.outcome), iteration)
      })
    switch (submission.kind) {
      case "tool_results": {
        const byId = new Map(submission.results.map((r) => [r.callId, r]))
        for (const call of pending) {
          const r = byId.get(call.id)!
          yield* record(
            call,
            r.error === undefined
              ? { success: true, result: r.result ?? null, durationMs: 0 }
              : { success: false, result: { error: r.error }, error: r.error, durationMs: 0 }
          )
        }
        return { ...batch, outcomes }
      }
      case "input":
        yield* record(pending[0]!, { success: true, result: submission.text, durationMs: 0 })
        return { ...batch, outcomes }
      case "approval": {
        yield* state.bus.emit(
          {
            _tag: "ApprovalDecided",
            approved: submission.approved,
            ...(submission.reason === undefined ? {} : { reason: submission.reason })
          },
          iteration
        )
        if (submission.approved) return { ...batch, approved: true }
        const message = `Rejected by a human: ${submission.reason ?? "the user declined to run this tool."}`
        for (const call of pending) {
          outcomes[call.id] = { success: false, result: { error: message }, error: message, durationMs: 0 }
        }
        return { ...batch, outcomes }
      }
    }
  })

/** Submits the results of a paused run's client tool calls (every pending call exactly once). */
export const submitToolResults = (
  agent: AgentDefinition,
  runId: string,
  results: ReadonlyArray<ToolResultSubmission>,
  options: RunOptions = {}
) =>
  submit(agent, runId, ["waiting_client_tool", "waiting_human_input"], (saved) => {
    const pending = new Set(saved.pending)
    const seen = new Set<string>()
    const duplicate: Array<string> = []
    const unknown: Array<string> = []
    const clean: Array<ToolResultSubmission> = []
    for (const r of results) {
      if (seen.has(r.callId)) duplicate.push(r.callId)
      else if (!pending.has(r.callId)) unknown.push(r.callId)
      seen.add(r.callId)
      const json = toJson(r.result ?? null)
      if (Either.isLeft(json) || (r.error !== undefined && typeof r.error !== "string")) unknown.push(r.callId)
      else clean.push({ callId: r.callId, ...(r.error === undefined ? { result: json.right } : { error: r.error }) })
    }
    const missing = [...pending].filter((id) => !seen.has(id))
    if (missing.length + duplicate.length + unknown.length > 0) {
      return Either.left(
        new InvalidToolResults({
          runId,
          missing,
          duplicate,
          unknown,
          message: `tool results must answer each pending call once: missing [${missing.join(", ")}], ` +
            `duplicate [${duplicate.join(", ")}], unknown or invalid [${unknown.join(", ")}]`
        })
      )
    }
    return Either.right({ kind: "tool_results", results: clean })
  }, options)

/** Approves or rejects the pending batch of a run waiting for approval. */
export const submitApproval = (
  agent: AgentDefinition,
  runId: string,
  decision: { readonly approved: boolean; readonly reason?: string | undefined },
  options: RunOptions = {}
) =>
  submit(agent, runId, ["waiting_approval"], () =>
    Either.right({
      kind: "approval",
      approved: decision.approved === true,
      ...(decision.reason === undefined ? {} : { reason: String(decision.reason) })
    }), options)

/** Answers a run waiting for human input. */
export const submitInput = (agent: AgentDefinition, runId: string, text: string, options: RunOptions = {}) =>
  submit(agent, runId, ["waiting_human_input"], () =>
    typeof text === "string"
      ? Either.right({ kind: "input", text })
      : Either.left(
        new InvalidToolResults({ runId, missing: [], duplicate: [], unknown: [], message: "input must be a string" })
      ), options)

/**
 * Cancels a run: a paused run at once, a run executing in this process at its current model or tool call,
 * a run executing in another process at its next step. Cancelling a finished run changes nothing.
 */
export const cancelRun = (
  runId: string
): Effect.Effect<CancelResult, RunNotFound | RecorderError, Recorder | RunLedger> =>
  Effect.gen(function*() {
    const ledger = yield* RunLedger
    const recorder = yield* Recorder
    const found = yield* ledger.get(runId)
    if (Option.isNone(found)) return yield* notFound(runId)
    const run = found.value
    if (terminalStatuses.has(run.status)) return { runId, status: run.status, cancelled: false }
    yield* ledger.requestCancel(runId)
    if (run.status !== "running") {
      // Claiming the paused run first means no submitter can resume it while it is being cancelled.
      if (yield* ledger.claim(runId, run.status as PausedStatus, { kind: "cancel" }, Ids.make())) {
        const bus = yield* makeBus({
          runId,
          recorder,
          sinks: yield* makeSinks({}, undefined),
          traceContext: undefined,
          startSequence: run.lastSequenceIndex + 1
        })
        yield* bus.emit({
          _tag: "RunCancelled",
          reason: "cancel_requested",
          iterations: run.iterations,
          usage: run.usage
        }, run.iterations)
        return { runId, status: "cancelled" as const, cancelled: true }
      }
    }
    const fiber = Registry.markCancelled(runId)
    if (fiber !== undefined) {
      yield* Fiber.interrupt(fiber)
      return { runId, status: "cancelled" as const, cancelled: true }
    }
    const now = yield* ledger.get(runId)
    const status = Option.isSome(now) ? now.value.status : run.status
    return { runId, status, cancelled: status === "cancelled" }
  }).pipe(Effect.scoped)

/** Starts a new run from a finished run's input, linked to it by `retryOfRunId`. */
export const retryRun = (agent: AgentDefinition, runId: string, options: RunOptions = {}) =>
  Effect.gen(function*() {
    const ledger = yield* RunLedger
    const found = yield* ledger.get(runId)
    if (Option.isNone(found)) return yield* notFound(runId)
    const run = found.value
    if (!terminalStatuses.has(run.status)) {
      return yield* new RunAlreadyActive({ runId, status: run.status, message: `run ${runId} is still ${run.status}` })
    }
    if (run.agentName !== agent.name) return yield* mismatch(run, agent)
    return yield* startRun(agent, run.input, {
      ...(run.tenantId === undefined ? {} : { tenantId: run.tenantId }),
      ...(run.metadata === undefined ? {} : { metadata: run.metadata }),
      ...(run.parentRunId === undefined ? {} : { parentRunId: run.parentRunId }),
      ...options,
      retryOfRunId: runId
    }, undefined)
  })
