import { context as otelContext } from "@opentelemetry/api"
import { Cause, Clock, Effect, Either, Exit, Fiber, Option, Schema, Scope, Stream } from "effect"
import { createHash } from "node:crypto"
import type { AgentDefinition, RunOptions } from "../Agent.js"
import {
  IdempotencyConflict,
  InvalidRunOptions,
  ModelError,
  type RecorderError,
  RunAlreadyActive,
  type RunError
} from "../Errors.js"
import { type Json, JsonObject, type Message, type PausedStatus, type ToolCallRef } from "../HookEvent.js"
import * as Ids from "../Ids.js"
import { LanguageModel, type ModelRequest, type ModelResponse, type ToolDefinition } from "../LanguageModel.js"
import { Notifiers } from "../Notifiers.js"
import * as Pricing from "../Pricing.js"
import { Recorder } from "../Recorder.js"
import { RunLedger, type StoredRun, terminalStatuses } from "../RunLedger.js"
import type { PendingCall, RunResult } from "../RunResult.js"
import { budgetStops, checkBudget } from "./budget.js"
import { type Bus, makeBus, type Sink } from "./bus.js"
import type { CompiledTool } from "./compiledTool.js"
import { defaultDrainTimeout, startWorkers } from "./dispatch.js"
import { describeError, toJson } from "./json.js"
import * as Registry from "./registry.js"
import { type Batch, type PauseState, type RunState, type ToolOutcome } from "./runState.js"
import { report, restore, scanValue } from "./sanitize.js"
import { executeTool } from "./toolExecution.js"
import { addUsage, emptyUsage } from "./usage.js"

/** Options only the kernel sets: retries and delegation. */
export interface StartOptions extends RunOptions {
  readonly retryOfRunId?: string | undefined
  readonly delegationLevel?: number | undefined
}

const validateOptions = (options: StartOptions): Either.Either<void, InvalidRunOptions> => {
  const bad = (field: string, message: string) => Either.left(new InvalidRunOptions({ field, message }))
  for (const field of ["runId", "tenantId", "parentRunId", "idempotencyKey"] as const) {
    const v = options[field]
    if (v !== undefined && (typeof v !== "string" || v.length === 0 || v.length > 255)) {
      return bad(field, "must be a non-empty string of at most 255 characters")
    }
  }
  if (options.metadata !== undefined) {
    const json = toJson(options.metadata)
    if (Either.isLeft(json)) return bad("metadata", json.left)
    if (Either.isLeft(Schema.decodeUnknownEither(JsonObject)(json.right))) {
      return bad("metadata", "must be a JSON object")
    }
  }
  return Either.right(undefined)
}

/** Notifier sinks of a segment: the runtime's dispatcher, per-run notifiers, the caller's stream. */
export const makeSinks = (
  options: RunOptions,
  streamSink: Sink | undefined
): Effect.Effect<ReadonlyArray<Sink>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const hub = yield* Effect.serviceOption(Notifiers)
    const sinks: Array<Sink> = []
    if (Option.isSome(hub)) sinks.push((event, traceContext) => hub.value.offer({ event, traceContext }))
    const perRun = options.notifiers ?? []
    if (perRun.length > 0) {
      if (Option.isSome(hub)) {
        const attached = yield* hub.value.attach(perRun)
        sinks.push((event, traceContext) => attached.offer({ event, traceContext }))
        yield* Effect.addFinalizer(() => attached.release)
      } else {
        // No runtime dispatcher: the run's notifiers get their own scope, drained in the background.
        const scope = yield* Scope.make()
        const workers = yield* startWorkers(perRun, scope, {
          drainTimeout: defaultDrainTimeout,
          stats: Effect.succeed([])
        })
        sinks.push((event, traceContext) => Effect.sync(() => workers.forEach((w) => w.offer({ event, traceContext }))))
        yield* Effect.addFinalizer(() => Effect.asVoid(Effect.forkDaemon(Scope.close(scope, Exit.void))))
      }
    }
    if (streamSink !== undefined) sinks.push(streamSink)
    return sinks
  })

