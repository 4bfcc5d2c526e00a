/**
 * Continuing a `running` run from its record in another process (fleet mode: its runner was lost, or it was
 * only queued). The execution state is rebuilt from the recorded events: the history from `message.appended`,
 * the totals from `llm.completed`, the tool budget from `tool.started`, the budget warnings already fired. The
 * run then goes on from its last completed step: a model call without `llm.completed` is recorded `llm.failed`
 * (abandoned) and made again; a tool call without `tool.completed` executes again only when its tool is
 * `idempotent`, otherwise the run pauses for a person (or fails, per the agent's `onInterruptedTool`).
 */
import { context as otelContext } from "@opentelemetry/api"
import { Effect, Option } from "effect"
import type { RecoverOptions } from "../../Agent.js"
import { type AgentMismatch, RecorderError, type RunError, type RunNotFound } from "../../Errors.js"
import { emptyRedactions } from "../../Guardrails.js"
import type { HookEvent, Json, Message, ToolCallRef } from "../../HookEvent.js"
import type { LanguageModel } from "../../LanguageModel.js"
import * as Lifecycle from "../../Lifecycle.js"
import type { Recorder } from "../../Recorder.js"
import type { RunLedger, StoredRun } from "../../RunLedger.js"
import type { RunResult } from "../../RunResult.js"
import { makeBus } from "../bus.js"
import type { AgentDefinition } from "../definition.js"
import { checkAgent, findRun } from "../lookup.js"
import { forCaller, policyFor, type StateCell } from "../privacy.js"
import { makeStoragePass } from "../redaction/policy.js"
import { type Batch, fresh, type RunState, type ToolOutcome } from "../runState.js"
import * as Services from "../services.js"
import { checkRunNotifiers, segmentSinks } from "../sinks.js"
import { processBatch } from "./batch.js"
import { appendMessage, failedOutcome } from "./events.js"
import { finishFailed } from "./finish.js"
import { answered, resolveOutput } from "./output.js"
import { pause } from "./pause.js"
import { runSegment } from "./segment.js"
import { threadHistory } from "./thread.js"
import { iterate } from "./turn.js"

/** The prompt of a run paused because a non-idempotent tool call was in flight when its runner was lost. */
export const INTERRUPTED_PROMPT = "interrupted during a non-idempotent tool call"

/** The custom event a recovered segment opens with: what was abandoned and what was decided. */
export const RECOVERED_EVENT = "custom.run.recovered"

const unreadable = (runId: string, message: string) =>
  new RecorderError({ operation: "ledger.get", runId, attempts: 1, reason: "permanent", message })

/** The result a run that is no longer `running` answers a recovery with (nothing is executed). */
const storedResult = (run: StoredRun): RunResult => ({
  runId: run.runId,
  status: run.status,
  iterations: run.iterations,
  usage: run.usage,
  ...(run.answer === undefined ? {} : { answer: run.answer }),
  ...(run.error === undefined ? {} : { error: run.error })
})

/** Where the recorded run stands: what the record says was in flight, and what comes next. */
interface Position {
  readonly history: ReadonlyArray<Message>
  readonly totals: Lifecycle.Totals
  readonly iterations: number
  readonly callsPerTool: Map<string, number>
  readonly budgetFired: Set<string>
  readonly budgetExceeded: boolean
  readonly outputFailures: number
  readonly abandonedModelCalls: ReadonlyArray<{ readonly correlationId: string; readonly iteration: number }>
  /** The tool batch of the last assistant message, when some of its calls have no tool message yet. */
  readonly batch: Batch | undefined
  /** Calls of `batch` that were in flight (`tool.started` without `tool.completed`). */
  readonly inFlight: ReadonlyArray<ToolCallRef>
  /** The last completed model call, for an answer recorded without its `run.completed`. */
  readonly lastCall: { readonly correlationId: string; readonly iteration: number } | undefined
  readonly tenantId: string | undefined
  readonly delegationLevel: number
  readonly input: string
  /** The thread the run continues, and the summary of its history its first segment recorded. */
  readonly threadId: string | undefined
  readonly summary: string | undefined
  /** The order index of the next message. */
  readonly nextOrderIndex: number
}

const outcomeOf = (e: Extract<HookEvent, { readonly _tag: "ToolCallCompleted" }>): ToolOutcome => ({
  success: e.success,
  result: e.result,
  ...(e.error === undefined ? {} : { error: e.error }),
  durationMs: e.durationMs
})

