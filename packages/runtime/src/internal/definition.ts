/**
 * A validated agent: the configuration decoded by `AgentConfigSchema`, then the checks that span fields
 * (duplicate tool names, deny and approval lists against the tools), compiled into what the engine runs.
 */
import { Duration, type Effect, Either, Schema } from "effect"
import { AgentConfigError } from "../Errors.js"
import type { Guardrail } from "../Guardrails.js"
import type { Json, Message } from "../HookEvent.js"
import * as Pricing from "../Pricing.js"
import type { PriceTable } from "../Pricing.js"
import type { ToolContext, ToolHandlerResult } from "../Tool.js"
import { AgentConfigSchema, type AgentConfigSpec, type ToolSpec } from "./config/agentConfig.js"
import { decodeWith } from "./config/fields.js"
import { type CompiledRedaction, compileRedaction } from "./redaction/policy.js"
import { compileOutput, type OutputSpec } from "./run/output.js"
import { adapt, type Rejected } from "./schemaAdapter.js"

/** A validated tool, ready for the loop. */
export interface CompiledTool {
  readonly name: string
  readonly description: string
  readonly target: "server" | "client"
  readonly kind: "tool" | "human"
  readonly parallel: boolean
  /** A call in flight when its runner was lost may execute again (see `Agent.recover`). */
  readonly idempotent: boolean
  readonly timeout: Duration.Duration
  readonly maxCallsPerRun: number | undefined
  /** How the call's stream is sampled into the record. */
  readonly stream: { readonly sampleRate: number; readonly maxSamples: number }
  readonly jsonSchema: Json
  /** Decodes raw arguments from the model; the rejection carries a readable message. */
  readonly decode: (raw: unknown) => Effect.Effect<unknown, Rejected>
  readonly handler: ((args: unknown, context: ToolContext) => ToolHandlerResult) | undefined
}

/** A validated agent definition. */
export interface AgentDefinition {
  readonly name: string
  readonly instructions: string
  readonly tools: ReadonlyArray<CompiledTool>
  readonly toolsByName: ReadonlyMap<string, CompiledTool>
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
  /** The redaction policy and size cap the bus applies for the recorder and the observers. */
  readonly redaction: CompiledRedaction
  readonly prices: PriceTable
  readonly maxDelegationDepth: number
  /** How often a run refreshes its progress while a model or tool call is in flight. */
  readonly heartbeatInterval: Duration.Duration
  /** The default structured output of the agent's runs (a run's `output` option replaces it). */
  readonly output: OutputSpec | undefined
  /** The default repair turns of a run's structured output. */
  readonly outputRepairs: number | undefined
  /** The window a run on a thread applies to the thread's earlier messages (none: the whole thread). */
  readonly history: HistoryWindow | undefined
  /** What a recovered run does about a non-idempotent tool call that was in flight. */
  readonly onInterruptedTool: "pause" | "fail"
}

/** A thread's history window, as the engine applies it. */
export interface HistoryWindow {
  readonly maxMessages?: number | undefined
  readonly maxTokens?: number | undefined
  /** Runs in the run's fiber (its model and recorder are provided); its text replaces the dropped prefix. */
  readonly summarize?: ((dropped: ReadonlyArray<Message>) => Effect.Effect<string, unknown, unknown>) | undefined
}

/** The default heartbeat interval: well inside any sensible `staleRunningAfter` of the sweep. */
export const defaultHeartbeatInterval = Duration.seconds(10)

const configError = (field: string, message: string) => new AgentConfigError({ field, message })

const decodeConfig = decodeWith(AgentConfigSchema, "config", configError)

const bad = (field: string, message: string) => Either.left(configError(field, `${field}: ${message}`))

const compileTool = (tool: ToolSpec, index: number): Either.Either<CompiledTool, AgentConfigError> => {
  const adapted = adapt(tool.parameters, tool.jsonSchema)
  if (Either.isLeft(adapted)) {
    return bad(`tools[${index}].${adapted.left.option}`, `tool '${tool.name}' ${adapted.left.message}`)
  }
  return Either.right({
    name: tool.name,
    description: tool.description,
    target: tool.target ?? "server",
    kind: tool.kind === "human" ? "human" : "tool",
    parallel: tool.parallel ?? true,
    idempotent: tool.idempotent ?? false,
    timeout: Duration.decode(tool.timeout ?? "120 seconds"),
    maxCallsPerRun: tool.maxCallsPerRun,
    stream: { sampleRate: tool.stream?.sampleRate ?? 0, maxSamples: tool.stream?.maxSamples ?? 1000 },
    jsonSchema: adapted.right.jsonSchema,
    decode: adapted.right.decode,
    handler: tool.handler as CompiledTool["handler"]
  })
}

