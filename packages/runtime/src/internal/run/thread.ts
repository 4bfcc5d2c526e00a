/**
 * Runs on a thread: the thread's tenant checked before anything is recorded, the start recorded under the
 * record's one-active-run-per-thread rule (a second start is a conflict: `ThreadBusy`, or a wait and a new try
 * under `onBusy: "wait"`), then the initial history read from the record and windowed.
 */
import { Duration, Effect, Exit, Option, Schedule } from "effect"
import { type RecorderError, ThreadBusy, ThreadTenantMismatch } from "../../Errors.js"
import type { Message } from "../../HookEvent.js"
import type { RunLedgerService, ThreadRun } from "../../RunLedger.js"
import type { HistoryWindow } from "../definition.js"
import { completeCounted, countedHistory, window } from "../history.js"
import type { RunState } from "../runState.js"
import { scanValue } from "../sanitize.js"

/** A run's thread options, as validated. */
export interface ThreadOptions {
  readonly threadId: string
  readonly onBusy: "wait" | "reject"
}

const tenantName = (tenantId: string | undefined) => (tenantId === undefined ? "no tenant" : `tenant '${tenantId}'`)

const busy = (threadId: string, activeRunId: string) =>
  new ThreadBusy({
    threadId,
    activeRunId,
    message: `thread ${threadId} has a run under way (${activeRunId}, running or paused): wait for it to end, ` +
      `or pass onBusy: "wait"`
  })

const mismatch = (threadId: string, owner: string | undefined, tenantId: string | undefined) =>
  new ThreadTenantMismatch({
    threadId,
    message: `thread ${threadId} belongs to ${tenantName(owner)}, not to ${
      tenantName(tenantId)
    }: a thread is continued by the tenant that started it`
  })

/**
 * Refuses a thread of another tenant (its owner is the tenant of its first run); yields the thread's active
 * run, if any, and whether the thread is new. Read before anything is recorded, so a refused run leaves no trace.
 */
export const checkThread = (
  ledger: RunLedgerService,
  thread: ThreadOptions,
  tenantId: string | undefined
): Effect.Effect<
  { readonly active: Option.Option<string>; readonly fresh: boolean },
  ThreadTenantMismatch | RecorderError
> =>
  Effect.flatMap(ledger.threadState(thread.threadId), (state): Effect.Effect<
    { readonly active: Option.Option<string>; readonly fresh: boolean },
    ThreadTenantMismatch
  > => {
    if (Option.isNone(state)) return Effect.succeed({ active: Option.none(), fresh: true })
    if (state.value.tenantId !== tenantId) {
      return Effect.fail(mismatch(thread.threadId, state.value.tenantId, tenantId))
    }
    return Effect.succeed({ active: Option.fromNullable(state.value.activeRunId), fresh: false })
  })

/**
 * After the first start of a new thread is recorded: whether another tenant's run became the thread's first in
 * the meantime (two tenants starting one new thread id, one after the other). Such a run is not the owner's, so
 * it never changes whom the thread belongs to; it is ended `error` and the caller gets `ThreadTenantMismatch`.
 */
export const confirmOwner = (
  state: RunState,
  ledger: RunLedgerService,
  thread: ThreadOptions
): Effect.Effect<void, ThreadTenantMismatch | RecorderError> =>
  Effect.flatMap(ledger.threadState(thread.threadId), (found) => {
    const owner = Option.getOrUndefined(found)?.tenantId
    if (owner === state.tenantId) return Effect.void
    const error = mismatch(thread.threadId, owner, state.tenantId)
    return Effect.zipRight(
      state.bus.emit({
        _tag: "RunFailed",
        error: { tag: error._tag, message: error.message },
        failureReason: "internal",
        iterations: 0,
        usage: state.totals.usage
      }, 0),
      Effect.fail(error)
    )
  })

/** How often a waiting start looks again: from 25 ms, doubling, at most every second. */
const waitSchedule = Schedule.exponential(Duration.millis(25)).pipe(
  Schedule.union(Schedule.spaced(Duration.seconds(1)))
)

/**
 * Records the start (`record`) on the thread. A start the record refuses as a conflict while another run of
 * the thread is active is `ThreadBusy`, or, under `wait`, is tried again until that run has ended.
 */
