import { Either } from "effect"
import { RecorderError } from "../Errors.js"
import { eventType, type HookEvent, type RunStatus } from "../HookEvent.js"
import type { StoredRun } from "../RunLedger.js"

type Mutable<A> = { -readonly [K in keyof A]: A[K] } & { submissionId?: string }

/** Runs folded from recorded events, with the same status rules the SQL recorder enforces. */
export class MemoryRuns {
  readonly runs = new Map<string, Mutable<StoredRun>>()
  readonly byKey = new Map<string, string>()

  /** Applies an event; a status compare-and-swap miss or a duplicate run/key is a `conflict`. */
  apply(event: HookEvent): Either.Either<void, RecorderError> {
    const conflict = (message: string) =>
      Either.left(
        new RecorderError({
          operation: "record",
          eventType: eventType(event),
          runId: event.runId,
          sequenceIndex: event.sequenceIndex,
          attempts: 1,
          reason: "conflict",
          message
        })
      )
    if (event._tag === "RunStarted") {
      if (this.runs.has(event.runId)) return conflict(`run ${event.runId} already exists`)
      if (event.idempotencyKey !== undefined && this.byKey.has(event.idempotencyKey)) {
        return conflict(`idempotency key ${event.idempotencyKey} is already used`)
      }
      const run: Mutable<StoredRun> = {
        runId: event.runId,
        agentName: event.agentName,
        status: "running",
        input: event.input,
        delegationLevel: event.delegationLevel,
        iterations: 0,
        usage: { inputTokens: 0, outputTokens: 0 },
        lastSequenceIndex: event.sequenceIndex,
        cancelRequested: false
      }
      if (event.tenantId !== undefined) run.tenantId = event.tenantId
      if (event.parentRunId !== undefined) run.parentRunId = event.parentRunId
      if (event.metadata !== undefined) run.metadata = event.metadata
      if (event.idempotencyKey !== undefined) {
        run.idempotencyKey = event.idempotencyKey
        this.byKey.set(event.idempotencyKey, event.runId)
      }
      if (event.idempotencyFingerprint !== undefined) run.idempotencyFingerprint = event.idempotencyFingerprint
      this.runs.set(event.runId, run)
      return Either.right(undefined)
    }
    const run = this.runs.get(event.runId)
    if (run === undefined) return conflict(`run ${event.runId} does not exist`)
    if (event.sequenceIndex !== run.lastSequenceIndex + 1) {
      return conflict(`sequence index ${event.sequenceIndex} does not follow ${run.lastSequenceIndex}`)
    }
    const from = (allowed: ReadonlyArray<RunStatus>, to: RunStatus) => {
      if (!allowed.includes(run.status)) return conflict(`run ${run.runId} is ${run.status}, not ${allowed.join("/")}`)
      run.status = to
      return Either.right(undefined)
    }
    let outcome: Either.Either<void, RecorderError> = Either.right(undefined)
    switch (event._tag) {
      case "RunResumed":
        outcome = from(["running"], "running")
        break
      case "LlmCallCompleted":
        run.iterations = event.iteration
        break
      case "RunPaused":
        outcome = from(["running"], event.status)
        if (Either.isRight(outcome)) {
          run.iterations = event.iteration
          if (event.state !== undefined) run.pauseState = event.state
        }
        break
      case "RunCompleted":
        outcome = from(["running"], event.status)
        if (Either.isRight(outcome)) {
          run.iterations = event.iterations
          run.usage = event.usage
          if (event.answer !== undefined) run.answer = event.answer
          delete run.pauseState
        }
        break
      case "RunFailed":
        outcome = from(["running"], "error")
        if (Either.isRight(outcome)) {
          run.iterations = event.iterations
          run.usage = event.usage
          run.error = { ...event.error, failureReason: event.failureReason }
          delete run.pauseState
        }
        break
      case "RunCancelled":
        outcome = from(["running"], "cancelled")
        if (Either.isRight(outcome)) {
          run.usage = event.usage
          delete run.pauseState
        }
        break
      case "RunInterrupted":
      case "RunAbandoned":
        outcome = from([event.previousStatus], "error")
        if (Either.isRight(outcome)) {
          run.error = { tag: event._tag, message: event.failureReason, failureReason: event.failureReason }
        }
        break
    }
    if (Either.isRight(outcome)) run.lastSequenceIndex = event.sequenceIndex
    return outcome
  }
}
