import { context as otelContext } from "@opentelemetry/api"
import { Cause, Clock, Effect, Either, Exit, Option, Schema, Scope, Stream } from "effect"
import type { AgentDefinition, RunOptions } from "../Agent.js"
import { InvalidRunOptions, ModelError, type RecorderError, type RunError } from "../Errors.js"
import { type Json, JsonObject, type Message, type ToolCallRef, type Usage } from "../HookEvent.js"
import * as Ids from "../Ids.js"
import { LanguageModel, type ModelRequest, type ModelResponse, type ToolDefinition } from "../LanguageModel.js"
import { Notifiers } from "../Notifiers.js"
import { Recorder } from "../Recorder.js"
import type { PendingCall, RunResult } from "../RunResult.js"
import { type Bus, makeBus, type Sink } from "./bus.js"
import type { CompiledTool } from "./compiledTool.js"
import { defaultDrainTimeout, startWorkers } from "./dispatch.js"
import { describeError, toJson } from "./json.js"
import { executeTool, type ToolOutcome } from "./toolExecution.js"
import { addUsage, emptyUsage } from "./usage.js"

/** Mutable state of one run segment. */
interface RunState {
  readonly bus: Bus
  readonly agent: AgentDefinition
  readonly history: Array<Message>
  orderIndex: number
  iterations: number
  usage: Usage
  modelCalls: number
  readonly callsPerTool: Map<string, number>
}

const validateOptions = (options: RunOptions): Either.Either<void, InvalidRunOptions> => {
  const bad = (field: string, message: string) => Either.left(new InvalidRunOptions({ field, message }))
  for (const field of ["runId", "tenantId", "parentRunId"] as const) {
    const v = options[field]
    if (v !== undefined && (typeof v !== "string" || v.length === 0 || v.length > 255)) {
      return bad(field, "must be a non-empty string of at most 255 characters")
    }
  }
  if (options.metadata !== undefined) {
    const json = toJson(options.metadata)
    if (Either.isLeft(json)) return bad("metadata", json.left)
    if (Either.isLeft(Schema.decodeUnknownEither(JsonObject)(json.right))) return bad("metadata", "must be a JSON object")
  }
  return Either.right(undefined)
}

/** Runs an agent to a terminal status or a pause; `sink` also receives every event (for `stream`). */
export const runAgent = (
  agent: AgentDefinition,
  input: string,
  options: RunOptions,
  streamSink: Sink | undefined
): Effect.Effect<RunResult, RunError, LanguageModel | Recorder> =>
  Effect.gen(function*() {
    if (typeof input !== "string") return yield* new InvalidRunOptions({ field: "input", message: "must be a string" })
    const valid = validateOptions(options)
    if (Either.isLeft(valid)) return yield* valid.left
    const model = yield* LanguageModel
    const recorder = yield* Recorder
    const hub = yield* Effect.serviceOption(Notifiers)
    const traceContext = options.traceContext ?? otelContext.active()

    const sinks: Array<Sink> = []
    if (Option.isSome(hub)) sinks.push((event, traceContext) => hub.value.offer({ event, traceContext }))
    let release: Effect.Effect<void> = Effect.void
    const perRun = options.notifiers ?? []
    if (perRun.length > 0) {
      if (Option.isSome(hub)) {
        const attached = yield* hub.value.attach(perRun)
        sinks.push((event, traceContext) => attached.offer({ event, traceContext }))
        release = attached.release
      } else {
        // No runtime dispatcher: the run's notifiers get their own scope, drained in the background.
        const scope = yield* Scope.make()
        const workers = yield* startWorkers(perRun, scope, {
          drainTimeout: defaultDrainTimeout,
          stats: Effect.succeed([])
        })
        sinks.push((event, traceContext) =>
          Effect.forEach(workers, (w) => w.offer({ event, traceContext }), { discard: true })
        )
        release = Effect.asVoid(Effect.forkDaemon(Scope.close(scope, Exit.void)))
      }
    }
    if (streamSink !== undefined) sinks.push(streamSink)
    yield* Effect.addFinalizer(() => release)

    const runId = options.runId ?? Ids.make()
    const bus = yield* makeBus({ runId, recorder, sinks, traceContext, startSequence: 0 })
    const state: RunState = {
      bus,
      agent,
      history: [],
      orderIndex: 0,
      iterations: 0,
      usage: emptyUsage,
      modelCalls: 0,
      callsPerTool: new Map()
    }
    const started: Record<string, unknown> = {
      _tag: "RunStarted",
      agentName: agent.name,
      instructions: agent.instructions,
      input,
      model: model.model,
      provider: model.provider,
      delegationLevel: 0,
      tools: agent.tools.map((t) => t.name)
    }
    if (options.tenantId !== undefined) started.tenantId = options.tenantId
    if (options.parentRunId !== undefined) started.parentRunId = options.parentRunId
    if (options.metadata !== undefined) started.metadata = options.metadata
    yield* bus.emit(started as never, 0)
    return yield* runSegment(state, model, streamSink !== undefined, input)
  }).pipe(Effect.scoped, Effect.annotateLogs("agent", agent.name))

