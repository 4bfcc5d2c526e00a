/**
 * The traced run: a native hook bus (`HookBus.open`) plus the little state a run's terminal event needs
 * (iterations, usage totals, whether it ended, the write that broke it). Every call becomes hook events
 * on that bus, so ordering, durability and notifier delivery are exactly a native run's.
 */
import {
  HookBus,
  HookEvent,
  Ids,
  type InvalidRunOptions,
  Lifecycle,
  type Recorder,
  type RecorderError,
  type Redaction
} from "@sextant/runtime"
import { Cause, Clock, Effect, Either, Exit, FiberRef, Option, ParseResult, Schema } from "effect"
import { TraceError } from "../Errors.js"
import type * as Trace from "../Trace.js"
import * as Ref from "./current.js"
import * as Deferred from "./deferred.js"
import { errorInfo, toJson } from "./json.js"
import * as Sampling from "./sampling.js"

/** The mutable state of one traced run. */
interface State {
  ended: boolean
  broken: RecorderError | undefined
  iterations: number
  orderIndex: number
  totals: Lifecycle.Totals
}

const decodeUsage = Schema.decodeUnknownEither(HookEvent.Usage)

/** The run active in this fiber, if any. */
export const current: Effect.Effect<Option.Option<Trace.TraceRun>> = Effect.map(
  FiberRef.get(Ref.currentRun),
  Option.fromNullable
)

const invalid = (runId: string, field: string, message: string) =>
  new TraceError({ runId, reason: "invalid", field, message: `${field}: ${message}` })

const inputText = (input: unknown): string =>
  input === undefined ? "" : typeof input === "string" ? input : JSON.stringify(toJson(input))

const messageCountOf = (request: unknown): number => {
  const messages = (request as { readonly messages?: unknown } | null | undefined)?.messages
  return Array.isArray(messages) ? messages.length : 0
}

const eventType = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/

