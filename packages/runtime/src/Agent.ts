/**
 * Agents: a name, instructions and tools, run by the kernel's ReAct loop with native tool calling.
 */
import { Effect, Either, Mailbox, Schema, Stream } from "effect"
import { AgentConfigError, type AgentMismatch, type RunError, type RunNotFound, type SubmitError } from "./Errors.js"
import type { Guardrail } from "./Guardrails.js"
import type { Json } from "./HookEvent.js"
import { type CompiledTool, compileTool } from "./internal/compiledTool.js"
import { startRun } from "./internal/loop.js"
import * as Resume from "./internal/resume.js"
import type { LanguageModel } from "./LanguageModel.js"
import type { Notifier } from "./Notifier.js"
import * as Pricing from "./Pricing.js"
import type { ModelPrice, PriceTable } from "./Pricing.js"
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

/** A validated agent definition. */
export interface AgentDefinition {
  readonly name: string
  readonly instructions: string
  readonly tools: ReadonlyArray<CompiledTool>
  readonly maxIterations: number
  readonly deny: ReadonlySet<string>
  readonly requireApproval: ReadonlySet<string>
  readonly budget:
    | {
      readonly maxTokens?: number
      readonly maxCostUsd?: number
      readonly warnAt: ReadonlyArray<number>
      readonly onExceeded: "warn" | "stop"
    }
    | undefined
  readonly guardrails: ReadonlyArray<Guardrail>
  readonly prices: PriceTable
  readonly maxDelegationDepth: number
}

