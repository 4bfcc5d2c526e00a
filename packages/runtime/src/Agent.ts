/**
 * Agents: a name, instructions and tools, run by the kernel's ReAct loop with native tool calling.
 */
import { type Duration, Effect, Either, Mailbox, Schema, Stream } from "effect"
import {
  AgentConfigError,
  type AgentMismatch,
  DelegationDepthExceeded,
  type RecorderError,
  type RunError,
  type RunNotFound,
  type SubmitError
} from "./Errors.js"
import type { Guardrail } from "./Guardrails.js"
import type { HookEvent, Json, Message } from "./HookEvent.js"
import type { Sink } from "./internal/bus.js"
import * as AgentConfigSchemas from "./internal/config/agentConfig.js"
import * as RunOptionSchemas from "./internal/config/runOptions.js"
import { type AgentDefinition, compile } from "./internal/definition.js"
import * as Recover from "./internal/run/recover.js"
import * as Resume from "./internal/run/resume.js"
import { retryRun } from "./internal/run/retry.js"
import { startRun } from "./internal/run/start.js"
import * as Submissions from "./internal/run/submissions.js"
import type { LanguageModel } from "./LanguageModel.js"
import type { Notifier } from "./Notifier.js"
import type { ModelPrice } from "./Pricing.js"
import type { Recorder } from "./Recorder.js"
import type * as Redaction from "./Redaction.js"
import type { RunLedger } from "./RunLedger.js"
import type { RunResult, ToolResultSubmission } from "./RunResult.js"
import type { StreamEvent } from "./StreamEvent.js"
import { make as makeTool, type Tool } from "./Tool.js"

/** A token and/or cost budget per run. */
export interface BudgetConfig {
  /** Input + output tokens of all the run's model calls. */
  readonly maxTokens?: number | undefined
  /** Cost of the run's model calls (needs a price for the model). */
  readonly maxCostUsd?: number | undefined
  /** Fractions of a limit that record `budget.threshold` once each (default [0.5, 0.75, 0.9]). */
  readonly warnAt?: ReadonlyArray<number> | undefined
  /** `stop` ends the run `error` (`failure_reason = 'budget'`) before its next model call; default `warn`. */
  readonly onExceeded?: "warn" | "stop" | undefined
}

/**
 * What a run takes: a user message's text, or messages (user / assistant / tool, in `HookEvent.Message`'s
 * schema) appended to the history in order. A tool message must answer a call an earlier assistant message of
 * the array made; a bad element fails `InvalidRunOptions` naming it (`input[2].content`).
 */
export type RunInput = string | ReadonlyArray<Message>

/**
 * How much of a thread's earlier messages a run continuing it sends to the model (default: all of them). The
 * cut never keeps a tool result whose call it dropped. What the model was sent stays exact in the record.
 */
export interface HistoryConfig {
  /** At most this many of the thread's earlier messages (the latest ones). */
  readonly maxMessages?: number | undefined
  /** At most about this many tokens of earlier messages (estimated at four characters a token). */
  readonly maxTokens?: number | undefined
  /**
   * Summarises the dropped prefix (e.g. with another agent: the run's model and recorder are provided); its
   * text replaces the prefix as a user message and is recorded as a `history.summarized` event. A failing hook
   * leaves the prefix out without a summary (logged).
   */
  readonly summarize?:
    | ((dropped: ReadonlyArray<Message>) => Effect.Effect<string, unknown, LanguageModel | Recorder>)
    | undefined
}