/** Reads the position of a run from its events (in sequence order). */
const positionOf = (run: StoredRun, events: ReadonlyArray<HookEvent>): Position => {
  const messages: Array<{ readonly orderIndex: number; readonly message: Message; readonly iteration: number }> = []
  let totals = Lifecycle.emptyTotals
  let iterations = 0
  const started = new Map<string, number>()
  const ended = new Set<string>()
  const toolStarted = new Map<string, Extract<HookEvent, { readonly _tag: "ToolCallStarted" }>>()
  const toolEnded = new Map<string, ToolOutcome>()
  const denied = new Map<string, string>()
  const budgetFired = new Set<string>()
  let budgetExceeded = false
  let outputFailures = 0
  let lastCall: Position["lastCall"]
  let approvedAfter = -1
  let tenantId: string | undefined
  let delegationLevel = 0
  let input = run.input
  let threadId = run.threadId
  let summary: string | undefined
  for (const e of events) {
    switch (e._tag) {
      case "RunStarted":
        tenantId = e.tenantId
        delegationLevel = e.delegationLevel
        input = e.input
        threadId = e.threadId ?? threadId
        break
      case "HistorySummarized":
        summary = e.summary
        break
      case "MessageAppended":
        messages.push({ orderIndex: e.orderIndex, message: e.message, iteration: e.iteration })
        break
      case "LlmCallStarted":
        started.set(e.correlationId, e.iteration)
        break
      case "LlmCallCompleted":
        ended.add(e.correlationId)
        totals = Lifecycle.addUsage(totals, e.usage ?? Lifecycle.unreportedUsage)
        iterations = Math.max(iterations, e.iteration)
        lastCall = { correlationId: e.correlationId, iteration: e.iteration }
        break
      case "LlmCallFailed":
        ended.add(e.correlationId)
        break
      case "ToolCallStarted":
        toolStarted.set(e.correlationId, e)
        break
      case "ToolCallCompleted":
        toolEnded.set(e.correlationId, outcomeOf(e))
        break
      case "PolicyDenied":
        denied.set(e.correlationId, e.toolName)
        break
      case "ApprovalDecided":
        if (e.approved) approvedAfter = e.sequenceIndex
        break
      case "BudgetThreshold":
        budgetFired.add(`${e.kind}:${e.fraction}`)
        break
      case "BudgetExceeded":
        budgetFired.add(`${e.kind}:exceeded`)
        budgetExceeded = true
        break
      case "OutputInvalid":
        outputFailures = Math.max(outputFailures, e.attempt)
        break
      default:
        break
    }
  }
  messages.sort((a, b) => a.orderIndex - b.orderIndex)
  const history = messages.map((m) => m.message)
  const abandonedModelCalls = [...started].filter(([id]) => !ended.has(id)).map(([correlationId, iteration]) => ({
    correlationId,
    iteration
  }))
  // The batch of the last assistant message, unless every one of its calls has its tool message.
  let batch: Batch | undefined
  let inFlight: Array<ToolCallRef> = []
  let lastAssistant = messages.length - 1
  while (lastAssistant >= 0 && messages[lastAssistant]!.message._tag !== "assistant") lastAssistant--
  const assistant = lastAssistant < 0 ? undefined : messages[lastAssistant]!
  if (assistant !== undefined && assistant.message._tag === "assistant" && assistant.message.toolCalls.length > 0) {
    const answeredIds = new Set(
      messages.slice(lastAssistant + 1).flatMap((m) => (m.message._tag === "tool" ? [m.message.toolCallId] : []))
    )
    const calls = assistant.message.toolCalls
    if (calls.some((c) => !answeredIds.has(c.id))) {
      const outcomes: Record<string, ToolOutcome> = {}
      for (const call of calls) {
        const done = toolEnded.get(call.id)
        if (done !== undefined) outcomes[call.id] = done
        else if (denied.has(call.id)) outcomes[call.id] = failedOutcome(`Tool '${call.name}' is denied by policy.`)
        else if (toolStarted.get(call.id)?.target === "server") inFlight.push(call)
      }
      const approvalSeq = events.find((e) => e._tag === "MessageAppended" && e.orderIndex === assistant.orderIndex)
        ?.sequenceIndex ?? 0
      batch = { iteration: assistant.iteration, calls, outcomes, approved: approvedAfter > approvalSeq }
    }
  }
  if (batch === undefined) inFlight = []
  // Executions counted per tool: an in-flight call that executes again is counted again by its batch.
  const callsPerTool = new Map<string, number>()
  for (const e of toolStarted.values()) {
    if (e.target !== "server" || !toolEnded.has(e.correlationId)) continue
    callsPerTool.set(e.toolName, (callsPerTool.get(e.toolName) ?? 0) + 1)
  }
  return {
    history,
    totals,
    iterations,
    callsPerTool,
    budgetFired,
    budgetExceeded,
    outputFailures,
    abandonedModelCalls,
    batch,
    inFlight,
    lastCall,
    tenantId,
    delegationLevel,
    input,
    threadId,
    summary,
    nextOrderIndex: messages.length === 0 ? 0 : messages[messages.length - 1]!.orderIndex + 1
  }
}

