/**
 * Tagged errors a caller can match on with `Effect.catchTag`.
 */
import { Schema } from "effect"

/** What a `RecorderError` was doing: writing an event, or one of the run ledger's operations. */
export const RecorderOperation = Schema.Literal(
  "record",
  "ledger.get",
  "ledger.findByIdempotencyKey",
  "ledger.claim",
  "ledger.requestCancel",
  "ledger.isCancelRequested",
  "ledger.heartbeat",
  "ledger.threadState",
  "ledger.threadHistory"
)
/** What a `RecorderError` was doing. */
export type RecorderOperation = typeof RecorderOperation.Type

/**
 * The record could not be written or read (after its retries); the run stopped at that point, exactly as
 * for a failed write. `operation` says what failed; `eventType` and `sequenceIndex` name the event when it
 * was a write (`operation: "record"`).
 */
export class RecorderError extends Schema.TaggedError<RecorderError>()("RecorderError", {
  operation: RecorderOperation,
  eventType: Schema.optional(Schema.String),
  runId: Schema.String,
  sequenceIndex: Schema.optional(Schema.Number),
  attempts: Schema.Number,
  reason: Schema.Literal("transient", "permanent", "serialization", "conflict"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** A model call failed: bad request, authentication, exhausted retries, malformed response, exhausted script. */
export class ModelError extends Schema.TaggedError<ModelError>()("ModelError", {
  provider: Schema.String,
  reason: Schema.Literal("request", "response", "auth", "rate_limit", "server", "transport", "malformed", "exhausted"),
  message: Schema.String,
  statusCode: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {}

/** An agent or tool definition is invalid; `field` names what is wrong. */
export class AgentConfigError extends Schema.TaggedError<AgentConfigError>()("AgentConfigError", {
  field: Schema.String,
  message: Schema.String
}) {}

/**
 * A delegated call (`Agent.asTool`) would start the child agent deeper than its `maxDelegationDepth`. It is
 * the failed tool result the parent's model sees (the parent run goes on), never a failure of the run.
 */
export class DelegationDepthExceeded extends Schema.TaggedError<DelegationDepthExceeded>()(
  "DelegationDepthExceeded",
  {
    agent: Schema.String,
    level: Schema.Number,
    maxDelegationDepth: Schema.Number,
    message: Schema.String
  }
) {}

/**
 * A list of notifiers given to `Notifiers.layer` or `AgentRuntime.make` is invalid: `field` names the entry
 * (`notifiers[2]`: not a notifier, `notifiers[1].name`: a name another notifier has, which would merge their
 * counters in `stats()`).
 */
export class InvalidNotifiers extends Schema.TaggedError<InvalidNotifiers>()("InvalidNotifiers", {
  field: Schema.String,
  message: Schema.String
}) {}

/**
 * A run was started without a service it needs (the model, the recorder, the run ledger): a defect, since
 * Effect code sees the missing service as a type error first. The message names the layers that provide it.
 */
export class ServiceNotProvided extends Schema.TaggedError<ServiceNotProvided>()("ServiceNotProvided", {
  /** `LanguageModel`, `Recorder` or `RunLedger`. */
  service: Schema.String,
  /** Layers that provide it. */
  providedBy: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/**
 * A value made by another copy of `effect` (an app on effect 4 next to the runtime's effect 3) reached the
 * runtime: `runtime` and `found` are the two versions; the message says how to end up with one copy.
 */
export class EffectVersionMismatch extends Schema.TaggedError<EffectVersionMismatch>()("EffectVersionMismatch", {
  runtime: Schema.String,
  found: Schema.String,
  message: Schema.String
}) {}

/** Options passed to `run`/`stream` are invalid; `field` names what is wrong. Nothing was recorded. */
export class InvalidRunOptions extends Schema.TaggedError<InvalidRunOptions>()("InvalidRunOptions", {
  field: Schema.String,
  message: Schema.String
}) {}

/** What `agent.run` and `agent.stream` can fail with (a run that ended in `error` is a result, not a failure). */
export type RunError =
  | RecorderError
  | InvalidRunOptions
  | RunAlreadyActive
  | IdempotencyConflict
  | ThreadBusy
  | ThreadTenantMismatch

/**
 * The thread has a run that is still running or paused (`onBusy: "reject"`, the default): one run at a time
 * per thread, decided by the record (a unique index on active runs of a thread), so two processes cannot
 * interleave a conversation. Retry once `activeRunId` has ended, or pass `onBusy: "wait"`.
 */
export class ThreadBusy extends Schema.TaggedError<ThreadBusy>()("ThreadBusy", {
  threadId: Schema.String,
  activeRunId: Schema.String,
  message: Schema.String
}) {}

/** The thread belongs to another tenant (a thread's tenant is the one of its first run). */
export class ThreadTenantMismatch extends Schema.TaggedError<ThreadTenantMismatch>()("ThreadTenantMismatch", {
  threadId: Schema.String,
  message: Schema.String
}) {}

/** No run has this id (or it belongs to another tenant). */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", {
  runId: Schema.String,
  message: Schema.String
}) {}

/** The run is not waiting for what was submitted (it is running, or waits for something else). */
export class RunNotPaused extends Schema.TaggedError<RunNotPaused>()("RunNotPaused", {
  runId: Schema.String,
  status: Schema.String,
  message: Schema.String
}) {}

/** Another submitter claimed the paused run first. */
export class RunAlreadyClaimed extends Schema.TaggedError<RunAlreadyClaimed>()("RunAlreadyClaimed", {
  runId: Schema.String,
  message: Schema.String
}) {}

/** The run has already ended. */
export class RunAlreadyTerminal extends Schema.TaggedError<RunAlreadyTerminal>()("RunAlreadyTerminal", {
  runId: Schema.String,
  status: Schema.String,
  message: Schema.String
}) {}

/** Submitted tool results do not match the pending calls: missing, duplicate or unknown call ids. */
export class InvalidToolResults extends Schema.TaggedError<InvalidToolResults>()("InvalidToolResults", {
  runId: Schema.String,
  missing: Schema.Array(Schema.String),
  duplicate: Schema.Array(Schema.String),
  unknown: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/** The run was started by another agent than the one asked to continue it. */
export class AgentMismatch extends Schema.TaggedError<AgentMismatch>()("AgentMismatch", {
  runId: Schema.String,
  expected: Schema.String,
  actual: Schema.String,
  message: Schema.String
}) {}

/** A run with this idempotency key and input is still running or paused. */
export class RunAlreadyActive extends Schema.TaggedError<RunAlreadyActive>()("RunAlreadyActive", {
  runId: Schema.String,
  status: Schema.String,
  message: Schema.String
}) {}

/** The idempotency key was used before with a different input or agent. */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  idempotencyKey: Schema.String,
  runId: Schema.String,
  message: Schema.String
}) {}

/** What submitting to a paused run can fail with (besides the run's own errors). */
export type SubmitError =
  | RunNotFound
  | RunNotPaused
  | RunAlreadyClaimed
  | RunAlreadyTerminal
  | InvalidToolResults
  | AgentMismatch

/**
 * The runtime is at its `maxConcurrentRuns` and its queue of waiting runs is full: the run was not started
 * (nothing recorded). Retry later, raise `maxConcurrentRuns` / `maxQueuedRuns`, or shed the request.
 */
export class Overloaded extends Schema.TaggedError<Overloaded>()("Overloaded", {
  maxConcurrentRuns: Schema.Number,
  maxQueuedRuns: Schema.Number,
  message: Schema.String
}) {}