/** Drives the loop of one segment and turns every way it can end into a recorded terminal event. */
const runSegment = (
  state: RunState,
  model: LanguageModel["Type"],
  streaming: boolean,
  input: string
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    yield* appendMessage(state, { _tag: "user", content: input }, 0)
    return yield* iterate(state, model, streaming)
  }).pipe(
    Effect.catchAllCause((cause) => {
      // A recorder failure stops the run where it happened: nothing more may be recorded or executed.
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure)) return Effect.fail(failure.value)
      if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
      return finishFailed(state, { tag: "Defect", message: describeError(Cause.squash(cause)) }, "internal")
    }),
    Effect.onInterrupt(() =>
      state.bus.emit(
        { _tag: "RunCancelled", reason: "interrupted", iterations: state.iterations, usage: state.usage },
        state.iterations
      ).pipe(Effect.ignore)
    )
  )

const appendMessage = (state: RunState, message: Message, iteration: number) =>
  Effect.tap(
    state.bus.emit({ _tag: "MessageAppended", orderIndex: state.orderIndex, message }, iteration),
    () =>
      Effect.sync(() => {
        state.orderIndex++
        state.history.push(message)
      })
  )

const finishFailed = (
  state: RunState,
  error: { readonly tag: string; readonly message: string },
  failureReason: "model" | "internal" | "budget" | "guardrail"
): Effect.Effect<RunResult, RecorderError> =>
  Effect.as(
    state.bus.emit(
      { _tag: "RunFailed", error, failureReason, iterations: state.iterations, usage: state.usage },
      state.iterations
    ),
    {
      runId: state.bus.runId,
      status: "error",
      iterations: state.iterations,
      usage: state.usage,
      error: { ...error, failureReason }
    }
  )

const toolDefinitions = (tools: ReadonlyArray<CompiledTool>): ReadonlyArray<ToolDefinition> =>
  tools.map((t) => ({ name: t.name, description: t.description, parameters: t.jsonSchema }))

