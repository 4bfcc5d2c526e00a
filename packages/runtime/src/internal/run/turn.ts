/**
 * The ReAct loop: turn after turn (model call, its record, its tool batch) until the model answers without
 * tool calls, the iterations run out, or the run pauses or ends.
 */
import { Effect, Either, Option } from "effect"
import type { ModelError, RecorderError } from "../../Errors.js"
import type { StreamStats, ToolCallRef } from "../../HookEvent.js"
import * as Ids from "../../Ids.js"
import type { ModelRequest, ModelResponse, ToolDefinition } from "../../LanguageModel.js"
import * as Lifecycle from "../../Lifecycle.js"
import type { RunResult } from "../../RunResult.js"
import { budgetStops, checkBudget } from "../budget.js"
import type { AgentDefinition } from "../definition.js"
import type { RunState, ToolOutcome } from "../runState.js"
import { report } from "../sanitize.js"
import { processBatch } from "./batch.js"
import { appendMessage, failedOutcome } from "./events.js"
import { blockedByGuardrail, cancelIfRequested, finish, finishFailed } from "./finish.js"
import { answered, formatOf, systemFor } from "./output.js"
import { checkResponse, payload, priced, readCalls } from "./response.js"
import { collectStream } from "./stream.js"
import { recordCall } from "./toolCall.js"

const toolDefinitions = new WeakMap<AgentDefinition, ReadonlyArray<ToolDefinition>>()

/** The tools as the model sees them (computed once per agent). */
const toolsOf = (agent: AgentDefinition): ReadonlyArray<ToolDefinition> => {
  let tools = toolDefinitions.get(agent)
  if (tools === undefined) {
    tools = agent.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.jsonSchema }))
    toolDefinitions.set(agent, tools)
  }
  return tools
}

/** Calls the model (streamed when the caller streams) and measures how long it took. */
const callModel = (state: RunState, request: ModelRequest, correlationId: string) =>
  Effect.clockWith((clock) => {
    const startedAt = clock.unsafeCurrentTimeMillis()
    state.inFlight++
    let stream: StreamStats | undefined
    return Effect.map(
      Effect.either(
        state.streaming
          ? collectStream(state, request, correlationId, (stats) => (stream = stats))
          : state.model.generate(request)
      ),
      (outcome: Either.Either<ModelResponse, ModelError | RecorderError>) => {
        state.inFlight--
        return { outcome, durationMs: clock.unsafeCurrentTimeMillis() - startedAt, stream }
      }
    )
  })

/** Records `llm.failed` and ends the run in `error` (`failure_reason = 'model'`). */
const modelFailed = (
  state: RunState,
  error: ModelError,
  correlationId: string,
  durationMs: number,
  iteration: number
) =>
  Effect.gen(function*() {
    const info = { tag: error._tag, message: error.message }
    const { model, provider } = state.model
    yield* state.bus.emit({ _tag: "LlmCallFailed", correlationId, provider, model, error: info, durationMs }, iteration)
    return yield* finishFailed(state, info, "model")
  })

/** Tool calls whose arguments were not JSON fail at once, recorded like any failed call. */
const rejectInvalid = (
  state: RunState,
  toolCalls: ReadonlyArray<ToolCallRef>,
  invalid: ReadonlyMap<string, string>,
  iteration: number
): Effect.Effect<Record<string, ToolOutcome>, RecorderError> => {
  const outcomes: Record<string, ToolOutcome> = {}
  if (invalid.size === 0) return Effect.succeed(outcomes)
  const rejected = toolCalls.filter((c) => invalid.has(c.id))
  return Effect.as(
    Effect.forEach(rejected, (call) => {
      const target = state.agent.toolsByName.get(call.name)?.target ?? "server"
      const outcome = Effect.succeed(failedOutcome(invalid.get(call.id)!))
      return Effect.map(recordCall(state, call, target, iteration, outcome), (r) => {
        outcomes[call.id] = r.outcome
      })
    }, { discard: true }),
    outcomes
  )
}

const some = Option.some

/**
 * Records the model's answer; ends the run when a guardrail blocks it, else goes on to its tool calls. (Written
 * as `flatMap` steps, not `Effect.gen`, as every step of a turn is: a generator costs a few µs per turn.)
 */
