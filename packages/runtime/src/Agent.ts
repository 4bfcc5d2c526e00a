/**
 * Agents: a name, instructions and tools, run by the kernel's ReAct loop with native tool calling.
 */
import { type Duration, Effect, Either, Mailbox, Schema, Stream } from "effect"
import {
  AgentConfigError,
  type AgentMismatch,
  DelegationDepthExceeded,
  type RunError,
  type RunNotFound,
  type SubmitError
} from "./Errors.js"
import type { Guardrail } from "./Guardrails.js"
import type { Json } from "./HookEvent.js"
import * as AgentConfigSchemas from "./internal/config/agentConfig.js"
import * as RunOptionSchemas from "./internal/config/runOptions.js"
import { type AgentDefinition, compile } from "./internal/definition.js"
import * as Resume from "./internal/run/resume.js"
import { retryRun } from "./internal/run/retry.js"
import { startRun } from "./internal/run/start.js"
import * as Submissions from "./internal/run/submissions.js"
import type { LanguageModel } from "./LanguageModel.js"
import type { Notifier } from "./Notifier.js"
import type { ModelPrice } from "./Pricing.js"
import type { Recorder } from "./Recorder.js"
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

/** Configuration of `Agent.make`. */
export interface AgentConfig {
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
  /** The OpenTelemetry Context notifier spans are parented to; defaults to the one active at run start. */
  readonly traceContext?: unknown
}

/** An agent, ready to run. Its definition is validated and kept inside; only its name and instructions show. */
export interface Agent {
  readonly name: string
  readonly instructions: string
  /** Runs to a terminal status or a pause; fails only when the record could not be written (or on bad options). */
  readonly run: (input: string, options?: RunOptions) => Effect.Effect<RunResult, RunError, LanguageModel | Recorder>
  /** The same run as a stream of recorded events and deltas, ending after the terminal (or pause) event. */
  readonly stream: (
    input: string,
    options?: RunOptions
  ) => Stream.Stream<StreamEvent, RunError, LanguageModel | Recorder>
  /** Resumes a run waiting for client tool results (each pending call answered exactly once). */
  readonly submitToolResults: (
    runId: string,
    results: ReadonlyArray<ToolResultSubmission>,
    options?: RunOptions
  ) => Effect.Effect<RunResult, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** Resumes a run waiting for approval: approved calls execute, rejected ones fail with the reason. */
  readonly submitApproval: (
    runId: string,
    decision: { readonly approved: boolean; readonly reason?: string | undefined },
    options?: RunOptions
  ) => Effect.Effect<RunResult, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
  /** Resumes a run waiting for human input. */
  readonly submitInput: (
    runId: string,
    text: string,
    options?: RunOptions
  ) => Effect.Effect<RunResult, SubmitError | RunError, LanguageModel | Recorder | RunLedger>
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
interface Defined extends Agent {
  readonly [DefinitionKey]: AgentDefinition
}

const definitionOf = (agent: Agent): AgentDefinition => {
  const definition = (agent as Partial<Defined>)[DefinitionKey]
  if (definition === undefined) {
    throw new AgentConfigError({
      field: "agent",
      message: "agent: not an agent made by Agent.make or Agent.makeSync"
    })
  }
  return definition
}

const fromDefinition = (definition: AgentDefinition): Agent => {
  const agent: Defined = {
    name: definition.name,
    instructions: definition.instructions,
    [DefinitionKey]: definition,
    run: (input, options) => startRun(definition, input, options ?? {}, undefined),
    stream: (input, options) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const mailbox = yield* Mailbox.make<StreamEvent, RunError>()
        yield* startRun(definition, input, options ?? {}, (event) => void mailbox.unsafeOffer(event)).pipe(
          Mailbox.into(mailbox),
          Effect.forkScoped
        )
        return Mailbox.toStream(mailbox)
      })),
    submitToolResults: (runId, results, options) =>
      Resume.submit(
        definition,
        runId,
        ["waiting_client_tool", "waiting_human_input"],
        (saved) => Submissions.toolResults(runId, saved, results),
        options ?? {}
      ),
    submitApproval: (runId, decision, options) =>
      Resume.submit(definition, runId, ["waiting_approval"], () => Submissions.approval(decision), options ?? {}),
    submitInput: (runId, text, options) =>
      Resume.submit(definition, runId, ["waiting_human_input"], () => Submissions.input(runId, text), options ?? {}),
    retry: (runId, options) => retryRun(definition, runId, options ?? {})
  }
  return agent
}

/**
 * Validates a configuration and makes an agent. `AgentConfigError.field` is the path of what is wrong
 * (`tools[1].parameters`, `budget.warnAt[0]`…) and its message starts with that path.
 */
export const make = (config: AgentConfig): Effect.Effect<Agent, AgentConfigError> =>
  Effect.map(Effect.suspend(() => compile(config)), fromDefinition)

/** Like `make`, for hosts without Effect: throws the `AgentConfigError`. */
export const makeSync = (config: AgentConfig): Agent => {
  const made = compile(config)
  if (Either.isLeft(made)) throw made.left
  return fromDefinition(made.right)
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
export const asTool = (agent: Agent, options: AsToolOptions): Tool<{ readonly input: string }> => {
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
