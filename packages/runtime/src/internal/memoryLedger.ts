import { Either } from "effect"
import { RecorderError } from "../Errors.js"
import { eventType, type HookEvent, type Json, type Message, type PausedStatus, type RunStarted } from "../HookEvent.js"
import * as Lifecycle from "../Lifecycle.js"
import type { CallTokens, StoredRun, ThreadRun, ThreadState } from "../RunLedger.js"

/** One run as the memory recorder keeps it: the lifecycle record, its start fields and the ledger's flags. */
interface Entry {
  record: Lifecycle.RunRecord
  readonly start: RunStarted
  cancelRequested: boolean
  /** The run's messages, in order (what a run continuing its thread starts from). */
  readonly messages: Array<Message>
  /** The recorded usage of the run's completed model calls, in order (what a thread's token budget counts). */
  readonly calls: Array<CallTokens>
  submissionId?: string
  submission?: Json
}

const conflict = (event: HookEvent, message: string) =>
  new RecorderError({
    operation: "record",
    eventType: eventType(event),
    runId: event.runId,
    sequenceIndex: event.sequenceIndex,
    attempts: 1,
    reason: "conflict",
    message
  })

const toStored = ({ cancelRequested, record, start }: Entry): StoredRun => ({
  runId: record.runId,
  agentName: start.agentName,
  status: record.status,
  input: start.input,
  delegationLevel: start.delegationLevel,
  iterations: record.iterations,
  usage: record.totals.usage,
  lastSequenceIndex: record.lastSequenceIndex,
  lastProgressAt: record.lastProgressAt,
  cancelRequested,
  ...(start.tenantId === undefined ? {} : { tenantId: start.tenantId }),
  ...(start.threadId === undefined ? {} : { threadId: start.threadId }),
  ...(start.parentRunId === undefined ? {} : { parentRunId: start.parentRunId }),
  ...(start.metadata === undefined ? {} : { metadata: start.metadata }),
  ...(start.idempotencyKey === undefined ? {} : { idempotencyKey: start.idempotencyKey }),
  ...(start.idempotencyFingerprint === undefined ? {} : { idempotencyFingerprint: start.idempotencyFingerprint }),
  ...(record.answer === undefined ? {} : { answer: record.answer }),
  ...(record.error === undefined ? {} : { error: record.error }),
  ...(record.pauseState === undefined ? {} : { pauseState: record.pauseState })
})

/** The call an event records a row of (`tool_calls` / `llm_interactions` in a SQL recorder), if any. */
const callOf = (event: HookEvent): { readonly kind: "tool call" | "model call"; readonly id: string } | undefined => {
  switch (event._tag) {
    case "ToolCallStarted":
    case "ToolCallCompleted":
      return { kind: "tool call", id: event.correlationId }
    case "LlmCallStarted":
    case "LlmCallCompleted":
    case "LlmCallFailed":
      return { kind: "model call", id: event.correlationId }
    default:
      return undefined
  }
}

/**
 * Runs folded from recorded events by `Lifecycle.apply` (the same table every recorder applies), plus what
 * the ledger adds: the unique idempotency key, call ids unique across runs, the claim of a paused run and the
 * cancel flag.
 */
export class MemoryRuns {
  private readonly entries = new Map<string, Entry>()
  private readonly byKey = new Map<string, string>()
  /** The runs of each thread, in start order. */
  private readonly byThread = new Map<string, Array<Entry>>()
  /** The run that recorded each tool or model call id (`kind:id`). */
  private readonly callRuns = { "tool call": new Map<string, string>(), "model call": new Map<string, string>() }