const recordResponse = (
  state: RunState,
  request: ModelRequest,
  response: ModelResponse,
  correlationId: string,
  durationMs: number,
  stream?: StreamStats
): Effect.Effect<Option.Option<RunResult>, RecorderError> =>
  Effect.suspend(() => {
    const iteration = request.iteration
    const { note, usage } = priced(state, response)
    const { invalid, scanned, toolCalls } = readCalls(state, response)
    const text = scanned.value.text
    state.totals = Lifecycle.addUsage(state.totals, usage ?? Lifecycle.unreportedUsage)
    // Staged: durable at the next commit point (the next model call, tool execution, pause or result).
    const staged = state.bus.stage(
      {
        _tag: "LlmCallCompleted",
        correlationId,
        provider: state.model.provider,
        model: state.model.model,
        text,
        toolCalls,
        finishReason: response.finishReason,
        ...(usage === undefined ? {} : { usage }),
        durationMs,
        request: { system: request.system, messages: request.messages, tools: request.tools },
        ...(response.model === undefined ? {} : { responseModel: response.model }),
        ...(response.responseId === undefined ? {} : { responseId: response.responseId }),
        ...(response.providerRequest === undefined
          ? {}
          : { providerRequest: payload(state, response.providerRequest, false) }),
        ...(response.providerResponse === undefined
          ? {}
          : { providerResponse: payload(state, response.providerResponse, true) }),
        ...(note === undefined ? {} : { costNote: note }),
        ...(stream === undefined ? {} : { stream })
      },
      iteration
    )
    const toolsOrAnswer = (): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
      if (toolCalls.length === 0) return answered(state, text, correlationId, iteration)
      return Effect.flatMap(
        rejectInvalid(state, toolCalls, invalid, iteration),
        (outcomes) => processBatch(state, { iteration, calls: toolCalls, outcomes, approved: false })
      )
    }
    return Effect.flatMap(Effect.zipRight(staged, report(state, scanned, "output", iteration)), () => {
      if (scanned.blocked !== undefined) return Effect.map(blockedByGuardrail(state, scanned.blocked.reason), some)
      return Effect.flatMap(
        Effect.zipRight(
          checkBudget(state, iteration),
          appendMessage(state, { _tag: "assistant", content: text, toolCalls }, iteration)
        ),
        toolsOrAnswer
      )
    })
  })

/** One turn: checks, `llm.started`, the model call, its record and its tool batch. */
const turn = (state: RunState): Effect.Effect<Option.Option<RunResult>, RecorderError> =>
  Effect.flatMap(cancelIfRequested(state), (cancelled) => {
    if (Option.isSome(cancelled)) return Effect.succeed(cancelled)
    if (budgetStops(state)) {
      const error = { tag: "BudgetExceeded", message: "the run's budget is used up (onExceeded: stop)" }
      return Effect.map(finishFailed(state, error, "budget"), some)
    }
    const { bus, model } = state
    const iteration = ++state.iterations
    const correlationId = Ids.make()
    const messageCount = state.history.length
    const started = bus.emit(
      {
        _tag: "LlmCallStarted",
        correlationId,
        provider: model.provider,
        model: model.model,
        messageCount,
        ...(state.output === undefined ? {} : { output: state.output.ref })
      },
      iteration
    )
    return Effect.flatMap(started, () => {
      const request: ModelRequest = {
        runId: bus.runId,
        iteration,
        system: systemFor(state, state.agent.instructions),
        ...(state.output === undefined ? {} : { output: formatOf(state.output) }),
        messages: [...state.history],
        tools: toolsOf(state.agent),
        reportRetry: (info) =>
          Effect.asVoid(
            bus.emit({ _tag: "ProviderRetry", correlationId, provider: model.provider, ...info }, iteration)
          )
      }
      return Effect.flatMap(callModel(state, request, correlationId), ({ durationMs, outcome, stream }) => {
        if (Either.isLeft(outcome)) {
          if (outcome.left._tag === "RecorderError") return Effect.fail(outcome.left)
          return Effect.map(modelFailed(state, outcome.left, correlationId, durationMs, iteration), some)
        }
        const malformed = checkResponse(model.provider, outcome.right)
        if (malformed !== undefined) {
          return Effect.map(modelFailed(state, malformed, correlationId, durationMs, iteration), some)
        }
        return recordResponse(state, request, outcome.right, correlationId, durationMs, stream)
      })
    })
  })

/** The ReAct loop from the current state until the run ends or pauses. */
export const iterate = (state: RunState): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    while (state.iterations < state.agent.maxIterations) {
      const ended = yield* turn(state)
      if (Option.isSome(ended)) return ended.value
    }
    return yield* finish(state, "max_iterations", undefined)
  })
