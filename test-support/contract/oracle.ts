/**
 * The contract's oracle: what a recorder must hold after a sequence of events and ledger operations, computed
 * with the runtime's own transition table (`Lifecycle.apply`) so the suite never restates the rules. The
 * ledger operations the table does not cover (claim, cancel flag) are modelled here from `RunLedger`'s
 * documented semantics.
 */
import type { StoredRun } from "@sextant/runtime"
import { HookEvent, Lifecycle } from "@sextant/runtime"
import { Either } from "effect"

/** One thing the suite does to a backend: record an event, claim a paused run, or flag it for cancellation. */
export type Step =
  | { readonly _tag: "Record"; readonly event: HookEvent.HookEvent }
  | {
    readonly _tag: "Claim"
    readonly expected: HookEvent.PausedStatus
    readonly submission: HookEvent.Json
    readonly submissionId: string
  }
  | { readonly _tag: "RequestCancel" }

/** What the oracle knows about one run. */
export interface Model {
  readonly runId: string
  /** The run as `Lifecycle.apply` folds it (undefined before `run.started`). */
  readonly run: Lifecycle.RunRecord | undefined
  readonly started: HookEvent.RunStarted | undefined
  /** The events the backend must have accepted, in order. */
  readonly events: ReadonlyArray<HookEvent.HookEvent>
  /** The submission of the winning claim, when there was one. */
  readonly claim: { readonly submission: HookEvent.Json; readonly submissionId: string } | undefined
  readonly cancelRequested: boolean
  /**
   * Whether the run's progress time is the last event's time (false after a claim or a heartbeat, which
   * touch it with the backend's own clock).
   */
  readonly progressFromEvents: boolean
}

/** A run nothing has happened to yet. */
export const empty = (runId: string): Model => ({
  runId,
  run: undefined,
  started: undefined,
  events: [],
  claim: undefined,
  cancelRequested: false,
  progressFromEvents: true
})

/** What a step must do: the model after it, and its outcome (a conflict, or the ledger call's answer). */
export type Outcome =
  | { readonly _tag: "Recorded" }
  | { readonly _tag: "Conflict"; readonly conflict: Lifecycle.Conflict }
  | { readonly _tag: "Answer"; readonly value: boolean }

/** Applies a step to the model. */
export const step = (model: Model, s: Step): { readonly model: Model; readonly outcome: Outcome } => {
  switch (s._tag) {
    case "Record": {
      // An event already recorded (same index, type and time: a write retried after its reply was lost) is
      // accepted and changes nothing; a different event at a recorded index is a conflict.
      const recorded = model.events.find((e) => e.sequenceIndex === s.event.sequenceIndex)
      if (recorded !== undefined && recorded._tag === s.event._tag && recorded.timestamp === s.event.timestamp) {
        return { model, outcome: { _tag: "Recorded" } }
      }
      const applied = Lifecycle.apply(model.run, s.event)
      if (Either.isLeft(applied)) return { model, outcome: { _tag: "Conflict", conflict: applied.left } }
      // The submission that resumed the run is consumed by its next pause or its end, and not kept.
      const consumed = model.claim !== undefined && Lifecycle.stepOf(s.event).pauseState !== undefined
      return {
        model: {
          ...model,
          run: applied.right,
          started: s.event._tag === "RunStarted" ? s.event : model.started,
          events: [...model.events, s.event],
          progressFromEvents: true,
          claim: consumed ? { submission: null, submissionId: model.claim!.submissionId } : model.claim
        },
        outcome: { _tag: "Recorded" }
      }
    }
    case "Claim": {
      const run = model.run
      const answer = (value: boolean, next: Model = model) => ({
        model: next,
        outcome: { _tag: "Answer", value } as const
      })
      if (run === undefined) return answer(false)
      // A claim retried after its reply was lost recognises its own win.
      if (run.status === "running" && model.claim?.submissionId === s.submissionId) return answer(true)
      if (run.status !== s.expected) return answer(false)
      return answer(true, {
        ...model,
        run: { ...run, status: "running" },
        claim: { submission: s.submission, submissionId: s.submissionId },
        progressFromEvents: false
      })
    }
    case "RequestCancel": {
      const run = model.run
      if (run === undefined || Lifecycle.isTerminal(run.status)) {
        return { model, outcome: { _tag: "Answer", value: false } }
      }
      return { model: { ...model, cancelRequested: true }, outcome: { _tag: "Answer", value: true } }
    }
  }
}

