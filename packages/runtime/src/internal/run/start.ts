/**
 * Starting a run: options validated, an idempotency key looked up, `run.started` recorded (a unique index
 * decides concurrent starts with one key), then the first segment: the input scanned and appended, the loop.
 */
import { context as otelContext } from "@opentelemetry/api"
import { Effect, Either, Option } from "effect"
import {
  type IdempotencyConflict,
  InvalidRunOptions,
  type RecorderError,
  type RunAlreadyActive,
  type RunError
} from "../../Errors.js"
import { emptyRedactions } from "../../Guardrails.js"
import type { Json, Message } from "../../HookEvent.js"
import * as Ids from "../../Ids.js"
import { LanguageModel } from "../../LanguageModel.js"
import { Recorder } from "../../Recorder.js"
import { RunLedger, type RunLedgerService } from "../../RunLedger.js"
import type { RunResult } from "../../RunResult.js"
import { makeBus, type Sink } from "../bus.js"
import type { AgentDefinition } from "../definition.js"
import { forCaller, policyFor, type StateCell } from "../privacy.js"
import { makeStoragePass } from "../redaction/policy.js"
import { fresh, type RunState } from "../runState.js"
import { report, type Scanned, scanValue } from "../sanitize.js"
import * as Services from "../services.js"
import { checkRunNotifiers, segmentSinks } from "../sinks.js"
import { appendMessage } from "./events.js"
import { blockedByGuardrail } from "./finish.js"
import { decideExisting, fingerprint } from "./idempotency.js"
import { fingerprintInput, inputText, type RunInput, validateInput } from "./input.js"
import { type StartOptions, validateStart, type ValidStartOptions } from "./options.js"
import { resolveOutput } from "./output.js"
import { runSegment } from "./segment.js"
import { checkThread, confirmOwner, rejectIfBusy, startOnThread, threadHistory, type ThreadOptions } from "./thread.js"
import { iterate } from "./turn.js"

/** An idempotency key and the fingerprint of the start it belongs to. */
interface Key {
  readonly key: string
  readonly print: string
}

const needsLedger = (field: "idempotencyKey" | "threadId") =>
  new InvalidRunOptions({
    field,
    message: `${field}: needs a recorder that can read runs back (a RunLedger: the SQL or memory recorder)`
  })

/** An earlier run with the same key answers the start (its result, or a typed refusal). */
const earlier = (
  ledger: RunLedgerService,
  key: Key,
  agent: AgentDefinition
): Effect.Effect<Option.Option<RunResult>, RecorderError | RunAlreadyActive | IdempotencyConflict> =>
  Effect.flatMap(
    ledger.findByIdempotencyKey(key.key),
    (found) =>
      Option.isNone(found)
        ? Effect.succeed(Option.none())
        : Effect.asSome(decideExisting(found.value, key.key, agent.name, key.print))
  )

const startedEvent = (state: RunState, input: string, options: ValidStartOptions, key: Key | undefined) => ({
  _tag: "RunStarted" as const,
  agentName: state.agent.name,
  instructions: state.agent.instructions,
  input,
  model: state.model.model,
  provider: state.model.provider,
  delegationLevel: state.delegationLevel,
  tools: state.agent.tools.map((t) => t.name),
  ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
  ...(options.parentRunId === undefined ? {} : { parentRunId: options.parentRunId }),
  ...(options.retryOfRunId === undefined ? {} : { retryOfRunId: options.retryOfRunId }),
  ...(options.threadId === undefined ? {} : { threadId: options.threadId }),
  ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  ...(key === undefined ? {} : { idempotencyKey: key.key, idempotencyFingerprint: key.print })
})

/** The input's messages scanned by the guardrails (a string input is scanned as the one string it is). */
const scanInput = (state: RunState, input: RunInput): Scanned<ReadonlyArray<Message>> => {
  if (typeof input === "string") {
    const scanned = scanValue(state, input)
    return { ...scanned, value: [{ _tag: "user", content: scanned.value }] }
  }
  const scanned = scanValue(
    state,
    input.map((m): Json => m._tag === "assistant" ? [m.content, m.toolCalls.map((c) => c.arguments)] : m.content)
  )
  const values = scanned.value as ReadonlyArray<Json>
  return {
    ...scanned,
    value: input.map((m, i): Message => {
      if (m._tag !== "assistant") return { ...m, content: values[i] as string }
      const [content, args] = values[i] as [string, ReadonlyArray<Json>]
      return { ...m, content, toolCalls: m.toolCalls.map((c, j) => ({ ...c, arguments: args[j]! })) }
    })
  }
}

