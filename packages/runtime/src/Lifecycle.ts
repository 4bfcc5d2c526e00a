/**
 * The run lifecycle, written once: which statuses each hook event may move a run from, the status it moves
 * it to, and what it does to the run's counters, usage totals, answer, error and pause state. Every recorder
 * (memory, SQLite, Postgres, and any future one) applies this table, and the shared conformance suite checks
 * that they agree. Costs are summed as integer nano-dollars so that every backend returns the same total.
 */
import { Either } from "effect"
import type {
  EventType,
  FailureReason,
  HookEvent,
  HookEventTag,
  Json,
  PausedStatus,
  RunAbandoned,
  RunInterrupted,
  RunStatus,
  Usage
} from "./HookEvent.js"
import { eventType } from "./HookEvent.js"

/** Statuses a run never leaves. */
export const terminalStatuses: ReadonlyArray<RunStatus> = ["success", "error", "max_iterations", "cancelled"]

/** Statuses of a paused run (waiting for a client tool result, an approval or human input). */
export const pausedStatuses: ReadonlyArray<PausedStatus> = [
  "waiting_client_tool",
  "waiting_approval",
  "waiting_human_input"
]

/** Statuses of a run that has not ended: running or paused. */
export const activeStatuses: ReadonlyArray<RunStatus> = ["running", ...pausedStatuses]

const terminalSet: ReadonlySet<string> = new Set(terminalStatuses)
const pausedSet: ReadonlySet<string> = new Set(pausedStatuses)

/** Whether a run in this status has ended for good. */
export const isTerminal = (status: RunStatus): boolean => terminalSet.has(status)

/** Whether a run in this status is paused. */
export const isPaused = (status: RunStatus): status is PausedStatus => pausedSet.has(status)

/** Whether a run in this status has not ended (running or paused). */
export const isActive = (status: RunStatus): boolean => !terminalSet.has(status)

/** An error as the run's row keeps it. */
export interface RunErrorInfo {
  readonly tag: string
  readonly message: string
  readonly failureReason: FailureReason
}

/**
 * What one event does to its run. `from` is the compare-and-swap guard: the statuses the run must be in
 * for the event to be recorded (`"new"`: the event creates the run). Fields left undefined are unchanged.
 */
export interface Step {
  readonly from: "new" | ReadonlyArray<RunStatus>
  /** The status after the event, when it changes. */
  readonly to?: RunStatus
  /** The run's iteration count after the event. */
  readonly iterations?: number
  /** A model call's usage, added to the run's totals (tokens, cost, model call count, unpriced call count). */
  readonly addUsage?: Usage
  /** `store`: keep the event's execution state with the run; `clear`: drop the stored one. */
  readonly pauseState?: "store" | "clear"
  /** Set on the events that end a run: its finish time is the event's time. */
  readonly finishes?: true
  readonly answer?: string
  /** Set on the events that end a run in `error`. */
  readonly error?: RunErrorInfo
  /** Why a run was cancelled (`cancel_requested`, `interrupted`). */
  readonly cancelReason?: string
}

type EventOf<T extends HookEventTag> = Extract<HookEvent, { readonly _tag: T }>

const RUNNING: ReadonlyArray<RunStatus> = ["running"]
const inSegment: Step = { from: RUNNING }

/** Why the sweep ended a run, as the run's error says it (so a later write conflict can name the sweep). */
export const sweptMessage = (event: RunInterrupted | RunAbandoned): string =>
  event._tag === "RunInterrupted"
    ? `swept by the stale-run sweep (${event.failureReason}): no progress was recorded for too long while running`
    : `swept by the stale-run sweep (${event.failureReason}): waited too long in ${event.previousStatus}`

/**
 * The transition table: one entry per event tag (a new tag fails to compile until it is added here).
 * Events inside a segment require the run to be `running`; a pause moves it to a waiting status; a resume
 * is recorded after the resumer claimed the run (waiting → running); cancelling a paused run claims it
 * first, so `run.cancelled` always moves from `running`; the sweep's events move from the status it saw.
 */