const iterate = (
  state: RunState,
  model: LanguageModel["Type"],
  streaming: boolean
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    const { agent, bus } = state
    const tools = toolDefinitions(agent.tools)
    while (state.iterations < agent.maxIterations) {
      const iteration = state.iterations + 1
      state.iterations = iteration
      const correlationId = Ids.make()
      yield* bus.emit(
        {
          _tag: "LlmCallStarted",
          correlationId,
          provider: model.provider,
          model: model.model,
          messageCount: state.history.length
        },
        iteration
      )
      const request: ModelRequest = {
        runId: bus.runId,
        iteration,
        system: agent.instructions,
        messages: [...state.history],
        tools,
        reportRetry: (info) =>
          Effect.asVoid(bus.emit({ _tag: "ProviderRetry", correlationId, provider: model.provider, ...info }, iteration))
      }
      const startedAt = yield* Clock.currentTimeMillis
      const outcome = yield* Effect.either(
        streaming ? collectStream(bus, model, request, correlationId) : model.generate(request)
      )
      const durationMs = (yield* Clock.currentTimeMillis) - startedAt
      if (Either.isLeft(outcome)) {
        const error = outcome.left
        if (error._tag === "RecorderError") return yield* error
        const info = { tag: error._tag, message: error.message }
        yield* bus.emit(
          { _tag: "LlmCallFailed", correlationId, provider: model.provider, model: model.model, error: info, durationMs },
          iteration
        )
        return yield* finishFailed(state, info, "model")
      }
      const response = outcome.right
      const toolCalls = yield* normaliseToolCalls(response)
      state.usage = addUsage(state.usage, response.usage, state.modelCalls === 0)
      state.modelCalls++
      const completed: Record<string, unknown> = {
        _tag: "LlmCallCompleted",
        correlationId,
        provider: model.provider,
        model: model.model,
        text: response.text,
        toolCalls,
        finishReason: response.finishReason,
        usage: response.usage,
        durationMs,
        request: { system: agent.instructions, messages: request.messages, tools } as unknown as Json
      }
      if (response.model !== undefined) completed.responseModel = response.model
      if (response.responseId !== undefined) completed.responseId = response.responseId
      if (response.providerRequest !== undefined) completed.providerRequest = response.providerRequest
      if (response.providerResponse !== undefined) completed.providerResponse = response.providerResponse
      if (response.usage.costUsd === undefined) completed.costNote = `${model.provider} reported no cost`
      yield* bus.emit(completed as never, iteration)
      yield* appendMessage(state, { _tag: "assistant", content: response.text, toolCalls }, iteration)

      if (toolCalls.length === 0) {
        return yield* finish(state, "success", response.text)
      }
      const pending = yield* runToolCalls(state, toolCalls, iteration)
      if (pending.length > 0) {
        yield* bus.emit({ _tag: "RunPaused", status: "waiting_client_tool", pendingCalls: pending }, iteration)
        return {
          runId: bus.runId,
          status: "waiting_client_tool",
          iterations: state.iterations,
          usage: state.usage,
          pendingCalls: pending
        } satisfies RunResult
      }
    }
    return yield* finish(state, "max_iterations", undefined)
  })

const finish = (
  state: RunState,
  status: "success" | "max_iterations",
  answer: string | undefined
): Effect.Effect<RunResult, RecorderError> => {
  const fields = { status, iterations: state.iterations, usage: state.usage }
  const withAnswer = answer === undefined ? fields : { ...fields, answer }
  return Effect.as(state.bus.emit({ _tag: "RunCompleted", ...withAnswer }, state.iterations), {
    runId: state.bus.runId,
    ...withAnswer
  })
}

/** Gives each call a kernel id and makes its arguments JSON (a non-JSON argument is a malformed response). */
const normaliseToolCalls = (response: ModelResponse): Effect.Effect<ReadonlyArray<ToolCallRef>> =>
  Effect.sync(() =>
    response.toolCalls.map((call) => {
      const args = toJson(call.arguments)
      return {
        id: Ids.make(),
        providerCallId: call.id,
        name: call.name,
        arguments: Either.isRight(args) ? args.right : String(call.arguments)
      }
    })
  )