const compileTools = (specs: ReadonlyArray<ToolSpec>): Either.Either<Array<CompiledTool>, AgentConfigError> => {
  const tools: Array<CompiledTool> = []
  for (const [i, spec] of specs.entries()) {
    if (tools.some((t) => t.name === spec.name)) return bad(`tools[${i}].name`, `duplicate tool name '${spec.name}'`)
    const compiled = compileTool(spec, i)
    if (Either.isLeft(compiled)) return Either.left(compiled.left)
    tools.push(compiled.right)
  }
  return Either.right(tools)
}

/** Checks the deny and approval lists against the agent's tools. */
const checkGovernance = (
  config: AgentConfigSpec,
  byName: ReadonlyMap<string, CompiledTool>
): Either.Either<void, AgentConfigError> => {
  for (const field of ["deny", "requireApproval"] as const) {
    for (const [i, name] of (config[field] ?? []).entries()) {
      if (!byName.has(name)) return bad(`${field}[${i}]`, `'${name}' is not one of the agent's tools`)
    }
  }
  const denied = new Set(config.deny ?? [])
  for (const [i, name] of (config.requireApproval ?? []).entries()) {
    if (denied.has(name)) return bad(`requireApproval[${i}]`, `'${name}' is also denied`)
    if (byName.get(name)?.target !== "server") {
      return bad(
        `requireApproval[${i}]`,
        `'${name}' is not a server tool (client tools already wait for the client)`
      )
    }
  }
  return Either.right(undefined)
}

const compileBudget = (budget: AgentConfigSpec["budget"]): AgentDefinition["budget"] =>
  budget === undefined ? undefined : {
    ...(budget.maxTokens === undefined ? {} : { maxTokens: budget.maxTokens }),
    ...(budget.maxCostUsd === undefined ? {} : { maxCostUsd: budget.maxCostUsd }),
    warnAt: [...(budget.warnAt ?? [0.5, 0.75, 0.9])].sort((a, b) => a - b),
    onExceeded: budget.onExceeded ?? "warn"
  }

/** Validates a configuration into a definition; `AgentConfigError.field` is the path of what is wrong. */
/** A stand-in Schema that lets `outputRepairs` be checked on an agent without a default `output`. */
const OutputCheck = Schema.Unknown

/** Compiles a configuration into the definition the engine runs. */
export const compile = (input: unknown): Either.Either<AgentDefinition, AgentConfigError> => {
  const decoded = decodeConfig(input)
  if (Either.isLeft(decoded)) return Either.left(decoded.left)
  const config = decoded.right
  const tools = compileTools(config.tools ?? [])
  if (Either.isLeft(tools)) return Either.left(tools.left)
  const toolsByName = new Map(tools.right.map((t) => [t.name, t] as const))
  const governance = checkGovernance(config, toolsByName)
  if (Either.isLeft(governance)) return Either.left(governance.left)
  const redaction = compileRedaction(config.redaction, new Set(toolsByName.keys()))
  if (Either.isLeft(redaction)) return Either.left(redaction.left)
  const raw = input as { readonly output?: unknown; readonly outputRepairs?: unknown }
  const output = raw.output === undefined && raw.outputRepairs === undefined
    ? Either.right(undefined)
    : Either.map(
      compileOutput(raw.output ?? OutputCheck, raw.outputRepairs),
      (spec) => raw.output === undefined ? undefined : spec
    )
  if (Either.isLeft(output)) return Either.left(configError(output.left.field, output.left.message))
  return Either.right({
    output: output.right,
    outputRepairs: raw.outputRepairs as number | undefined,
    name: config.name,
    instructions: config.instructions,
    tools: tools.right,
    toolsByName,
    maxIterations: config.maxIterations ?? 10,
    deny: new Set(config.deny ?? []),
    requireApproval: new Set(config.requireApproval ?? []),
    budget: compileBudget(config.budget),
    guardrails: config.guardrails ?? [],
    redaction: redaction.right,
    prices: Pricing.withOverrides(Pricing.builtIn, config.prices ?? {}),
    maxDelegationDepth: config.maxDelegationDepth ?? 10,
    heartbeatInterval: Duration.decode(config.heartbeatInterval ?? defaultHeartbeatInterval),
    onInterruptedTool: config.onInterruptedTool ?? "pause",
    history: config.history === undefined ? undefined : {
      maxMessages: config.history.maxMessages,
      maxTokens: config.history.maxTokens,
      summarize: config.history.summarize as HistoryWindow["summarize"]
    }
  })
}