/** The first segment's body: the input's guardrail report and messages, then the loop. */
const firstSegment = (
  state: RunState,
  input: Scanned<ReadonlyArray<Message>>,
  thread: ThreadOptions | undefined
): Effect.Effect<RunResult, RecorderError> =>
  Effect.gen(function*() {
    if (thread !== undefined && state.ledger !== undefined) {
      state.history.push(
        ...yield* threadHistory(state, state.ledger, thread.threadId, state.agent.history).pipe(
          // The start is recorded: a failed read must not leave the thread held by a run that will never go on.
          Effect.tapError((error) =>
            Effect.ignore(state.bus.emit({
              _tag: "RunFailed",
              error: { tag: error._tag, message: error.message },
              failureReason: "recorder",
              iterations: 0,
              usage: state.totals.usage
            }, 0))
          )
        )
      )
    }
    yield* report(state, input, "input", 0)
    if (input.blocked !== undefined) return yield* blockedByGuardrail(state, input.blocked.reason)
    for (const message of input.value) yield* appendMessage(state, message, 0)
    return yield* iterate(state)
  })

/** Records `run.started`; a concurrent start with the same key that won the unique index answers instead. */
const recordStart = (
  state: RunState,
  event: ReturnType<typeof startedEvent>,
  key: Key | undefined
): Effect.Effect<Option.Option<RunResult>, RunError> =>
  Effect.catchAll(Effect.as(state.bus.emit(event, 0), Option.none()), (error) => {
    if (key === undefined || state.ledger === undefined || error.reason !== "conflict") return Effect.fail(error)
    return Effect.flatMap(
      earlier(state.ledger, key, state.agent),
      (answer) => (Option.isSome(answer) ? Effect.succeed(answer) : Effect.fail(error))
    )
  })

/** Starts a run and drives it to a terminal status or a pause; `stream` also receives every event. */
export const startRun = (
  agent: AgentDefinition,
  input: RunInput,
  options: StartOptions,
  stream: Sink | undefined
): Effect.Effect<RunResult, RunError, LanguageModel | Recorder> =>
  Effect.gen(function*() {
    const messages = validateInput(input)
    if (Either.isLeft(messages)) return yield* messages.left
    const valid = validateStart(options)
    if (Either.isLeft(valid)) return yield* valid.left
    const opts = valid.right
    const thread: ThreadOptions | undefined = opts.threadId === undefined
      ? undefined
      : { threadId: opts.threadId, onBusy: opts.onBusy ?? "reject" }
    const output = resolveOutput(agent, options)
    if (Either.isLeft(output)) return yield* output.left
    yield* checkRunNotifiers(opts.notifiers)
    const model = yield* Services.languageModel
    const recorder = yield* Services.recorder
    const ledger = Option.getOrUndefined(yield* Effect.serviceOption(RunLedger))
    const key = opts.idempotencyKey === undefined
      ? undefined
      : { key: opts.idempotencyKey, print: fingerprint(agent.name, fingerprintInput(input as RunInput)) }
    if (key !== undefined) {
      if (ledger === undefined) return yield* needsLedger("idempotencyKey")
      const answer = yield* earlier(ledger, key, agent)
      if (Option.isSome(answer)) return answer.value
    }
    let newThread = false
    if (thread !== undefined) {
      if (ledger === undefined) return yield* needsLedger("threadId")
      const checked = yield* checkThread(ledger, thread, opts.tenantId)
      yield* rejectIfBusy(thread, checked.active)
      newThread = checked.fresh
    }
    const cell: StateCell = { state: undefined }
    const bus = yield* makeBus({
      runId: opts.runId ?? Ids.make(),
      recorder,
      sinks: yield* segmentSinks(opts.notifiers, undefined),
      caller: forCaller(stream, cell),
      traceContext: opts.traceContext ?? otelContext.active(),
      startSequence: 0,
      policy: policyFor(agent.guardrails, cell, emptyRedactions),
      storage: makeStoragePass(agent.redaction)
    })
    const state = cell.state = fresh({ bus, model, ledger, streaming: stream !== undefined }, agent, {
      tenantId: opts.tenantId,
      delegationLevel: opts.delegationLevel ?? 0
    })
    state.output = output.right
    const scanned = scanInput(state, typeof input === "string" ? input : messages.right)
    const start = recordStart(state, startedEvent(state, inputText(scanned.value), opts, key), key)
    const answered = yield* (thread === undefined || ledger === undefined
      ? start
      : startOnThread(ledger, thread, bus.runId, start))
    if (Option.isSome(answered)) return answered.value
    if (newThread && thread !== undefined && ledger !== undefined) yield* confirmOwner(state, ledger, thread)
    return yield* runSegment(state, firstSegment(state, scanned, thread))
  }).pipe(Effect.scoped, Effect.annotateLogs("agent", agent.name))