/** Consecutive parallel calls form one concurrent group; a non-parallel call is a barrier of its own. */
const groupCalls = (calls: ReadonlyArray<ToolCallRef>, tools: ReadonlyMap<string, CompiledTool>) => {
  const groups: Array<Array<ToolCallRef>> = []
  let current: Array<ToolCallRef> = []
  for (const call of calls) {
    const parallel = tools.get(call.name)?.parallel ?? true
    if (parallel) {
      current.push(call)
    } else {
      if (current.length > 0) groups.push(current)
      groups.push([call])
      current = []
    }
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/** Executes the server calls of a batch, appends results in call order, returns the client calls left pending. */
const runToolCalls = (
  state: RunState,
  calls: ReadonlyArray<ToolCallRef>,
  iteration: number
): Effect.Effect<ReadonlyArray<PendingCall>, RecorderError> =>
  Effect.gen(function*() {
    const byName = new Map(state.agent.tools.map((t) => [t.name, t] as const))
    const pending: Array<PendingCall> = []
    const server: Array<ToolCallRef> = []
    for (const call of calls) {
      if (byName.get(call.name)?.target === "client") {
        pending.push({ ...call, target: "client" })
      } else {
        server.push(call)
      }
    }
    // Over-limit calls are decided up front, in call order, so concurrency cannot change who gets refused.
    const overLimit = new Set<string>()
    for (const call of server) {
      const tool = byName.get(call.name)
      if (tool === undefined) continue
      const used = state.callsPerTool.get(tool.name) ?? 0
      if (tool.maxCallsPerRun !== undefined && used >= tool.maxCallsPerRun) overLimit.add(call.id)
      else state.callsPerTool.set(tool.name, used + 1)
    }
    const outcomes = new Map<string, ToolOutcome>()
    for (const group of groupCalls(server, byName)) {
      yield* Effect.forEach(
        group,
        (call) =>
          Effect.gen(function*() {
            const tool = byName.get(call.name)
            yield* state.bus.emit(toolStarted(call), iteration)
            const outcome = yield* executeTool(tool, call, {
              runId: state.bus.runId,
              iteration,
              overLimit: overLimit.has(call.id)
            })
            outcomes.set(call.id, outcome)
            yield* state.bus.emit(toolCompleted(call, outcome), iteration)
          }),
        { concurrency: group.length > 1 ? "unbounded" : 1, discard: true }
      )
    }
    for (const call of server) {
      const outcome = outcomes.get(call.id)!
      yield* appendMessage(state, toolMessage(call, outcome), iteration)
    }
    return pending
  })

const withProviderId = <A extends object>(fields: A, call: ToolCallRef) =>
  call.providerCallId === undefined ? fields : { ...fields, providerCallId: call.providerCallId }

const toolStarted = (call: ToolCallRef) =>
  withProviderId({
    _tag: "ToolCallStarted" as const,
    correlationId: call.id,
    toolName: call.name,
    target: "server" as const,
    arguments: call.arguments
  }, call)

const toolCompleted = (call: ToolCallRef, outcome: ToolOutcome) =>
  withProviderId({
    _tag: "ToolCallCompleted" as const,
    correlationId: call.id,
    toolName: call.name,
    target: "server" as const,
    success: outcome.success,
    result: outcome.result,
    durationMs: outcome.durationMs,
    ...(outcome.error === undefined ? {} : { error: outcome.error })
  }, call)

/** The tool message the model sees: the JSON result, or `{"error": …}` on failure. */
const toolMessage = (call: ToolCallRef, outcome: ToolOutcome): Message =>
  withProviderId({
    _tag: "tool" as const,
    toolCallId: call.id,
    toolName: call.name,
    content: typeof outcome.result === "string" ? outcome.result : JSON.stringify(outcome.result),
    isError: !outcome.success
  }, call)

/** Streams one model call, passing deltas on; the stream must end with a `Done` part. */
const collectStream = (
  bus: Bus,
  model: LanguageModel["Type"],
  request: ModelRequest,
  correlationId: string
): Effect.Effect<ModelResponse, ModelError | RecorderError> =>
  Effect.gen(function*() {
    let done: ModelResponse | undefined
    yield* Stream.runForEach(model.stream(request), (part) => {
      switch (part._tag) {
        case "TextDelta":
          return bus.delta({ _tag: "TextDelta", iteration: request.iteration, correlationId, delta: part.delta })
        case "ToolCallDelta":
          return bus.delta({
            _tag: "ToolArgumentsDelta",
            iteration: request.iteration,
            correlationId,
            index: part.index,
            delta: part.argumentsDelta,
            ...(part.name === undefined ? {} : { toolName: part.name })
          })
        case "Done":
          return Effect.sync(() => {
            done = part.response
          })
      }
    })
    if (done === undefined) {
      return yield* new ModelError({
        provider: model.provider,
        reason: "malformed",
        message: "the model's stream ended without a final response"
      })
    }
    return done
  })