export const startOnThread = <A, E extends { readonly _tag: string }>(
  ledger: RunLedgerService,
  thread: ThreadOptions,
  runId: string,
  record: Effect.Effect<A, E>
): Effect.Effect<A, E | ThreadBusy | RecorderError> => {
  /** The other run that holds the thread, when a start failed. */
  const holder = (error: E) =>
    error._tag !== "RecorderError" || (error as unknown as RecorderError).reason !== "conflict"
      ? Effect.succeed(Option.none<string>())
      : Effect.map(
        ledger.threadState(thread.threadId),
        (s) => Option.filter(Option.flatMapNullable(s, (st) => st.activeRunId), (id) => id !== runId)
      )
  const attempt: Effect.Effect<A, E | ThreadBusy | RecorderError> = Effect.catchAll(
    record,
    (error: E): Effect.Effect<never, E | ThreadBusy | RecorderError> =>
      Effect.flatMap(
        holder(error),
        (other): Effect.Effect<never, E | ThreadBusy> =>
          Option.isNone(other) ? Effect.fail(error) : Effect.fail(busy(thread.threadId, other.value))
      )
  )
  if (thread.onBusy === "reject") return attempt
  return Effect.retry(attempt, {
    schedule: waitSchedule,
    while: (e) => (e as { readonly _tag: string })._tag === "ThreadBusy"
  })
}

/** Fails `ThreadBusy` when the thread's active run is another one (the fast path of `reject`). */
export const rejectIfBusy = (thread: ThreadOptions, active: Option.Option<string>): Effect.Effect<void, ThreadBusy> =>
  Option.isSome(active) && thread.onBusy === "reject" ? Effect.fail(busy(thread.threadId, active.value)) : Effect.void

/** The summary that stands for the dropped prefix of a thread's history. */
export const summaryMessage = (summary: string): Message => ({
  _tag: "user",
  content: `Summary of the earlier conversation:\n${summary}`
})

/** A run continued from its record (`Agent.recover`): its id, and the summary its first segment recorded. */
export interface RecoveredThread {
  readonly runId: string
  readonly summary: string | undefined
}

/**
 * The thread's runs as they were when `runId` started: the runs before it, and it without messages (its own
 * messages are in its record; a run of the thread started after it cannot exist while it is active).
 */
const asAtStart = (runs: ReadonlyArray<ThreadRun>, runId: string): ReadonlyArray<ThreadRun> => {
  const at = runs.findIndex((r) => r.runId === runId)
  const before = at < 0 ? runs : runs.slice(0, at)
  const self = at < 0 ? undefined : runs[at]!
  return self === undefined ? before : [...before, { ...self, messages: [], calls: [] }]
}

/**
 * The run's initial history: the thread's recorded messages (read once the start is recorded, when no other
 * run of the thread can still add to them), completed and windowed. The `summarize` hook's text (scanned by
 * the guardrails) replaces a dropped prefix and is recorded as `history.summarized`; a hook that fails or
 * dies leaves the prefix out (logged), since a summary is a convenience the conversation can go on without.
 */
export const threadHistory = (
  state: RunState,
  ledger: RunLedgerService,
  threadId: string,
  history: HistoryWindow | undefined,
  recovered?: RecoveredThread | undefined
): Effect.Effect<Array<Message>, RecorderError> =>
  Effect.gen(function*() {
    const runs = yield* ledger.threadHistory(threadId)
    const counted = completeCounted(countedHistory(recovered === undefined ? runs : asAtStart(runs, recovered.runId)))
    const all = counted.map((c) => c.message)
    if (history === undefined) return all
    const { dropped, kept } = window(all, history, counted.map((c) => c.tokens))
    if (dropped.length === 0 || history.summarize === undefined) return [...kept]
    // A recovered run's summary was made and recorded by its first segment: the same text, no second call.
    if (recovered?.summary !== undefined) return [summaryMessage(recovered.summary), ...kept]
    const summarize = history.summarize
    const exit = yield* Effect.exit(Effect.suspend(() => summarize(dropped)) as Effect.Effect<unknown, unknown>)
    if (Exit.isFailure(exit) || typeof exit.value !== "string") {
      yield* Effect.logWarning(
        `thread ${threadId}: the summarize hook ${
          Exit.isFailure(exit) ? "failed" : "did not yield a string"
        }; the ${dropped.length} dropped messages are left out without a summary`
      )
      return [...kept]
    }
    const summary = scanValue(state, exit.value).value
    yield* state.bus.emit({
      _tag: "HistorySummarized",
      threadId,
      droppedMessages: dropped.length,
      keptMessages: kept.length,
      summary
    }, 0)
    return [summaryMessage(summary), ...kept]
  })