/** Configuration of `Agent.make`; `Out` is the type its `output` Schema decodes to. */
export interface AgentConfig<Out = unknown> {
  /** Non-empty; recorded on every run. */
  readonly name: string
  /** The system prompt. */
  readonly instructions: string
  readonly tools?: ReadonlyArray<Tool> | undefined
  /** Model calls per run, 1..200 (default 10), counted across pauses. */
  readonly maxIterations?: number | undefined
  /** Tools that must never execute: the model gets a failed result and `policy.denied` is recorded. */
  readonly deny?: ReadonlyArray<string> | undefined
  /** Server tools whose calls wait for a human's approval (the whole batch pauses `waiting_approval`). */
  readonly requireApproval?: ReadonlyArray<string> | undefined
  readonly budget?: BudgetConfig | undefined
  /** Scanners applied at the model boundary, in order (see `Guardrails`). */
  readonly guardrails?: ReadonlyArray<Guardrail> | undefined
  /**
   * What must not be stored or observed beyond the guardrails: key, pattern and tool-path rules, metadata-only,
   * the per-field size cap and a blob store (see `Redaction`). Checked here: a bad setting fails naming its path.
   */
  readonly redaction?: Redaction.Config | undefined
  /** Price overrides (per million tokens) on top of the built-in table, keyed `provider:model` or `model`. */
  readonly prices?: Readonly<Record<string, ModelPrice>> | undefined
  /** Deepest delegation level a run of this agent may start children at (default 10). */
  readonly maxDelegationDepth?: number | undefined
  /**
   * How often a run refreshes its progress while a model or tool call is in flight (default 10 seconds), so
   * the recorder's sweep never ends a run that is still working: its `staleRunningAfter` must be several
   * heartbeats long.
   */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /**
   * The default structured output of the agent's runs: the final answer must be JSON decoding with this
   * Schema, returned as `RunResult.output` (see `RunOptions.output`).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: decoded from JSON
  readonly output?: Schema.Schema<Out, any> | undefined
  /** Repair turns when an answer does not decode with `output`, 0..3 (default 1). */
  readonly outputRepairs?: number | undefined
  /** The window of a thread's earlier messages a run on the thread sends (see `RunOptions.threadId`). */
  readonly history?: HistoryConfig | undefined
  /**
   * What a run recovered from the record (`Agent.recover`, fleet mode) does about a call of a tool not declared
   * `idempotent` that was in flight when its runner was lost: `pause` (default) waits `waiting_approval` with the
   * prompt "interrupted during a non-idempotent tool call" so a person decides (approve: it executes again;
   * reject: it fails); `fail` ends the run `error` with `failureReason: "interrupted"`.
   */
  readonly onInterruptedTool?: "pause" | "fail" | undefined
}

/** Options of one run (and of resuming one: its notifiers and trace context). */
export interface RunOptions {
  /** Defaults to a new ULID. */
  readonly runId?: string | undefined
  readonly tenantId?: string | undefined
  /** A JSON object stored with the run (filterable by top-level key). */
  readonly metadata?: { readonly [key: string]: Json } | undefined
  /** Notifiers for this run only, in addition to the runtime's. */
  readonly notifiers?: ReadonlyArray<Notifier> | undefined
  readonly parentRunId?: string | undefined
  /**
   * The same key and input return the earlier run's result (or fail `RunAlreadyActive` while it runs); the
   * same key with another input fails `IdempotencyConflict`. Enforced by a unique index.
   */
  readonly idempotencyKey?: string | undefined
  /**
   * Continues a conversation: the run starts from every user, assistant and tool message of the thread's
   * earlier runs (read from the record, so any process continues it), windowed by the agent's `history`, and
   * is recorded with this thread id. A thread belongs to the tenant of its first run (another tenant fails
   * `ThreadTenantMismatch`); it has one run at a time (see `onBusy`). Needs a recorder with a `RunLedger`.
   */
  readonly threadId?: string | undefined
  /**
   * While another run of the thread is running or paused: `reject` (default) fails `ThreadBusy`; `wait` tries
   * again (every 25 ms, backing off to every second) until it has ended. Decided by the record's unique index,
   * so two processes never interleave a thread.
   */
  readonly onBusy?: "wait" | "reject" | undefined
  /** The OpenTelemetry Context notifier spans are parented to; defaults to the one active at run start. */
  readonly traceContext?: unknown
  /**
   * Structured output: the final answer must be JSON that decodes with this Schema (native structured output
   * where the provider supports it, an instruction in the system prompt otherwise). A reply that does not
   * decode gets repair turns showing the model the decode error; still invalid, the run ends `error` with
   * `failureReason: "output_invalid"`. A resume must pass the Schema its run started with (or rely on the
   * agent's default).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: decoded from JSON
  readonly output?: Schema.Schema<any, any> | undefined
  /** Repair turns for `output`, 0..3 (default: the agent's, else 1). */
  readonly outputRepairs?: number | undefined
}

/** Options of a run whose `output` Schema decodes to `A`. */
export interface RunOptionsOf<A> extends RunOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: decoded from JSON
  readonly output?: Schema.Schema<A, any> | undefined
}

