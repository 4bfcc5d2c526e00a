/**
 * The run ledger port: what the kernel reads back from the record to resume, cancel, retry and
 * de-duplicate runs, and the compare-and-swap claim that makes exactly one submitter continue a paused
 * run. The SQL recorder implements it over `agent_runs`; `Recorder.memory` implements it in memory.
 */
import { Context, type Effect, type Option } from "effect"
import type { RecorderError } from "./Errors.js"
import type { FailureReason, Json, Message, PausedStatus, RunStatus, Usage } from "./HookEvent.js"

/** A run as the record holds it. */
export interface StoredRun {
  readonly runId: string
  readonly agentName: string
  readonly status: RunStatus
  readonly input: string
  readonly tenantId?: string
  readonly threadId?: string
  readonly parentRunId?: string
  readonly metadata?: { readonly [key: string]: Json }
  readonly delegationLevel: number
  readonly idempotencyKey?: string
  readonly idempotencyFingerprint?: string
  readonly answer?: string
  readonly iterations: number
  readonly usage: Usage
  readonly error?: { readonly tag: string; readonly message: string; readonly failureReason: FailureReason }
  /** The execution state stored by the last `run.paused` (never exposed by the read side). */
  readonly pauseState?: Json
  /** The highest recorded sequence index (-1 before the first event). */
  readonly lastSequenceIndex: number
  /**
   * Epoch ms of the run's last progress: its last recorded event, or a later claim or heartbeat (the sweep's
   * notion of progress).
   */
  readonly lastProgressAt: number
  readonly cancelRequested: boolean
}

/** Who a thread belongs to and whether one of its runs is still under way. */
export interface ThreadState {
  /** The tenant of the thread's first run (the thread's owner; absent: no tenant). */
  readonly tenantId?: string | undefined
  /** How many runs the thread has. */
  readonly runCount: number
  /** A run of the thread that is running or paused, if any (at most one: the record's unique index). */
  readonly activeRunId?: string | undefined
}

/** What the kernel needs from the record beyond writing events. */
export interface RunLedgerService {
  /** The run, if it exists. */
  readonly get: (runId: string) => Effect.Effect<Option.Option<StoredRun>, RecorderError>
  /** The run started with this idempotency key, if any. */
  readonly findByIdempotencyKey: (key: string) => Effect.Effect<Option.Option<StoredRun>, RecorderError>
  /**
   * Compare-and-swap: if the run is in `expected`, store `submission` and its `submissionId` with it and set
   * it `running` (touching its progress time). True for exactly one of any number of concurrent claimers.
   * Idempotent per submission: a claim retried after its reply was lost finds the run `running` with its own
   * `submissionId` and answers true again, so the only submitter is never told it lost.
   */
  readonly claim: (
    runId: string,
    expected: PausedStatus,
    submission: Json,
    submissionId: string
  ) => Effect.Effect<boolean, RecorderError>
  /**
   * Refreshes a `running` run's progress time while a model or tool call is in flight, so the sweep of stale
   * runs never ends a run that is still working. Does nothing to a run that is not `running`.
   */
  readonly heartbeat: (runId: string) => Effect.Effect<void, RecorderError>
  /** Flags a run that has not ended for cancellation; false when it had already ended (or does not exist). */
  readonly requestCancel: (runId: string) => Effect.Effect<boolean, RecorderError>
  /** Whether the run is flagged for cancellation (read before each model and tool step). */
  readonly isCancelRequested: (runId: string) => Effect.Effect<boolean, RecorderError>
  /** The thread's tenants and active run; none when no run has recorded this thread id. */
  readonly threadState: (threadId: string) => Effect.Effect<Option.Option<ThreadState>, RecorderError>
  /**
   * The thread's runs in start order, each with its user, assistant and tool messages (by order index) and the
   * recorded usage of its completed model calls: the initial history of a run continuing the thread, and what
   * a token budget counts it with.
   */
  readonly threadHistory: (threadId: string) => Effect.Effect<ReadonlyArray<ThreadRun>, RecorderError>
}

/** The recorded usage of one completed model call. */
export interface CallTokens {
  readonly inputTokens: number
  readonly outputTokens: number
}

/** One run of a thread as its history reads it. */
export interface ThreadRun {
  readonly runId: string
  /** The run this one retried (`agent.retry`): the retry stands in for it in the conversation. */
  readonly retryOfRunId?: string | undefined
  /** The run's messages, in order. */
  readonly messages: ReadonlyArray<Message>
  /** The run's completed model calls in order, with recorded usage (calls without usage are left out). */
  readonly calls: ReadonlyArray<CallTokens>
}

/** The run ledger port. */
export class RunLedger extends Context.Tag("@sextant/runtime/RunLedger")<RunLedger, RunLedgerService>() {}