/** Checks that the events are the run's whole record, gapless from 0 to its last sequence index. */
const checkEvents = (run: StoredRun, events: ReadonlyArray<HookEvent>): Effect.Effect<void, RecorderError> => {
  for (const [i, e] of events.entries()) {
    if (e.sequenceIndex !== i || e.runId !== run.runId) {
      return Effect.fail(
        unreadable(run.runId, `recover: the events of run ${run.runId} are not its gapless record (index ${i})`)
      )
    }
  }
  if (events.length !== run.lastSequenceIndex + 1) {
    return Effect.fail(
      unreadable(
        run.runId,
        `recover: ${events.length} events were given for run ${run.runId}, whose record has ${
          run.lastSequenceIndex + 1
        }`
      )
    )
  }
  return Effect.void
}

/** The recovered segment: what was abandoned is recorded, then the run goes on from its last completed step. */
const body = (state: RunState, position: Position, note: Json | undefined, fresh: boolean) =>
  Effect.gen(function*() {
    // A run on a thread: the thread's earlier messages first, as its first segment read them (the record of
    // the run holds only its own messages).
    if (position.threadId !== undefined && state.ledger !== undefined) {
      const earlier = yield* threadHistory(state, state.ledger, position.threadId, state.agent.history, {
        runId: state.bus.runId,
        summary: position.summary
      }).pipe(
        // As at the start: a failed read must not leave the thread held by a run that will never go on.
        Effect.tapError((error) =>
          Effect.ignore(state.bus.emit({
            _tag: "RunFailed",
            error: { tag: error._tag, message: error.message },
            failureReason: "recorder",
            iterations: state.iterations,
            usage: state.totals.usage
          }, state.iterations))
        )
      )
      state.history = [...earlier, ...state.history]
    }
    const { batch } = position
    const idempotent = position.inFlight.filter((c) => state.agent.toolsByName.get(c.name)?.idempotent === true)
    const interrupted = position.inFlight.filter((c) => state.agent.toolsByName.get(c.name)?.idempotent !== true)
    const decision = interrupted.length === 0 ? "continue" : state.agent.onInterruptedTool
    if (!fresh) {
      yield* state.bus.emit({
        _tag: "CustomEvent",
        name: RECOVERED_EVENT,
        data: {
          abandonedModelCalls: position.abandonedModelCalls.map((c) => c.correlationId),
          reexecutedToolCalls: idempotent.map((c) => c.id),
          interruptedToolCalls: interrupted.map((c) => c.id),
          decision,
          ...(note === undefined ? {} : { note })
        }
      }, state.iterations)
    }
    for (const call of position.abandonedModelCalls) {
      yield* state.bus.emit({
        _tag: "LlmCallFailed",
        correlationId: call.correlationId,
        provider: state.model.provider,
        model: state.model.model,
        error: {
          tag: "Abandoned",
          message: "abandoned: the process making this call was lost before it returned; the call is made again"
        },
        durationMs: 0
      }, call.iteration)
    }
    if (position.history.length === 0) {
      yield* appendMessage(state, { _tag: "user", content: position.input }, 0)
      return yield* iterate(state)
    }
    if (batch !== undefined) {
      if (interrupted.length > 0) {
        if (decision === "fail") {
          const names = interrupted.map((c) => c.name).join(", ")
          const message = `${INTERRUPTED_PROMPT} (${names}): the tool is not idempotent and the agent says fail`
          return yield* finishFailed(state, { tag: "InterruptedToolCall", message }, "interrupted")
        }
        for (const call of interrupted) {
          yield* state.bus.stage(
            { _tag: "ApprovalRequested", correlationId: call.id, toolName: call.name, arguments: call.arguments },
            batch.iteration
          )
        }
        return yield* pause(state, "waiting_approval", { ...batch, approved: false }, interrupted, INTERRUPTED_PROMPT)
      }
      const ended = yield* processBatch(state, batch)
      if (Option.isSome(ended)) return ended.value
      return yield* iterate(state)
    }
    const last = position.history[position.history.length - 1]!
    if (last._tag === "assistant" && position.lastCall !== undefined) {
      // The answer was recorded, its `run.completed` was not.
      const ended = yield* answered(state, last.content, position.lastCall.correlationId, position.lastCall.iteration)
      if (Option.isSome(ended)) return ended.value
    }
    return yield* iterate(state)
  })