export const transitions: { readonly [T in HookEventTag]: (event: EventOf<T>) => Step } = {
  RunStarted: () => ({ from: "new", to: "running" }),
  RunResumed: () => inSegment,
  MessageAppended: () => inSegment,
  LlmCallStarted: (e) => ({ from: RUNNING, iterations: e.iteration }),
  LlmCallCompleted: (e) => ({ from: RUNNING, addUsage: e.usage ?? unreportedUsage }),
  LlmCallFailed: () => inSegment,
  ToolCallStarted: () => inSegment,
  ToolCallCompleted: () => inSegment,
  PolicyDenied: () => inSegment,
  ApprovalRequested: () => inSegment,
  ApprovalDecided: () => inSegment,
  BudgetThreshold: () => inSegment,
  BudgetExceeded: () => inSegment,
  GuardrailDetected: () => inSegment,
  GuardrailRedacted: () => inSegment,
  GuardrailBlocked: () => inSegment,
  ProviderRetry: () => inSegment,
  OutputInvalid: () => inSegment,
  HistorySummarized: () => inSegment,
  MemoryAccessed: () => inSegment,
  CustomEvent: () => inSegment,
  RunPaused: (e) => ({ from: RUNNING, to: e.status, iterations: e.iteration, pauseState: "store" }),
  RunCompleted: (e) => ({
    from: RUNNING,
    to: e.status,
    iterations: e.iterations,
    pauseState: "clear",
    finishes: true,
    ...(e.answer === undefined ? {} : { answer: e.answer })
  }),
  RunFailed: (e) => ({
    from: RUNNING,
    to: "error",
    iterations: e.iterations,
    pauseState: "clear",
    finishes: true,
    error: { ...e.error, failureReason: e.failureReason }
  }),
  RunCancelled: (e) => ({
    from: RUNNING,
    to: "cancelled",
    iterations: e.iterations,
    pauseState: "clear",
    finishes: true,
    cancelReason: e.reason
  }),
  RunInterrupted: (e) => ({
    from: [e.previousStatus],
    to: "error",
    pauseState: "clear",
    finishes: true,
    error: { tag: "RunInterrupted", message: sweptMessage(e), failureReason: e.failureReason }
  }),
  RunAbandoned: (e) => ({
    from: [e.previousStatus],
    to: "error",
    pauseState: "clear",
    finishes: true,
    error: { tag: "RunAbandoned", message: sweptMessage(e), failureReason: e.failureReason }
  })
}

/** What an event does to its run, from the transition table. */
export const stepOf = (event: HookEvent): Step => (transitions[event._tag] as (e: HookEvent) => Step)(event)

/** Tags of the events that end a run for good. */
export const terminalEventTags: ReadonlySet<HookEventTag> = new Set([
  "RunCompleted",
  "RunFailed",
  "RunCancelled",
  "RunInterrupted",
  "RunAbandoned"
])

/** Whether an event (or stream event) ends its run for good; a pause does not. */
export const isTerminalEvent = (event: { readonly _tag: string }): boolean =>
  terminalEventTags.has(event._tag as HookEventTag)

/** Whether an event (or stream event) ends a run segment: a terminal event or a pause. */
export const isSegmentEnd = (event: { readonly _tag: string }): boolean =>
  event._tag === "RunPaused" || isTerminalEvent(event)

// ---------------------------------------------------------------------------------------------------------
// Usage totals
// ---------------------------------------------------------------------------------------------------------

/** Nano-dollars per US dollar: costs are stored and summed as integers of 1e-9 USD. */
export const NANOS_PER_USD = 1_000_000_000

/** A cost in USD as integer nano-dollars (the unit every recorder stores and sums). */
export const toNanos = (costUsd: number): number => Math.round(costUsd * NANOS_PER_USD)

/** Integer nano-dollars as USD. */
export const fromNanos = (nanos: number): number => nanos / NANOS_PER_USD

/** A cost rounded to what a recorder stores (a whole number of nano-dollars). */
export const roundCost = (costUsd: number): number => fromNanos(toNanos(costUsd))

/** A run's usage before its first model call. */
export const emptyUsage: Usage = { inputTokens: 0, outputTokens: 0 }

/**
 * What a model call that reported no usage adds to its run: no tokens and no cost. It still counts as a model
 * call without a cost, so the run's cost becomes unknown (absent) rather than a sum that leaves it out.
 */
export const unreportedUsage: Usage = { inputTokens: 0, outputTokens: 0 }

/** A run's usage totals with the counters needed to know whether its cost is complete. */
export interface Totals {
  readonly usage: Usage
  /** Model calls whose usage was added. */
  readonly modelCalls: number
  /** Of those, calls that had no cost: while any has none, the run's cost is unknown (absent). */
  readonly unpricedCalls: number
  /** The sum of the priced calls' costs, in nano-dollars. */
  readonly costNanos: number
}

/** Totals before the first model call. */
export const emptyTotals: Totals = { usage: emptyUsage, modelCalls: 0, unpricedCalls: 0, costNanos: 0 }

const addOptional = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0)

/**
 * Adds a model call's usage to a run's totals. Optional token counts stay absent until some call reports
 * them; the cost is known only while every call had one (a partial sum would under-bill).
 */
export const addUsage = (totals: Totals, call: Usage): Totals => {
  const unpricedCalls = totals.unpricedCalls + (call.costUsd === undefined ? 1 : 0)
  const costNanos = totals.costNanos + (call.costUsd === undefined ? 0 : toNanos(call.costUsd))
  const out: { -readonly [K in keyof Usage]: Usage[K] } = {
    inputTokens: totals.usage.inputTokens + call.inputTokens,
    outputTokens: totals.usage.outputTokens + call.outputTokens
  }
  const cacheRead = addOptional(totals.usage.cacheReadTokens, call.cacheReadTokens)
  const cacheWrite = addOptional(totals.usage.cacheWriteTokens, call.cacheWriteTokens)
  const reasoning = addOptional(totals.usage.reasoningTokens, call.reasoningTokens)
  if (cacheRead !== undefined) out.cacheReadTokens = cacheRead
  if (cacheWrite !== undefined) out.cacheWriteTokens = cacheWrite
  if (reasoning !== undefined) out.reasoningTokens = reasoning
  if (unpricedCalls === 0) out.costUsd = fromNanos(costNanos)
  return { usage: out, modelCalls: totals.modelCalls + 1, unpricedCalls, costNanos }
}