/** A human's decision on a run waiting for approval. */
export interface ApprovalDecision {
  readonly approved: boolean
  readonly reason?: string | undefined
}

/** An agent, ready to run. Its definition is validated and kept inside; only its name and instructions show. */
export interface Agent<Out = unknown> {
  readonly name: string
  readonly instructions: string
  /** Runs to a terminal status or a pause; fails only when the record could not be written (or on bad options). */
  readonly run: <A = Out>(
    input: RunInput,
    options?: RunOptionsOf<A>
  ) => Effect.Effect<RunResult<A>, RunError, LanguageModel | Recorder>
  /** The same run as a stream of recorded events and deltas, ending after the terminal (or pause) event. */
  readonly stream: (
    input: RunInput,
    options?: RunOptions
  ) => Stream.Stream<StreamEvent, RunError, LanguageModel | Recorder>
  /** Resumes a run waiting for client tool results (each pending call answered exactly once). */
  readonly submitToolResults: <A = Out>(
    runId: string,
    results: ReadonlyArray<ToolResultSubmission>,
    options?: RunOptionsOf<A>
  ) => Effect.Effect<RunResult<A>, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** Resumes a run waiting for approval: approved calls execute, rejected ones fail with the reason. */
  readonly submitApproval: <A = Out>(
    runId: string,
    decision: { readonly approved: boolean; readonly reason?: string | undefined },
    options?: RunOptionsOf<A>
  ) => Effect.Effect<RunResult<A>, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** Resumes a run waiting for human input. */
  readonly submitInput: <A = Out>(
    runId: string,
    text: string,
    options?: RunOptionsOf<A>
  ) => Effect.Effect<RunResult<A>, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** `submitToolResults` as a stream of the resumed segment's events, ending after its terminal (or pause) event. */
  readonly streamSubmitToolResults: (
    runId: string,
    results: ReadonlyArray<ToolResultSubmission>,
    options?: RunOptions
  ) => Stream.Stream<StreamEvent, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** `submitApproval` as a stream of the resumed segment's events. */
  readonly streamSubmitApproval: (
    runId: string,
    decision: ApprovalDecision,
    options?: RunOptions
  ) => Stream.Stream<StreamEvent, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** `submitInput` as a stream of the resumed segment's events. */
  readonly streamSubmitInput: (
    runId: string,
    text: string,
    options?: RunOptions
  ) => Stream.Stream<StreamEvent, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** Starts a new run from a finished run's input, with `retryOfRunId` set. */
  readonly retry: (
    runId: string,
    options?: RunOptions
  ) => Effect.Effect<RunResult, RunNotFound | AgentMismatch | RunError, LanguageModel | Recorder | RunLedger>
}

/** The most iterations an agent may be configured with. */
export const MAX_ITERATIONS_CEILING: number = AgentConfigSchemas.MAX_ITERATIONS_CEILING

/** The longest run id, tenant id, parent run id or idempotency key. */
export const MAX_OPTION_LENGTH: number = RunOptionSchemas.MAX_OPTION_LENGTH

/** The Schema `Agent.make` decodes its configuration with (each limit declared once, for reuse elsewhere). */
export const AgentConfigSchema = AgentConfigSchemas.AgentConfigSchema

/** The Schema of one tool definition, as `Agent.make` checks it. */
export const ToolSchema = AgentConfigSchemas.ToolSpec

/** The Schema a run's options are decoded with (`run`, `stream`, and the notifiers of a resume). */
export const RunOptionsSchema = RunOptionSchemas.RunOptionsSchema

/** A run id, tenant id, parent run id or idempotency key: 1..255 characters, no NUL. */
export const RunOptionString = RunOptionSchemas.RunOptionString

/** Run metadata: a JSON object, NUL-free in its keys and strings. */
export const MetadataSchema = RunOptionSchemas.Metadata

const DefinitionKey: unique symbol = Symbol.for("@sextant/runtime/Agent/definition")

