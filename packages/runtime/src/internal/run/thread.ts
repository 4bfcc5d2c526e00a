/**
 * Runs on a thread: the thread's tenant checked before anything is recorded, the start recorded under the
 * record's one-active-run-per-thread rule (a second start is a conflict: `ThreadBusy`, or a wait and a new try
 * under `onBusy: "wait"`), then the initial history read from the record and windowed.
 */
import { Duration, Effect, Option, Schedule } from "effect"
import { type RecorderError, ThreadBusy, ThreadTenantMismatch } from "../../Errors.js"
import type { Message } from "../../HookEvent.js"
import type { RunLedgerService } from "../../RunLedger.js"
import type { HistoryWindow } from "../definition.js"
import { completeCalls, window } from "../history.js"
import type { RunState } from "../runState.js"

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

/**
 * Refuses a thread of another tenant; yields the thread's active run, if any. Read before anything is
 * recorded, so a refused run leaves no trace.
 */
export const checkThread = (
  ledger: RunLedgerService,
  thread: ThreadOptions,
  tenantId: string | undefined
): Effect.Effect<Option.Option<string>, ThreadTenantMismatch | RecorderError> =>
  Effect.flatMap(ledger.threadState(thread.threadId), (state) => {
    if (Option.isNone(state)) return Effect.succeed(Option.none())
    const others = state.value.tenantIds.filter((t) => t !== tenantId)
    if (others.length > 0) {
      const foreign = others[0]
      return Effect.fail(
        new ThreadTenantMismatch({
          threadId: thread.threadId,
          message: `thread ${thread.threadId} belongs to ${tenantName(foreign)}, not to ${
            tenantName(tenantId)
          }: a thread is continued by the tenant that started it`
        })
      )
    }
    return Effect.succeed(Option.fromNullable(state.value.activeRunId))
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

/**
 * The run's initial history: the thread's recorded messages (read once the start is recorded, when no other
 * run of the thread can still add to them), completed and windowed; the `summarize` hook's text replaces a
 * dropped prefix. Yields the history and what the window did.
 */
export const threadHistory = (
  state: RunState,
  ledger: RunLedgerService,
  threadId: string,
  history: HistoryWindow | undefined
): Effect.Effect<
  { readonly messages: Array<Message>; readonly dropped: ReadonlyArray<Message>; readonly summary?: string },
  RecorderError
> =>
  Effect.gen(function*() {
    const all = completeCalls(yield* ledger.threadHistory(threadId))
    if (history === undefined) return { messages: all, dropped: [] }
    const { dropped, kept } = window(all, history)
    if (dropped.length === 0 || history.summarize === undefined) return { messages: [...kept], dropped }
    const summary = yield* Effect.either(
      Effect.suspend(() => history.summarize!(dropped)) as Effect.Effect<string, unknown>
    )
    if (summary._tag === "Left" || typeof summary.right !== "string") {
      yield* Effect.logWarning(`thread ${threadId}: the summarize hook failed; the dropped prefix is left out`)
      return { messages: [...kept], dropped }
    }
    void state
    return { messages: [summaryMessage(summary.right), ...kept], dropped, summary: summary.right }
  })