// ---------------------------------------------------------------------------------------------------------
// The fold: a run as every recorder keeps it
// ---------------------------------------------------------------------------------------------------------

/** A run's lifecycle state as the record keeps it (what `apply` folds events into). */
export interface RunRecord {
  readonly runId: string
  readonly status: RunStatus
  readonly iterations: number
  readonly totals: Totals
  /** The highest recorded sequence index. */
  readonly lastSequenceIndex: number
  readonly answer?: string
  readonly error?: RunErrorInfo
  readonly cancelReason?: string
  readonly pauseState?: Json
  /** Epoch ms of the terminal event. */
  readonly finishedAt?: number
  /** Epoch ms of the last recorded event (the sweep's notion of progress). */
  readonly lastProgressAt: number
}

/** An event the lifecycle refuses: the run is missing, exists already, is out of sequence or in the wrong status. */
export interface Conflict {
  readonly _tag: "Conflict"
  readonly eventType: EventType
  readonly reason: "exists" | "missing" | "sequence" | "status"
  readonly message: string
}

const conflict = (event: HookEvent, reason: Conflict["reason"], message: string): Either.Either<never, Conflict> =>
  Either.left({ _tag: "Conflict", eventType: eventType(event), reason, message })

/** Describes why an event found its run in a status it may not move from (naming the sweep when it swept it). */
export const statusConflictMessage = (
  event: HookEvent,
  status: RunStatus,
  expected: ReadonlyArray<RunStatus>,
  error?: { readonly tag?: string | null; readonly message?: string | null }
): string => {
  const what = `${eventType(event)} #${event.sequenceIndex} of run ${event.runId}`
  const swept = error?.tag === "RunInterrupted" || error?.tag === "RunAbandoned"
  return swept
    ? `${what}: the run was ended by the sweep (${error?.message ?? error?.tag}); it is '${status}'`
    : `${what}: the run is '${status}', expected ${expected.map((s) => `'${s}'`).join(" or ")}`
}

/**
 * Applies one event to its run (undefined before `run.started`): the same rules every recorder enforces —
 * a new run only from `run.started` at index 0, gapless sequence indexes, the table's status guard, then its
 * effects. (Recording an event that is already recorded — same run, index, type and time: a write retried
 * after its reply was lost — is the recorder's concern: it succeeds without writing again.)
 */
export const apply = (run: RunRecord | undefined, event: HookEvent): Either.Either<RunRecord, Conflict> => {
  const step = stepOf(event)
  if (step.from === "new") {
    if (run !== undefined) return conflict(event, "exists", `run ${event.runId} already exists`)
    if (event.sequenceIndex !== 0) {
      return conflict(
        event,
        "sequence",
        `run.started of run ${event.runId} must be event #0, got #${event.sequenceIndex}`
      )
    }
    return Either.right({
      runId: event.runId,
      status: step.to ?? "running",
      iterations: 0,
      totals: emptyTotals,
      lastSequenceIndex: event.sequenceIndex,
      lastProgressAt: event.timestamp
    })
  }
  if (run === undefined) return conflict(event, "missing", `run ${event.runId} does not exist`)
  if (event.sequenceIndex !== run.lastSequenceIndex + 1) {
    return conflict(
      event,
      "sequence",
      `${eventType(event)} #${event.sequenceIndex} of run ${event.runId}: the run's last recorded event is ` +
        `#${run.lastSequenceIndex}, expected #${event.sequenceIndex - 1}`
    )
  }
  if (!step.from.includes(run.status)) {
    return conflict(event, "status", statusConflictMessage(event, run.status, step.from, run.error))
  }
  const next: { -readonly [K in keyof RunRecord]: RunRecord[K] } = {
    ...run,
    lastSequenceIndex: event.sequenceIndex,
    lastProgressAt: event.timestamp
  }
  if (step.to !== undefined) next.status = step.to
  if (step.iterations !== undefined) next.iterations = step.iterations
  if (step.addUsage !== undefined) next.totals = addUsage(run.totals, step.addUsage)
  if (step.pauseState === "store" && event._tag === "RunPaused" && event.state !== undefined) {
    next.pauseState = event.state
  }
  if (step.pauseState === "clear") delete next.pauseState
  if (step.finishes === true) next.finishedAt = event.timestamp
  if (step.answer !== undefined) next.answer = step.answer
  if (step.error !== undefined) next.error = step.error
  if (step.cancelReason !== undefined) next.cancelReason = step.cancelReason
  return Either.right(next)
}