  /**
   * Applies an event; whatever the lifecycle refuses, a second run with a used key and a call id another run
   * recorded (the SQL recorder's rows are keyed by it) are a `conflict`.
   */
  apply(event: HookEvent): Either.Either<void, RecorderError> {
    const entry = this.entries.get(event.runId)
    const next = Lifecycle.apply(entry?.record, event)
    if (Either.isLeft(next)) return Either.left(conflict(event, next.left.message))
    const call = callOf(event)
    if (call !== undefined) {
      // One map per kind, keyed by the id: no key string built per event.
      const owners = this.callRuns[call.kind]
      const owner = owners.get(call.id)
      if (owner !== undefined && owner !== event.runId) {
        return Either.left(
          conflict(
            event,
            `${call.kind} id ${call.id} is already recorded by another run (call ids are unique across runs)`
          )
        )
      }
      if (owner === undefined) owners.set(call.id, event.runId)
    }
    if (entry !== undefined) {
      entry.record = next.right
      if (event._tag === "MessageAppended") entry.messages.push(event.message)
      if (event._tag === "LlmCallCompleted" && event.usage !== undefined) {
        entry.calls.push({ inputTokens: event.usage.inputTokens, outputTokens: event.usage.outputTokens })
      }
      // The submission that resumed the run is consumed by its next pause or its end, and not kept.
      if (Lifecycle.stepOf(event).pauseState !== undefined) delete entry.submission
      return Either.right(undefined)
    }
    // Only `run.started` creates a run (the lifecycle refused anything else above).
    const start = event as RunStarted
    if (start.threadId !== undefined) {
      // One active run per thread (the SQL recorder's partial unique index on agent_runs.thread_id).
      const active = this.threadState(start.threadId)?.activeRunId
      if (active !== undefined) {
        return Either.left(conflict(event, `thread ${start.threadId} already has an active run (${active})`))
      }
    }
    if (start.idempotencyKey !== undefined) {
      if (this.byKey.has(start.idempotencyKey)) {
        return Either.left(conflict(event, `idempotency key ${start.idempotencyKey} is already used`))
      }
      this.byKey.set(start.idempotencyKey, event.runId)
    }
    const created: Entry = { record: next.right, start, cancelRequested: false, messages: [], calls: [] }
    this.entries.set(event.runId, created)
    if (start.threadId !== undefined) {
      const runs = this.byThread.get(start.threadId)
      if (runs === undefined) this.byThread.set(start.threadId, [created])
      else runs.push(created)
    }
    return Either.right(undefined)
  }

  /** The run, if it exists. */
  get(runId: string): StoredRun | undefined {
    const entry = this.entries.get(runId)
    return entry === undefined ? undefined : toStored(entry)
  }

  /** The run started with this idempotency key, if any. */
  findByIdempotencyKey(key: string): StoredRun | undefined {
    const runId = this.byKey.get(key)
    return runId === undefined ? undefined : this.get(runId)
  }

  /**
   * Compare-and-swap of a paused run to `running`, touching its progress time (a run paused for long is not
   * stale once claimed); a retried claim of the same submission wins again.
   */
  claim(runId: string, expected: PausedStatus, submission: Json, submissionId: string, now: number): boolean {
    const entry = this.entries.get(runId)
    if (entry === undefined) return false
    if (entry.record.status === "running" && entry.submissionId === submissionId) return true
    if (entry.record.status !== expected) return false
    entry.record = { ...entry.record, status: "running", lastProgressAt: now }
    entry.submissionId = submissionId
    entry.submission = submission
    return true
  }

  /** Refreshes a running run's progress time (the sweep's notion of progress). */
  heartbeat(runId: string, now: number): void {
    const entry = this.entries.get(runId)
    if (entry !== undefined && entry.record.status === "running") {
      entry.record = { ...entry.record, lastProgressAt: now }
    }
  }

  /** Flags a run that has not ended; false when it has (or does not exist). */
  requestCancel(runId: string): boolean {
    const entry = this.entries.get(runId)
    if (entry === undefined || Lifecycle.isTerminal(entry.record.status)) return false
    entry.cancelRequested = true
    return true
  }

  /** The thread's tenants and its active run, if any run recorded the thread id. */
  threadState(threadId: string): ThreadState | undefined {
    const runs = this.threadRuns(threadId)
    if (runs.length === 0) return undefined
    const active = runs.find((e) => !Lifecycle.isTerminal(e.record.status))
    return {
      ...(runs[0]!.start.tenantId === undefined ? {} : { tenantId: runs[0]!.start.tenantId }),
      runCount: runs.length,
      ...(active === undefined ? {} : { activeRunId: active.record.runId })
    }
  }

  /** The thread's runs in start order, with their messages and their calls' usage. */
  threadHistory(threadId: string): ReadonlyArray<ThreadRun> {
    return this.threadRuns(threadId).map((e) => ({
      runId: e.record.runId,
      ...(e.start.retryOfRunId === undefined ? {} : { retryOfRunId: e.start.retryOfRunId }),
      messages: [...e.messages],
      calls: [...e.calls]
    }))
  }

  private threadRuns(threadId: string): ReadonlyArray<Entry> {
    return this.byThread.get(threadId) ?? []
  }

  /** Whether the run is flagged for cancellation. */
  isCancelRequested(runId: string): boolean {
    return this.entries.get(runId)?.cancelRequested === true
  }
}