/** An agent with the definition it runs (a symbol-keyed property: kept by a spread, absent from the type). */
interface Defined extends Agent<unknown> {
  readonly [DefinitionKey]: AgentDefinition
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any agent, whatever its output
const definitionOf = (agent: Agent<any>): AgentDefinition => {
  const definition = (agent as Partial<Defined>)[DefinitionKey]
  if (definition === undefined) {
    throw new AgentConfigError({
      field: "agent",
      message: "agent: not an agent made by Agent.make or Agent.makeSync"
    })
  }
  return definition
}

/** The run a kernel entry point drives, as the stream of its events (the segment's result ends it). */
const streamOf = <E, R>(
  drive: (sink: Sink) => Effect.Effect<unknown, E, R>
): Stream.Stream<StreamEvent, E, R> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const mailbox = yield* Mailbox.make<StreamEvent, E>()
    yield* drive((event) => void mailbox.unsafeOffer(event)).pipe(
      Effect.asVoid,
      Mailbox.into(mailbox),
      Effect.forkScoped
    )
    return Mailbox.toStream(mailbox)
  }))

/** The kernel works on untyped results; the `output` Schema the caller passed decides `A`. */
const typed = <A, E, R>(effect: Effect.Effect<RunResult, E, R>) => effect as Effect.Effect<RunResult<A>, E, R>

const fromDefinition = (definition: AgentDefinition): Agent => {
  const toolResults = (
    runId: string,
    results: ReadonlyArray<ToolResultSubmission>,
    options: RunOptions | undefined,
    sink?: Sink
  ) =>
    Resume.submit(
      definition,
      runId,
      ["waiting_client_tool", "waiting_human_input"],
      (saved) => Submissions.toolResults(runId, saved, results),
      options ?? {},
      sink
    )
  const approval = (runId: string, decision: ApprovalDecision, options: RunOptions | undefined, sink?: Sink) =>
    Resume.submit(definition, runId, ["waiting_approval"], () => Submissions.approval(decision), options ?? {}, sink)
  const input = (runId: string, text: string, options: RunOptions | undefined, sink?: Sink) =>
    Resume.submit(
      definition,
      runId,
      ["waiting_human_input"],
      () => Submissions.input(runId, text),
      options ?? {},
      sink
    )
  const agent: Defined = {
    name: definition.name,
    instructions: definition.instructions,
    [DefinitionKey]: definition,
    run: (input, options) => typed(startRun(definition, input, options ?? {}, undefined)),
    stream: (input, options) => streamOf((sink) => startRun(definition, input, options ?? {}, sink)),
    submitToolResults: (runId, results, options) => typed(toolResults(runId, results, options)),
    submitApproval: (runId, decision, options) => typed(approval(runId, decision, options)),
    submitInput: (runId, text, options) => typed(input(runId, text, options)),
    streamSubmitToolResults: (runId, results, options) =>
      streamOf((sink) => toolResults(runId, results, options, sink)),
    streamSubmitApproval: (runId, decision, options) => streamOf((sink) => approval(runId, decision, options, sink)),
    streamSubmitInput: (runId, text, options) => streamOf((sink) => input(runId, text, options, sink)),
    retry: (runId, options) => retryRun(definition, runId, options ?? {})
  }
  return agent
}

/**
 * Validates a configuration and makes an agent. `AgentConfigError.field` is the path of what is wrong
 * (`tools[1].parameters`, `budget.warnAt[0]`…) and its message starts with that path.
 */
export const make = <Out = unknown>(config: AgentConfig<Out>): Effect.Effect<Agent<Out>, AgentConfigError> =>
  Effect.map(Effect.suspend(() => compile(config)), (d) => fromDefinition(d) as Agent<Out>)

/** Like `make`, for hosts without Effect: throws the `AgentConfigError`. */
export const makeSync = <Out = unknown>(config: AgentConfig<Out>): Agent<Out> => {
  const made = compile(config)
  if (Either.isLeft(made)) throw made.left
  return fromDefinition(made.right) as Agent<Out>
}

/** Options of `Agent.asTool`. */
export interface AsToolOptions {
  readonly description: string
  /** Defaults to the agent's name. */
  readonly name?: string | undefined
}