/** The fingerprint an idempotency key is bound to: the agent and the input. */
const fingerprint = (agentName: string, input: string) =>
  createHash("sha256").update(JSON.stringify([agentName, input])).digest("hex")

/** The result a stored run stands for. */
export const resultOf = (run: StoredRun): RunResult => ({
  runId: run.runId,
  status: run.status,
  iterations: run.iterations,
  usage: run.usage,
  ...(run.answer === undefined ? {} : { answer: run.answer }),
  ...(run.error === undefined ? {} : { error: run.error })
})

const decideExisting = (
  run: StoredRun,
  key: string,
  agentName: string,
  print: string
): Effect.Effect<RunResult, RunAlreadyActive | IdempotencyConflict> => {
  if (run.agentName !== agentName || run.idempotencyFingerprint !== print) {
    return Effect.fail(
      new IdempotencyConflict({
        idempotencyKey: key,
        runId: run.runId,
        message: `idempotency key '${key}' was used by run ${run.runId} with a different agent or input`
      })
    )
  }
  if (!terminalStatuses.has(run.status)) {
    return Effect.fail(
      new RunAlreadyActive({ runId: run.runId, status: run.status, message: `run ${run.runId} is still ${run.status}` })
    )
  }
  return Effect.succeed(resultOf(run))
}

/** Starts a run and drives it to a terminal status or a pause; `streamSink` also receives every event. */
export const startRun = (
  agent: AgentDefinition,
  input: string,
  options: StartOptions,
  streamSink: Sink | undefined
): Effect.Effect<RunResult, RunError, LanguageModel | Recorder> =>
  Effect.gen(function*() {
    if (typeof input !== "string") return yield* new InvalidRunOptions({ field: "input", message: "must be a string" })
    const valid = validateOptions(options)
    if (Either.isLeft(valid)) return yield* valid.left
    const model = yield* LanguageModel
    const recorder = yield* Recorder
    const ledger = Option.getOrUndefined(yield* Effect.serviceOption(RunLedger))
    const key = options.idempotencyKey
    const print = key === undefined ? undefined : fingerprint(agent.name, input)
    if (key !== undefined) {
      if (ledger === undefined) {
        return yield* new InvalidRunOptions({
          field: "idempotencyKey",
          message: "needs a recorder that can read runs back (a RunLedger: the SQL or memory recorder)"
        })
      }
      const existing = yield* ledger.findByIdempotencyKey(key)
      if (Option.isSome(existing)) return yield* decideExisting(existing.value, key, agent.name, print!)
    }
    const sinks = yield* makeSinks(options, streamSink)
    const runId = options.runId ?? Ids.make()
    const bus = yield* makeBus({
      runId,
      recorder,
      sinks,
      traceContext: options.traceContext ?? otelContext.active(),
      startSequence: 0
    })
    const state: RunState = {
      bus,
      agent,
      model,
      ledger,
      streaming: streamSink !== undefined,
      tenantId: options.tenantId,
      delegationLevel: options.delegationLevel ?? 0,
      history: [],
      orderIndex: 0,
      iterations: 0,
      usage: emptyUsage,
      modelCalls: 0,
      callsPerTool: new Map(),
      budgetFired: new Set(),
      budgetExceeded: false,
      redactions: { byPlaceholder: {}, counters: {} }
    }
    const scannedInput = scanValue(state, input)
    const started = {
      _tag: "RunStarted" as const,
      agentName: agent.name,
      instructions: agent.instructions,
      input: scannedInput.value,
      model: model.model,
      provider: model.provider,
      delegationLevel: state.delegationLevel,
      tools: agent.tools.map((t) => t.name),
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(options.parentRunId === undefined ? {} : { parentRunId: options.parentRunId }),
      ...(options.retryOfRunId === undefined ? {} : { retryOfRunId: options.retryOfRunId }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      ...(key === undefined ? {} : { idempotencyKey: key, idempotencyFingerprint: print! })
    }
    const first = yield* Effect.either(bus.emit(started, 0))
    if (Either.isLeft(first)) {
      // A concurrent start with the same key won the unique index: answer as if it had been found first.
      if (key !== undefined && ledger !== undefined && first.left.reason === "conflict") {
        const winner = yield* ledger.findByIdempotencyKey(key)
        if (Option.isSome(winner)) return yield* decideExisting(winner.value, key, agent.name, print!)
      }
      return yield* first.left
    }
    return yield* runSegment(
      state,
      Effect.gen(function*() {
        yield* report(state, scannedInput, "input", 0)
        if (scannedInput.blocked !== undefined) return yield* blockedByGuardrail(state, scannedInput.blocked.reason)
        yield* appendMessage(state, { _tag: "user", content: scannedInput.value }, 0)
        return yield* iterate(state)
      })
    )
  }).pipe(Effect.scoped, Effect.annotateLogs("agent", agent.name))

/**
 * Runs one segment's body in a child fiber registered for in-process cancellation, and turns every way it
 * can end into a recorded terminal event, except a recorder failure, which stops the run where it happened.
 */
export const runSegment = (
  state: RunState,
  body: Effect.Effect<RunResult, RecorderError>
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    const runId = state.bus.runId
    const guarded = body.pipe(
      Effect.catchAllCause((cause) => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) return Effect.fail(failure.value)
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
        return finishFailed(state, { tag: "Defect", message: describeError(Cause.squash(cause)) }, "internal")
      }),
      Effect.onInterrupt(() =>
        recordCancelled(state, Registry.cancelRequested(runId) ? "cancel_requested" : "interrupted").pipe(Effect.ignore)
      )
    )
    const child = yield* Effect.fork(guarded)
    Registry.register(runId, child)
    let cancelled = false
    const exit = yield* Fiber.await(child).pipe(
      Effect.tap(() => Effect.sync(() => (cancelled = Registry.cancelRequested(runId)))),
      Effect.ensuring(Effect.sync(() => Registry.unregister(runId, child)))
    )
    if (Exit.isSuccess(exit)) return exit.value
    if (Cause.isInterruptedOnly(exit.cause) && cancelled) return cancelledResult(state)
    return yield* Effect.failCause(exit.cause)
  })