/** Makes the run's handle over its bus. */
const makeHandle = (
  bus: HookBus.HookBus,
  state: State,
  meta: Pick<Trace.TraceRun, "parentRunId" | "delegationLevel" | "tenantId">
): Trace.TraceRun => {
  const runId = bus.runId
  const emit = (input: HookBus.HookEventInput, iteration = state.iterations, terminal = false) =>
    Effect.suspend((): Effect.Effect<void, Trace.TraceFailure> => {
      if (state.broken !== undefined) return Effect.fail(state.broken)
      if (state.ended) {
        return Effect.fail(
          new TraceError({
            runId,
            reason: "ended",
            message: `run ${runId} already ended: ${HookEvent.EventTypes[input._tag]} was not recorded`
          })
        )
      }
      if (terminal) state.ended = true
      return bus.emit(input, iteration).pipe(
        Effect.asVoid,
        Effect.tapError((error) => Effect.sync(() => (state.broken = error)))
      )
    })

  const appendMessage = (message: HookEvent.Message, iteration = state.iterations) =>
    Effect.suspend(() => emit({ _tag: "MessageAppended", orderIndex: state.orderIndex++, message }, iteration))

  const usageOf = (usage: unknown): Either.Either<HookEvent.Usage | undefined, TraceError> => {
    if (usage === undefined) return Either.right(undefined)
    return Either.mapLeft(decodeUsage(usage), (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const path = issue === undefined ? "" : issue.path.map(String).join(".")
      return invalid(runId, path === "" ? "usage" : `usage.${path}`, issue?.message ?? "not a usage object")
    })
  }

  const startLlm = (start: Trace.LlmStart): Effect.Effect<Trace.LlmSpan, Trace.TraceFailure> =>
    Effect.gen(function*() {
      if (typeof start.model !== "string" || start.model === "") {
        return yield* invalid(runId, "model", "a model call needs its model name")
      }
      if (typeof start.provider !== "string" || start.provider === "") {
        return yield* invalid(runId, "provider", "a model call needs its provider")
      }
      const startedAt = start.startedAt ?? (yield* Clock.currentTimeMillis)
      const correlationId = Ids.make()
      const iteration = ++state.iterations
      const { model, provider } = start
      yield* emit({
        _tag: "LlmCallStarted",
        correlationId,
        provider,
        model,
        messageCount: start.messageCount ?? messageCountOf(start.request)
      }, iteration)
      const durationOf = (endedAt: number | undefined) =>
        Effect.map(Clock.currentTimeMillis, (now) => Math.max(0, (endedAt ?? now) - startedAt))
      let done = false
      const once = (what: string) =>
        Effect.suspend(() => {
          if (!done) {
            done = true
            return Effect.void
          }
          return Effect.fail(invalid(runId, "llm", `model call ${correlationId} was already ${what}`))
        })
      const end = (result: Trace.LlmEnd = {}) =>
        Effect.gen(function*() {
          const usage = usageOf(result.usage)
          if (Either.isLeft(usage)) return yield* usage.left
          yield* once("ended")
          const toolCalls = (result.toolCalls ?? []).map((call): HookEvent.ToolCallRef => ({
            id: call.id ?? Ids.make(),
            ...(call.providerCallId === undefined ? {} : { providerCallId: call.providerCallId }),
            name: call.name,
            arguments: toJson(call.arguments)
          }))
          const text = result.text ?? ""
          yield* emit({
            _tag: "LlmCallCompleted",
            correlationId,
            provider,
            model,
            ...(result.responseModel === undefined ? {} : { responseModel: result.responseModel }),
            ...(result.responseId === undefined ? {} : { responseId: result.responseId }),
            text,
            toolCalls,
            finishReason: result.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
            ...(usage.right === undefined ? {} : { usage: usage.right }),
            durationMs: yield* durationOf(result.endedAt),
            request: toJson(start.request ?? null),
            ...(result.providerRequest === undefined ? {} : { providerRequest: toJson(result.providerRequest) }),
            ...(result.response === undefined ? {} : { providerResponse: toJson(result.response) })
          }, iteration)
          state.totals = Lifecycle.addUsage(state.totals, usage.right ?? Lifecycle.unreportedUsage)
          yield* appendMessage({ _tag: "assistant", content: text, toolCalls }, iteration)
        })
      const fail = (error: unknown, options?: { readonly endedAt?: number | undefined }) =>
        Effect.gen(function*() {
          yield* once("ended")
          yield* emit({
            _tag: "LlmCallFailed",
            correlationId,
            provider,
            model,
            error: errorInfo(error),
            durationMs: yield* durationOf(options?.endedAt)
          }, iteration)
        })
      return { correlationId, end, fail }
    })

  const toolStart = (
    name: string,
    args: unknown,
    options?: Trace.ToolOptions
  ): Effect.Effect<Trace.ToolSpan, Trace.TraceFailure> =>
    Effect.gen(function*() {
      if (typeof name !== "string" || name === "") {
        return yield* invalid(runId, "name", "a tool call needs its tool name")
      }
      const correlationId = options?.callId ?? Ids.make()
      const providerCallId = options?.providerCallId
      const ids = { correlationId, ...(providerCallId === undefined ? {} : { providerCallId }) }
      const iteration = state.iterations
      yield* emit({ _tag: "ToolCallStarted", ...ids, toolName: name, target: "server", arguments: toJson(args) })
      const startedAt = yield* Clock.currentTimeMillis
      let done = false
      const complete = (failure: string | undefined, value: unknown) =>
        Effect.gen(function*() {
          if (done) return yield* invalid(runId, "tool", `tool call ${correlationId} was already ended`)
          done = true
          const durationMs = Math.max(0, (yield* Clock.currentTimeMillis) - startedAt)
          const result = failure === undefined ? toJson(value) : { error: failure }
          yield* emit({
            _tag: "ToolCallCompleted",
            ...ids,
            toolName: name,
            target: "server",
            success: failure === undefined,
            result,
            ...(failure === undefined ? {} : { error: failure }),
            durationMs
          }, iteration)
          yield* appendMessage({
            _tag: "tool",
            toolCallId: correlationId,
            ...(providerCallId === undefined ? {} : { providerCallId }),
            toolName: name,
            content: JSON.stringify(result),
            isError: failure !== undefined
          }, iteration)
        })
      return {
        correlationId,
        end: (value?: unknown) => complete(undefined, value),
        fail: (error: unknown) => complete(errorInfo(error).message, undefined)
      }
    })

  const tool = <A, E, R>(
    name: string,
    args: unknown,
    body: Effect.Effect<A, E, R>,
    options?: Trace.ToolOptions
  ): Effect.Effect<A, E | Trace.TraceFailure, R> =>
    Effect.gen(function*() {
      const span = yield* toolStart(name, args, options)
      const exit = yield* Effect.exit(body)
      yield* Exit.isSuccess(exit) ? span.end(exit.value) : span.fail(Cause.squash(exit.cause))
      return yield* exit
    })

  const memory = (operation: "read" | "write") => (key: string, value: unknown, options?: Trace.MemoryOptions) =>
    Effect.suspend(() => {
      if (typeof key !== "string" || key === "") {
        return Effect.fail(invalid(runId, "key", "a memory access needs a key"))
      }
      return emit({
        _tag: "MemoryAccessed",
        operation,
        ...(options?.store === undefined ? {} : { store: options.store }),
        key,
        ...(value === undefined ? {} : { value: toJson(value) }),
        ...(operation === "read" ? { found: value !== undefined } : {})
      })
    })

  const customName = (type: string): Either.Either<`custom.${string}`, TraceError> => {
    const bare = typeof type === "string" && type.startsWith("custom.") ? type.slice("custom.".length) : type
    if (typeof bare !== "string" || !eventType.test(bare)) {
      return Either.left(
        invalid(runId, "type", "an event type is letters, digits, `_`, `.`, `:` or `-` (e.g. order.placed)")
      )
    }
    if (bare === "sextant" || bare.startsWith("sextant.")) {
      return Either.left(invalid(runId, "type", "`sextant.*` event types are reserved for the tracer's own records"))
    }
    return Either.right(`custom.${bare}` as const)
  }

  const stream = (name: string): Effect.Effect<Trace.TraceStream, Trace.TraceFailure> =>
    Effect.suspend(() => {
      if (typeof name !== "string" || name === "") return Effect.fail(invalid(runId, "name", "a stream needs a name"))
      const correlationId = Ids.make()
      let chunks = 0
      let characters = 0
      return Effect.succeed({
        correlationId,
        chunk: (data: unknown) =>
          Effect.suspend(() => {
            const delta = typeof data === "string" ? data : JSON.stringify(toJson(data))
            const sequence = chunks++
            characters += delta.length
            return bus.delta({ _tag: "TextDelta", iteration: state.iterations, correlationId, sequence, delta })
          }),
        end: Effect.suspend(() =>
          emit({
            _tag: "CustomEvent",
            correlationId,
            name: "custom.sextant.stream",
            data: { stream: name, chunks, characters }
          })
        )
      })
    })

  return {
    runId,
    ...meta,
    sampled: true,
    llm: (call) =>
      Either.match(usageOf(call.usage), {
        onLeft: Effect.fail,
        onRight: () => Effect.flatMap(startLlm(call), (span) => span.end(call))
      }),
    llmStart: startLlm,
    tool,
    toolStart,
    memoryRead: memory("read"),
    memoryWrite: memory("write"),
    event: (type, data) =>
      Either.match(customName(type), {
        onLeft: Effect.fail,
        onRight: (name) => emit({ _tag: "CustomEvent", name, data: toJson(data ?? null) })
      }),
    stream,
    final: (answer, options) =>
      Effect.suspend(() =>
        emit(
          {
            _tag: "RunCompleted",
            status: "success",
            ...(answer === undefined ? {} : { answer }),
            ...(options?.output === undefined ? {} : { output: toJson(options.output) }),
            iterations: state.iterations,
            usage: state.totals.usage
          },
          state.iterations,
          true
        )
      ),
    fail: (error) =>
      Effect.suspend(() =>
        emit(
          {
            _tag: "RunFailed",
            error: errorInfo(error),
            failureReason: "internal",
            iterations: state.iterations,
            usage: state.totals.usage
          },
          state.iterations,
          true
        )
      )
  }
}

