/**
 * Agents: a name, instructions and tools, run by the kernel's ReAct loop with native tool calling.
 */
import { Effect, Either, Mailbox, Stream } from "effect"
import { AgentConfigError, type RunError } from "./Errors.js"
import type { Json } from "./HookEvent.js"
import { type CompiledTool, compileTool } from "./internal/compiledTool.js"
import { runAgent } from "./internal/loop.js"
import type { LanguageModel } from "./LanguageModel.js"
import type { Notifier } from "./Notifier.js"
import type { Recorder } from "./Recorder.js"
import type { RunResult } from "./RunResult.js"
import type { StreamEvent } from "./StreamEvent.js"
import type { Tool } from "./Tool.js"

/** Configuration of `Agent.make`. Governance options (deny, approval, budget, guardrails) join it later. */
export interface AgentConfig {
  /** Non-empty; recorded on every run. */
  readonly name: string
  /** The system prompt. */
  readonly instructions: string
  readonly tools?: ReadonlyArray<Tool> | undefined
  /** Model calls per run, 1..200 (default 10). */
  readonly maxIterations?: number | undefined
}

/** Options of one run. */
export interface RunOptions {
  /** Defaults to a new ULID. */
  readonly runId?: string | undefined
  readonly tenantId?: string | undefined
  /** A JSON object stored with the run (filterable by top-level key). */
  readonly metadata?: { readonly [key: string]: Json } | undefined
  /** Notifiers for this run only, in addition to the runtime's. */
  readonly notifiers?: ReadonlyArray<Notifier> | undefined
  readonly parentRunId?: string | undefined
  /** The OpenTelemetry Context notifier spans are parented to; defaults to the one active at run start. */
  readonly traceContext?: unknown
}

/** A validated agent definition. */
export interface AgentDefinition {
  readonly name: string
  readonly instructions: string
  readonly tools: ReadonlyArray<CompiledTool>
  readonly maxIterations: number
}

/** An agent, ready to run. */
export interface Agent extends AgentDefinition {
  /** Runs to a terminal status or a pause; fails only when the record could not be written (or on bad options). */
  readonly run: (input: string, options?: RunOptions) => Effect.Effect<RunResult, RunError, LanguageModel | Recorder>
  /** The same run as a stream of recorded events and deltas, ending after the terminal (or pause) event. */
  readonly stream: (input: string, options?: RunOptions) => Stream.Stream<StreamEvent, RunError, LanguageModel | Recorder>
}

/** The most iterations an agent may be configured with. */
export const MAX_ITERATIONS_CEILING = 200

const validate = (config: AgentConfig): Either.Either<AgentDefinition, AgentConfigError> => {
  const bad = (field: string, message: string) => Either.left(new AgentConfigError({ field, message }))
  if (typeof config.name !== "string" || config.name.trim() === "") return bad("name", "must be a non-empty string")
  if (typeof config.instructions !== "string") return bad("instructions", "must be a string")
  const maxIterations = config.maxIterations ?? 10
  if (!Number.isInteger(maxIterations) || maxIterations < 1 || maxIterations > MAX_ITERATIONS_CEILING) {
    return bad("maxIterations", `must be an integer in 1..${MAX_ITERATIONS_CEILING}, got ${String(config.maxIterations)}`)
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
  return Either.right({ name: config.name, instructions: config.instructions, tools, maxIterations })
}

const fromDefinition = (definition: AgentDefinition): Agent => ({
  ...definition,
  run: (input, options) => runAgent(definition, input, options ?? {}, undefined),
  stream: (input, options) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<StreamEvent, RunError>()
      yield* runAgent(definition, input, options ?? {}, (event) => Effect.asVoid(mailbox.offer(event))).pipe(
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    }))
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