/** An agent, ready to run. */
export interface Agent extends AgentDefinition {
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
export const MAX_ITERATIONS_CEILING = 200

const validate = (config: AgentConfig): Either.Either<AgentDefinition, AgentConfigError> => {
  const bad = (field: string, message: string) => Either.left(new AgentConfigError({ field, message }))
  if (typeof config.name !== "string" || config.name.trim() === "") return bad("name", "must be a non-empty string")
  if (typeof config.instructions !== "string") return bad("instructions", "must be a string")
  const maxIterations = config.maxIterations ?? 10
  if (!Number.isInteger(maxIterations) || maxIterations < 1 || maxIterations > MAX_ITERATIONS_CEILING) {
    return bad(
      "maxIterations",
      `must be an integer in 1..${MAX_ITERATIONS_CEILING}, got ${String(config.maxIterations)}`
    )
  }
  const tools: Array<CompiledTool> = []
  const seen = new Set<string>()
  for (const [i, tool] of (config.tools ?? []).entries()) {
    const compiled = compileTool(tool, i)
    if (Either.isLeft(compiled)) return Either.left(compiled.left)
    if (seen.has(compiled.right.name)) return bad(`tools[${i}].name`, `duplicate tool name '${compiled.right.name}'`)
    seen.add(compiled.right.name)
    tools.push(compiled.right)
  }
  const names = new Set(tools.map((t) => t.name))
  const toolList = (field: "deny" | "requireApproval") => {
    const list = config[field] ?? []
    for (const [i, name] of list.entries()) {
      if (!names.has(name)) return bad(`${field}[${i}]`, `'${name}' is not one of the agent's tools`)
    }
    return Either.right(new Set(list))
  }
  const deny = toolList("deny")
  if (Either.isLeft(deny)) return Either.left(deny.left)
  const requireApproval = toolList("requireApproval")
  if (Either.isLeft(requireApproval)) return Either.left(requireApproval.left)
  for (const name of requireApproval.right) {
    if (deny.right.has(name)) return bad("requireApproval", `'${name}' is also denied`)
    if (tools.find((t) => t.name === name)?.target !== "server") {
      return bad("requireApproval", `'${name}' is not a server tool (client tools already wait for the client)`)
    }
  }
  const budget = validateBudget(config.budget)
  if (Either.isLeft(budget)) return Either.left(budget.left)
  const maxDelegationDepth = config.maxDelegationDepth ?? 10
  if (!Number.isInteger(maxDelegationDepth) || maxDelegationDepth < 0) {
    return bad("maxDelegationDepth", "must be a non-negative integer")
  }
  for (const [i, g] of (config.guardrails ?? []).entries()) {
    if (typeof g?.detect !== "function" || !["redact", "block", "warn"].includes(g.action)) {
      return bad(`guardrails[${i}]`, "must be a Guardrail (see Guardrails.PII, SecretDetection, PromptInjection)")
    }
  }
  for (const [key, price] of Object.entries(config.prices ?? {})) {
    const values = [price.inputPerMTok, price.outputPerMTok, price.cacheReadPerMTok ?? 0, price.cacheWritePerMTok ?? 0]
    if (values.some((v) => typeof v !== "number" || !Number.isFinite(v) || v < 0)) {
      return bad(`prices.${key}`, "prices must be non-negative numbers per million tokens")
    }
  }
  return Either.right({
    name: config.name,
    instructions: config.instructions,
    tools,
    maxIterations,
    deny: deny.right,
    requireApproval: requireApproval.right,
    budget: budget.right,
    guardrails: config.guardrails ?? [],
    prices: Pricing.withOverrides(Pricing.builtIn, config.prices ?? {}),
    maxDelegationDepth
  })
}

const validateBudget = (
  budget: BudgetConfig | undefined
): Either.Either<AgentDefinition["budget"], AgentConfigError> => {
  if (budget === undefined) return Either.right(undefined)
  const bad = (field: string, message: string) =>
    Either.left(new AgentConfigError({ field: `budget.${field}`, message }))
  if (budget.maxTokens === undefined && budget.maxCostUsd === undefined) {
    return bad("maxTokens", "a budget needs maxTokens or maxCostUsd")
  }
  for (const field of ["maxTokens", "maxCostUsd"] as const) {
    const v = budget[field]
    if (v !== undefined && (typeof v !== "number" || !(v > 0) || !Number.isFinite(v))) {
      return bad(field, "must be positive")
    }
  }
  const warnAt = [...(budget.warnAt ?? [0.5, 0.75, 0.9])].sort((a, b) => a - b)
  if (warnAt.some((f) => typeof f !== "number" || !(f > 0 && f < 1))) {
    return bad("warnAt", "fractions must be in (0, 1)")
  }
  const onExceeded = budget.onExceeded ?? "warn"
  if (onExceeded !== "warn" && onExceeded !== "stop") return bad("onExceeded", `must be "warn" or "stop"`)
  return Either.right({
    ...(budget.maxTokens === undefined ? {} : { maxTokens: budget.maxTokens }),
    ...(budget.maxCostUsd === undefined ? {} : { maxCostUsd: budget.maxCostUsd }),
    warnAt,
    onExceeded
  })
}

const fromDefinition = (definition: AgentDefinition): Agent => ({
  ...definition,
  run: (input, options) => startRun(definition, input, options ?? {}, undefined),
  stream: (input, options) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<StreamEvent, RunError>()
      yield* startRun(definition, input, options ?? {}, (event) => Effect.asVoid(mailbox.offer(event))).pipe(
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    })),
  submitToolResults: (runId, results, options) => Resume.submitToolResults(definition, runId, results, options),
  submitApproval: (runId, decision, options) => Resume.submitApproval(definition, runId, decision, options),
  submitInput: (runId, text, options) => Resume.submitInput(definition, runId, text, options),
  retry: (runId, options) => Resume.retryRun(definition, runId, options)
})

/** Validates a configuration and makes an agent; `AgentConfigError.field` names what is wrong. */
export const make = (config: AgentConfig): Effect.Effect<Agent, AgentConfigError> =>
  Effect.map(Effect.suspend(() => validate(config)), fromDefinition)

/** Like `make`, for hosts without Effect: throws the `AgentConfigError`. */
export const makeSync = (config: AgentConfig): Agent => {
  const made = validate(config)
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
export const asTool = (agent: Agent, options: AsToolOptions): Tool<{ readonly input: string }> =>
  makeTool(options.name ?? agent.name, {
    description: options.description,
    parameters: Schema.Struct({ input: Schema.String }),
    handler: ({ input }, context) => {
      const level = context.delegationLevel + 1
      if (level > agent.maxDelegationDepth) {
        return Effect.fail(
          new Error(
            `delegation depth limit reached: level ${level} exceeds ${agent.maxDelegationDepth} for agent '${agent.name}'`
          )
        )
      }
      const child = startRun(agent, input, {
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