/** Continues a `running` run from its recorded events (see the module doc); other statuses answer as stored. */
export const recover = (
  agent: AgentDefinition,
  runId: string,
  events: ReadonlyArray<HookEvent>,
  options: RecoverOptions
): Effect.Effect<RunResult, RunError | RunNotFound | AgentMismatch, LanguageModel | Recorder | RunLedger> =>
  Effect.gen(function*() {
    yield* checkRunNotifiers(options.notifiers)
    const ledger = yield* Services.runLedger
    const run = yield* findRun(ledger, runId)
    yield* checkAgent(run, agent)
    if (run.status !== "running") return storedResult(run)
    yield* checkEvents(run, events)
    const position = positionOf(run, events)
    const output = resolveOutput(agent, {})
    if (output._tag === "Left") return yield* output.left
    const cell: StateCell = { state: undefined }
    const bus = yield* makeBus({
      runId,
      recorder: yield* Services.recorder,
      sinks: yield* segmentSinks(options.notifiers, undefined),
      caller: forCaller(undefined, cell),
      traceContext: options.traceContext ?? otelContext.active(),
      startSequence: run.lastSequenceIndex + 1,
      policy: policyFor(agent.guardrails, cell, emptyRedactions),
      // The agent's redaction policy covers the recovered segment, and knows the calls of the batch it finishes.
      storage: makeStoragePass(agent.redaction, position.batch?.calls ?? [])
    })
    const segment = { bus, model: yield* Services.languageModel, ledger, streaming: false }
    const state = cell.state = fresh(segment, agent, {
      tenantId: position.tenantId,
      delegationLevel: position.delegationLevel
    })
    state.history = [...position.history]
    state.orderIndex = position.nextOrderIndex
    state.iterations = position.iterations
    state.totals = position.totals
    state.callsPerTool = position.callsPerTool
    state.budgetFired = position.budgetFired
    state.budgetExceeded = position.budgetExceeded
    state.outputFailures = position.outputFailures
    state.output = output.right
    // Only `run.started` recorded (a queued fleet run): its first execution, not a recovery.
    const first = events.length === 1
    return yield* runSegment(state, body(state, position, options.note, first), {
      leaveRunningOnInterrupt: options.leaveRunningOnInterrupt
    })
  }).pipe(Effect.scoped, Effect.annotateLogs("agent", agent.name))

/** What `recordQueued` records with the run besides its input. */
export interface QueuedOptions {
  readonly tenantId?: string | undefined
  readonly metadata?: { readonly [key: string]: Json } | undefined
  readonly model?: string | undefined
  readonly provider?: string | undefined
}

/**
 * Records `run.started` of a run another process executes (a queued fleet run), through the agent's guardrails
 * and redaction policy as a started run's events are.
 */
export const recordQueued = (
  agent: AgentDefinition,
  runId: string,
  input: string,
  options: QueuedOptions
): Effect.Effect<void, RecorderError, Recorder> =>
  Effect.gen(function*() {
    const cell: StateCell = { state: undefined }
    const bus = yield* makeBus({
      runId,
      recorder: yield* Services.recorder,
      sinks: yield* segmentSinks(undefined, undefined),
      traceContext: otelContext.active(),
      startSequence: 0,
      policy: policyFor(agent.guardrails, cell, emptyRedactions),
      storage: makeStoragePass(agent.redaction)
    })
    yield* bus.emit({
      _tag: "RunStarted",
      agentName: agent.name,
      instructions: agent.instructions,
      input,
      ...(options.model === undefined ? {} : { model: options.model }),
      ...(options.provider === undefined ? {} : { provider: options.provider }),
      delegationLevel: 0,
      tools: agent.tools.map((t) => t.name),
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata })
    }, 0)
  }).pipe(Effect.scoped)