/**
 * Folds the events one run emitted through the agent loop. A `run.resumed`, or a `run.cancelled` of a paused
 * run, was preceded by the resumer's (or canceller's) claim, which the event log does not show: it is
 * applied first.
 */
export const foldEmitted = (
  runId: string,
  events: ReadonlyArray<HookEvent.HookEvent>,
  options: { readonly cancelRequested?: boolean } = {}
): Either.Either<Model, { readonly at: HookEvent.HookEvent; readonly conflict: Lifecycle.Conflict }> => {
  let model: Model = { ...empty(runId), cancelRequested: options.cancelRequested === true }
  for (const event of events) {
    const status = model.run?.status
    if ((event._tag === "RunResumed" || event._tag === "RunCancelled") && status !== undefined) {
      if (Lifecycle.isPaused(status)) {
        model = { ...model, run: { ...model.run!, status: "running" }, progressFromEvents: false }
      }
    }
    const next = step(model, { _tag: "Record", event })
    if (next.outcome._tag === "Conflict") return Either.left({ at: event, conflict: next.outcome.conflict })
    model = next.model
  }
  return Either.right(model)
}

/** The part of a stored run the contract pins down, in one comparable shape. */
export interface RunView {
  readonly runId: string
  readonly agentName: string
  readonly input: string
  readonly tenantId: string | undefined
  readonly parentRunId: string | undefined
  readonly metadata: unknown
  readonly delegationLevel: number
  readonly idempotencyKey: string | undefined
  readonly idempotencyFingerprint: string | undefined
  readonly status: HookEvent.RunStatus
  readonly iterations: number
  readonly usage: HookEvent.Usage
  readonly answer: string | undefined
  readonly error: StoredRun["error"]
  readonly lastSequenceIndex: number
  /** Whether the run holds a pause state (its content is the resumer's business). */
  readonly hasPauseState: boolean
  readonly cancelRequested: boolean
  /**
   * Epoch ms of the run's last progress; expected only while it is the last event's time (a claim or a
   * heartbeat stamps it with the backend's clock).
   */
  readonly lastProgressAt?: number
}

/** What `RunLedger.get` returned, as a view. */
export const viewOfStored = (run: StoredRun): RunView => ({
  runId: run.runId,
  agentName: run.agentName,
  input: run.input,
  tenantId: run.tenantId,
  parentRunId: run.parentRunId,
  metadata: run.metadata,
  delegationLevel: run.delegationLevel,
  idempotencyKey: run.idempotencyKey,
  idempotencyFingerprint: run.idempotencyFingerprint,
  status: run.status,
  iterations: run.iterations,
  usage: run.usage,
  answer: run.answer,
  error: run.error,
  lastSequenceIndex: run.lastSequenceIndex,
  hasPauseState: run.pauseState !== undefined,
  cancelRequested: run.cancelRequested,
  lastProgressAt: run.lastProgressAt
})

/** What `RunLedger.get` must return, as a view (undefined: the run must not exist). */
export const viewOfModel = (model: Model): RunView | undefined => {
  const { run, started } = model
  if (run === undefined || started === undefined) return undefined
  return {
    runId: run.runId,
    agentName: started.agentName,
    input: started.input,
    tenantId: started.tenantId,
    parentRunId: started.parentRunId,
    metadata: started.metadata,
    delegationLevel: started.delegationLevel,
    idempotencyKey: started.idempotencyKey,
    idempotencyFingerprint: started.idempotencyFingerprint,
    status: run.status,
    iterations: run.iterations,
    usage: run.totals.usage,
    answer: run.answer,
    error: run.error,
    lastSequenceIndex: run.lastSequenceIndex,
    hasPauseState: run.pauseState !== undefined,
    cancelRequested: model.cancelRequested,
    ...(model.progressFromEvents ? { lastProgressAt: run.lastProgressAt } : {})
  }
}

/** The run's usage totals as the fold computes them. */
export const totalsOf = (model: Model): Lifecycle.Totals => model.run?.totals ?? Lifecycle.emptyTotals

/** The terminal event of a run's log, if it ended. */
export const terminalEvent = (events: ReadonlyArray<HookEvent.HookEvent>): HookEvent.HookEvent | undefined =>
  events.find((e) => Lifecycle.isTerminalEvent(e))

/** The event's `event_type` and index, for messages. */
export const label = (event: HookEvent.HookEvent): string => `${HookEvent.eventType(event)} #${event.sequenceIndex}`