const cancelledResult = (state: RunState): RunResult => ({
  runId: state.bus.runId,
  status: "cancelled",
  iterations: state.iterations,
  usage: state.usage
})

const recordCancelled = (state: RunState, reason: string) =>
  state.bus.emit({ _tag: "RunCancelled", reason, iterations: state.iterations, usage: state.usage }, state.iterations)

/** Ends the run `cancelled` if someone asked for it (checked before each model call, tool batch and pause). */
const cancelIfRequested = (state: RunState): Effect.Effect<Option.Option<RunResult>, RecorderError> =>
  Effect.gen(function*() {
    if (state.ledger === undefined) return Option.none()
    if (!(yield* state.ledger.isCancelRequested(state.bus.runId))) return Option.none()
    yield* recordCancelled(state, "cancel_requested")
    return Option.some(cancelledResult(state))
  })

/** Appends a message to the history (as the model sees it) and records it. */
export const appendMessage = (state: RunState, message: Message, iteration: number) =>
  Effect.tap(
    state.bus.emit({ _tag: "MessageAppended", orderIndex: state.orderIndex, message }, iteration),
    () =>
      Effect.sync(() => {
        state.orderIndex++
        state.history.push(message)
      })
  )

/** Records `run.failed` and returns the error result. */
export const finishFailed = (
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

const blockedByGuardrail = (state: RunState, reason: string) =>
  finishFailed(state, { tag: "GuardrailBlocked", message: reason }, "guardrail")

const toolDefinitions = (tools: ReadonlyArray<CompiledTool>): ReadonlyArray<ToolDefinition> =>
  tools.map((t) => ({ name: t.name, description: t.description, parameters: t.jsonSchema }))

/** Prices a response from the agent's table when the provider reported no cost. */
const priced = (state: RunState, response: ModelResponse): { usage: ModelResponse["usage"]; note?: string } => {
  if (response.usage.costUsd !== undefined) return { usage: response.usage }
  const cost = Pricing.costOf(
    state.agent.prices,
    state.model.provider,
    response.model ?? state.model.model,
    response.usage
  )
  return "costUsd" in cost
    ? { usage: { ...response.usage, costUsd: cost.costUsd } }
    : { usage: response.usage, note: cost.note }
}

/** The ReAct loop from the current state until the run ends or pauses. */
export const iterate = (state: RunState): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    const { agent, bus, model } = state
    const tools = toolDefinitions(agent.tools)
    while (state.iterations < agent.maxIterations) {
      const cancelled = yield* cancelIfRequested(state)
      if (Option.isSome(cancelled)) return cancelled.value
      if (budgetStops(state)) {
        return yield* finishFailed(
          state,
          { tag: "BudgetExceeded", message: "the run's budget is used up (onExceeded: stop)" },
          "budget"
        )
      }
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
          Effect.asVoid(
            bus.emit({ _tag: "ProviderRetry", correlationId, provider: model.provider, ...info }, iteration)
          )
      }
      const startedAt = yield* Clock.currentTimeMillis
      const outcome = yield* Effect.either(
        state.streaming ? collectStream(bus, model, request, correlationId) : model.generate(request)
      )
      const durationMs = (yield* Clock.currentTimeMillis) - startedAt
      if (Either.isLeft(outcome)) {
        const error = outcome.left
        if (error._tag === "RecorderError") return yield* error
        const info = { tag: error._tag, message: error.message }
        yield* bus.emit(
          {
            _tag: "LlmCallFailed",
            correlationId,
            provider: model.provider,
            model: model.model,
            error: info,
            durationMs
          },
          iteration
        )
        return yield* finishFailed(state, info, "model")
      }
      const response = outcome.right
      const { note, usage } = priced(state, response)
      const scanned = scanValue(state, {
        text: response.text,
        calls: response.toolCalls.map((c) => {
          const args = toJson(c.arguments)
          return Either.isRight(args) ? args.right : String(c.arguments)
        })
      })
      const toolCalls: ReadonlyArray<ToolCallRef> = response.toolCalls.map((call, i) => ({
        id: Ids.make(),
        providerCallId: call.id,
        name: call.name,
        arguments: scanned.value.calls[i]!
      }))
      const text = scanned.value.text
      state.usage = addUsage(state.usage, usage, state.modelCalls === 0)
      state.modelCalls++
      const providerResponse = response.providerResponse === undefined
        ? undefined
        : scanValue(state, response.providerResponse).value
      yield* bus.emit(
        {
          _tag: "LlmCallCompleted",
          correlationId,
          provider: model.provider,
          model: model.model,
          text,
          toolCalls,
          finishReason: response.finishReason,
          usage,
          durationMs,
          request: { system: agent.instructions, messages: request.messages, tools } as unknown as Json,
          ...(response.model === undefined ? {} : { responseModel: response.model }),
          ...(response.responseId === undefined ? {} : { responseId: response.responseId }),
          ...(response.providerRequest === undefined ? {} : { providerRequest: response.providerRequest }),
          ...(providerResponse === undefined ? {} : { providerResponse }),
          ...(note === undefined ? {} : { costNote: note })
        },
        iteration
      )
      yield* report(state, scanned, "output", iteration)
      if (scanned.blocked !== undefined) return yield* blockedByGuardrail(state, scanned.blocked.reason)
      yield* checkBudget(state, iteration)
      yield* appendMessage(state, { _tag: "assistant", content: text, toolCalls }, iteration)
      if (toolCalls.length === 0) return yield* finish(state, "success", text)
      const ended = yield* processBatch(state, { iteration, calls: toolCalls, outcomes: {}, approved: false })
      if (Option.isSome(ended)) return ended.value
    }
    return yield* finish(state, "max_iterations", undefined)
  })