/** The deferred tree (`onlyOnError`) each held run belongs to. */
const deferrals = new WeakMap<Trace.TraceRun, Deferred.Deferral>()
/** The redaction policy of a run, inherited by its children. */
const policies = new WeakMap<Trace.TraceRun, Redaction.Config>()

/** Traces `body` as a run; `parent` (the Promise API's active run) overrides the fiber's. */
export const run = <A, E, R>(
  name: string,
  options: Trace.RunOptions,
  body: (run: Trace.TraceRun) => Effect.Effect<A, E, R>,
  parent: Trace.TraceRun | undefined
): Effect.Effect<A, E | Trace.TraceFailure | InvalidRunOptions, R | Recorder> =>
  Effect.scoped(Effect.gen(function*() {
    const runId = options.runId ?? Ids.make()
    if (typeof name !== "string" || name === "") return yield* invalid(runId, "name", "a traced run needs a name")
    const active = parent ?? (yield* FiberRef.get(Ref.currentRun))
    const parentRunId = options.parentRunId ?? active?.runId
    const delegationLevel = options.delegationLevel ??
      (active !== undefined && options.parentRunId === undefined
        ? active.delegationLevel + 1
        : parentRunId === undefined
        ? 0
        : 1)
    const tenantId = options.tenantId ?? active?.tenantId
    const decision = Sampling.decide(options, { runId, name, tenantId }, active)
    if (decision === "skip") {
      const handle = Sampling.unsampled(runId, { parentRunId, delegationLevel, tenantId })
      return yield* Effect.locally(body(handle), Ref.currentRun, handle)
    }
    // A child of a deferred tree joins it; a top-level run decided `onError` starts one.
    const inherited = active === undefined ? undefined : deferrals.get(active)
    let deferral: Deferred.Deferral | undefined = inherited
    if (deferral === undefined && decision === "onError") deferral = yield* Deferred.make
    const redaction = options.redaction ?? (active === undefined ? undefined : policies.get(active))
    const bus = deferral === undefined
      ? yield* HookBus.open({ runId, notifiers: options.notifiers, redaction })
      : yield* Deferred.bus(deferral, runId, options.notifiers, inherited === undefined, redaction)
    const state: State = {
      ended: false,
      broken: undefined,
      iterations: 0,
      orderIndex: 0,
      totals: Lifecycle.emptyTotals
    }
    const handle = makeHandle(bus, state, { parentRunId, delegationLevel, tenantId })
    if (deferral !== undefined) deferrals.set(handle, deferral)
    if (redaction !== undefined) policies.set(handle, redaction)
    const input = inputText(options.input)
    yield* bus.emit({
      _tag: "RunStarted",
      agentName: name,
      instructions: options.instructions ?? "",
      input,
      ...(options.model === undefined ? {} : { model: options.model }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      ...(tenantId === undefined ? {} : { tenantId }),
      ...(parentRunId === undefined ? {} : { parentRunId }),
      delegationLevel,
      ...(options.metadata === undefined
        ? {}
        : { metadata: toJson(options.metadata) as typeof HookEvent.JsonObject.Type }),
      tools: [...(options.tools ?? [])]
    }, 0)
    if (options.input !== undefined) {
      yield* bus.emit({
        _tag: "MessageAppended",
        orderIndex: state.orderIndex++,
        message: { _tag: "user", content: input }
      }, 0)
    }
    const cancelled = Effect.suspend(() =>
      state.ended || state.broken !== undefined ? Effect.void : Effect.ignore(bus.emit({
        _tag: "RunCancelled",
        reason: "interrupted",
        iterations: state.iterations,
        usage: state.totals.usage
      }, state.iterations))
    )
    const exit = yield* body(handle).pipe(
      Effect.locally(Ref.currentRun, handle),
      Effect.onInterrupt(() => cancelled),
      Effect.exit
    )
    if (Exit.isSuccess(exit)) {
      if (!state.ended) yield* handle.final(typeof exit.value === "string" ? exit.value : undefined)
      return exit.value
    }
    // A run broken by a failed write stops there (fail-closed): nothing more is attempted.
    if (!state.ended && state.broken === undefined && !Cause.isInterruptedOnly(exit.cause)) {
      yield* handle.fail(Cause.squash(exit.cause))
    }
    return yield* exit
  }))