/**
 * Makes an agent a tool of another: a call runs the child agent as its own run (same model and recorder,
 * `parentRunId` and `delegationLevel` set, same tenant). Past the child's `maxDelegationDepth` the call
 * fails (the parent goes on); the child's outcome is the tool's result.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any agent, whatever its output
export const asTool = (agent: Agent<any>, options: AsToolOptions): Tool<{ readonly input: string }> => {
  const definition = definitionOf(agent)
  return makeTool(options.name ?? definition.name, {
    description: options.description,
    parameters: Schema.Struct({ input: Schema.String }),
    handler: ({ input }, context) => {
      const level = context.delegationLevel + 1
      if (level > definition.maxDelegationDepth) {
        return Effect.fail(
          new DelegationDepthExceeded({
            agent: definition.name,
            level,
            maxDelegationDepth: definition.maxDelegationDepth,
            message:
              `delegation depth limit reached: level ${level} exceeds ${definition.maxDelegationDepth} for agent '${definition.name}'`
          })
        )
      }
      const child = startRun(definition, input, {
        parentRunId: context.runId,
        delegationLevel: level,
        ...(context.tenantId === undefined ? {} : { tenantId: context.tenantId })
      }, undefined).pipe(
        Effect.map((r) => ({
          runId: r.runId,
          status: r.status,
          ...(r.answer === undefined ? {} : { answer: r.answer }),
          ...(r.error === undefined ? {} : { error: r.error.message })
        }))
      )
      // The child runs in the parent's fiber, whose context provides the model and the recorder.
      return child as Effect.Effect<unknown, unknown>
    }
  })
}

/** Options of `Agent.recover`. */
export interface RecoverOptions {
  /** Notifiers for the recovered segment only, in addition to the runtime's. */
  readonly notifiers?: ReadonlyArray<Notifier> | undefined
  /** The OpenTelemetry Context notifier spans are parented to; defaults to the active one. */
  readonly traceContext?: unknown
  /** JSON recorded with the segment's `custom.run.recovered` event (e.g. the runner that took the run over). */
  readonly note?: Json | undefined
  /**
   * When the segment's fiber is interrupted without a cancellation (fleet mode: the run's shard moved to
   * another runner), record nothing and leave the run `running` for the process that continues it (default
   * false: the run ends `cancelled`/`interrupted`, as an in-process run does).
   */
  readonly leaveRunningOnInterrupt?: boolean | undefined
}

/** The prompt of a run paused because a non-idempotent tool call was in flight when its process was lost. */
export const INTERRUPTED_PROMPT: string = Recover.INTERRUPTED_PROMPT

/** The name of the custom event that opens a recovered segment (what was abandoned, what was decided). */
export const RECOVERED_EVENT: string = Recover.RECOVERED_EVENT

/**
 * Continues a `running` run in this process from its recorded events (all of them, in sequence order), as
 * fleet mode does when a run's process was lost or a queued run (only `run.started` recorded) is picked up.
 * The state is rebuilt from the record and the run goes on from its last completed step: a model call without
 * `llm.completed` is recorded `llm.failed` (tag `Abandoned`) and made again; a tool call without
 * `tool.completed` executes again only if its tool is `idempotent`, else the agent's `onInterruptedTool`
 * decides (pause `waiting_approval` with `INTERRUPTED_PROMPT`, or fail `interrupted`). Redacted values come
 * back as their placeholders (the raw mapping lived in the lost process). A run on a thread gets the thread's
 * earlier messages again (the record of a run holds only its own), windowed as at its start, with the
 * `history.summarized` text its first segment recorded. A run that is not `running` answers with its stored
 * result and nothing executes.
 */
export const recover = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any agent, whatever its output
  agent: Agent<any>,
  runId: string,
  events: ReadonlyArray<HookEvent>,
  options?: RecoverOptions
): Effect.Effect<RunResult, RunError | RunNotFound | AgentMismatch, LanguageModel | Recorder | RunLedger> =>
  Effect.suspend(() => Recover.recover(definitionOf(agent), runId, events, options ?? {}))

/** What `Agent.recordQueued` records with the run besides its input. */
export type QueuedOptions = Recover.QueuedOptions

/**
 * Records `run.started` of a run that another process will execute with `Agent.recover` (fleet mode's queued
 * run), through the agent's guardrails and redaction policy, as a run started here would be.
 */
export const recordQueued = (
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any agent, whatever its output
  agent: Agent<any>,
  runId: string,
  input: string,
  options?: QueuedOptions
): Effect.Effect<void, RecorderError, Recorder> =>
  Effect.suspend(() => Recover.recordQueued(definitionOf(agent), runId, input, options ?? {}))