const finish = (
  state: RunState,
  status: "success" | "max_iterations",
  answer: string | undefined
): Effect.Effect<RunResult, RecorderError> => {
  const fields = { status, iterations: state.iterations, usage: state.usage }
  return Effect.as(
    state.bus.emit({ _tag: "RunCompleted", ...fields, ...(answer === undefined ? {} : { answer }) }, state.iterations),
    // The caller gets real values back in place of placeholders; the record keeps the placeholders.
    { runId: state.bus.runId, ...fields, ...(answer === undefined ? {} : { answer: restore(state, answer) }) }
  )
}

/** Consecutive parallel calls form one concurrent group; a non-parallel call is a barrier of its own. */
const groupCalls = (calls: ReadonlyArray<ToolCallRef>, tools: ReadonlyMap<string, CompiledTool>) => {
  const groups: Array<Array<ToolCallRef>> = []
  let current: Array<ToolCallRef> = []
  for (const call of calls) {
    if (tools.get(call.name)?.parallel ?? true) {
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

const failed = (message: string): ToolOutcome => ({
  success: false,
  result: { error: message },
  error: message,
  durationMs: 0
})

/**
 * Decides a batch of tool calls: deny, approval, server execution, client calls. Returns the segment's
 * result when the run paused or ended, or nothing when every call has an outcome and the tool messages
 * were appended in call order.
 */
export const processBatch = (state: RunState, batch: Batch): Effect.Effect<Option.Option<RunResult>, RecorderError> =>
  Effect.gen(function*() {
    const { agent, bus } = state
    const { iteration } = batch
    const outcomes: Record<string, ToolOutcome> = { ...batch.outcomes }
    const current = () => ({ ...batch, outcomes })
    const byName = new Map(agent.tools.map((t) => [t.name, t] as const))
    const undecided = () => batch.calls.filter((c) => outcomes[c.id] === undefined)

    for (const call of undecided()) {
      if (agent.deny.has(call.name)) {
        yield* bus.emit({
          _tag: "PolicyDenied",
          correlationId: call.id,
          toolName: call.name,
          reason: "denied_by_policy"
        }, iteration)
        outcomes[call.id] = failed(`Tool '${call.name}' is denied by policy.`)
      }
    }
    if (!batch.approved) {
      const gated = undecided().filter((c) => agent.requireApproval.has(c.name))
      if (gated.length > 0) {
        for (const call of gated) {
          yield* bus.emit(
            { _tag: "ApprovalRequested", correlationId: call.id, toolName: call.name, arguments: call.arguments },
            iteration
          )
        }
        return Option.some(yield* pause(state, "waiting_approval", current(), undecided(), undefined))
      }
    }
    const server = undecided().filter((c) => byName.get(c.name)?.target !== "client")
    if (server.length > 0) {
      const cancelled = yield* cancelIfRequested(state)
      if (Option.isSome(cancelled)) return cancelled
    }
    // Over-limit calls are decided up front, in call order, so concurrency cannot change who is refused.
    const overLimit = new Set<string>()
    for (const call of server) {
      const tool = byName.get(call.name)
      if (tool === undefined) continue
      const used = state.callsPerTool.get(tool.name) ?? 0
      if (tool.maxCallsPerRun !== undefined && used >= tool.maxCallsPerRun) overLimit.add(call.id)
      else state.callsPerTool.set(tool.name, used + 1)
    }
    let blocked: string | undefined
    for (const group of groupCalls(server, byName)) {
      yield* Effect.forEach(
        group,
        (call) =>
          Effect.gen(function*() {
            yield* bus.emit(toolStarted(call, "server"), iteration)
            const raw = yield* executeTool(byName.get(call.name), {
              ...call,
              arguments: restore(state, call.arguments)
            }, {
              runId: bus.runId,
              iteration,
              overLimit: overLimit.has(call.id),
              delegationLevel: state.delegationLevel,
              tenantId: state.tenantId
            })
            const outcome = yield* sanitizeOutcome(state, raw, iteration)
            if (outcome.blocked !== undefined) blocked ??= outcome.blocked
            outcomes[call.id] = outcome.outcome
            yield* bus.emit(toolCompleted(call, "server", outcome.outcome), iteration)
          }),
        { concurrency: group.length > 1 ? "unbounded" : 1, discard: true }
      )
      if (blocked !== undefined) return Option.some(yield* blockedByGuardrail(state, blocked))
    }
    const client = undecided()
    if (client.length > 0) {
      const human = client.length === 1 && byName.get(client[0]!.name)?.kind === "human"
      const args = client[0]!.arguments as { readonly question?: unknown }
      const prompt = human && typeof args?.question === "string" ? args.question : undefined
      return Option.some(
        yield* pause(state, human ? "waiting_human_input" : "waiting_client_tool", current(), client, prompt)
      )
    }
    for (const call of batch.calls) yield* appendMessage(state, toolMessage(call, outcomes[call.id]!), iteration)
    return Option.none()
  })

/** Scans a tool's outcome before it is recorded or shown to the model; reports what was found. */
export const sanitizeOutcome = (state: RunState, outcome: ToolOutcome, iteration: number) =>
  Effect.gen(function*() {
    const scanned = scanValue(state, { result: outcome.result, error: outcome.error ?? null })
    yield* report(state, scanned, "input", iteration)
    const error = scanned.value.error
    const clean: ToolOutcome = {
      success: outcome.success,
      result: scanned.value.result,
      durationMs: outcome.durationMs,
      ...(typeof error === "string" ? { error } : {})
    }
    return { outcome: clean, blocked: scanned.blocked?.reason }
  })

/** Records `run.paused` with the execution state a resume needs. */
const pause = (
  state: RunState,
  status: PausedStatus,
  batch: Batch,
  pending: ReadonlyArray<ToolCallRef>,
  prompt: string | undefined
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    const cancelled = yield* cancelIfRequested(state)
    if (Option.isSome(cancelled)) return cancelled.value
    const byName = new Map(state.agent.tools.map((t) => [t.name, t] as const))
    const pendingCalls: ReadonlyArray<PendingCall> = pending.map((c) => ({
      id: c.id,
      ...(c.providerCallId === undefined ? {} : { providerCallId: c.providerCallId }),
      name: c.name,
      arguments: c.arguments,
      target: byName.get(c.name)?.target ?? "server"
    }))
    const saved: PauseState = {
      version: 1,
      agentName: state.agent.name,
      status,
      iteration: state.iterations,
      orderIndex: state.orderIndex,
      history: state.history,
      usage: state.usage,
      modelCalls: state.modelCalls,
      callsPerTool: Object.fromEntries(state.callsPerTool),
      budgetFired: [...state.budgetFired],
      budgetExceeded: state.budgetExceeded,
      redactions: state.redactions,
      delegationLevel: state.delegationLevel,
      ...(state.tenantId === undefined ? {} : { tenantId: state.tenantId }),
      batch,
      pending: pending.map((c) => c.id)
    }
    yield* state.bus.emit(
      {
        _tag: "RunPaused",
        status,
        pendingCalls,
        state: saved as unknown as Json,
        ...(prompt === undefined ? {} : { prompt })
      },
      state.iterations
    )
    return {
      runId: state.bus.runId,
      status,
      iterations: state.iterations,
      usage: state.usage,
      // The caller executes client calls: it gets real values in place of placeholders.
      pendingCalls: pendingCalls.map((c) => ({ ...c, arguments: restore(state, c.arguments) }))
    }
  })

const withProviderId = <A extends object>(fields: A, call: ToolCallRef) =>
  call.providerCallId === undefined ? fields : { ...fields, providerCallId: call.providerCallId }

/** The `tool.started` event of a call. */
export const toolStarted = (call: ToolCallRef, target: "server" | "client") =>
  withProviderId({
    _tag: "ToolCallStarted" as const,
    correlationId: call.id,
    toolName: call.name,
    target,
    arguments: call.arguments
  }, call)

/** The `tool.completed` event of a call. */
export const toolCompleted = (call: ToolCallRef, target: "server" | "client", outcome: ToolOutcome) =>
  withProviderId({
    _tag: "ToolCallCompleted" as const,
    correlationId: call.id,
    toolName: call.name,
    target,
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
