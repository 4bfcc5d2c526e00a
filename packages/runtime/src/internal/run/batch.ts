/**
 * A batch of tool calls (one assistant message): denied calls, approval, server execution in groups, then
 * client calls. The batch ends the segment when the run pauses or a guardrail blocks a result; otherwise
 * every call has an outcome and the tool messages are appended in call order.
 */
import { Effect, Option } from "effect"
import type { RecorderError } from "../../Errors.js"
import type { ToolCallRef } from "../../HookEvent.js"
import type { RunResult } from "../../RunResult.js"
import type { CompiledTool } from "../definition.js"
import type { Batch, RunState, ToolOutcome } from "../runState.js"
import { appendMessage, failedOutcome, toolMessage } from "./events.js"
import { blockedByGuardrail, cancelIfRequested } from "./finish.js"
import { pause } from "./pause.js"
import { runServerCall, startServerCall } from "./toolCall.js"

type Outcomes = Record<string, ToolOutcome>

const undecided = (batch: Batch, outcomes: Outcomes) => batch.calls.filter((c) => outcomes[c.id] === undefined)

/** Records `policy.denied` for each denied call and gives it a failed outcome; it never executes. */
const denyCalls = (state: RunState, batch: Batch, outcomes: Outcomes): Effect.Effect<void, RecorderError> => {
  if (state.agent.deny.size === 0) return Effect.void
  const denied = undecided(batch, outcomes).filter((c) => state.agent.deny.has(c.name))
  if (denied.length === 0) return Effect.void
  return Effect.forEach(denied, (call) =>
    Effect.map(
      state.bus.stage(
        { _tag: "PolicyDenied", correlationId: call.id, toolName: call.name, reason: "denied_by_policy" },
        batch.iteration
      ),
      () => {
        outcomes[call.id] = failedOutcome(`Tool '${call.name}' is denied by policy.`)
      }
    ), { discard: true })
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

/** Over-limit calls are decided up front, in call order, so concurrency cannot change who is refused. */
const overLimitCalls = (state: RunState, calls: ReadonlyArray<ToolCallRef>): ReadonlySet<string> => {
  const over = new Set<string>()
  for (const call of calls) {
    const tool = state.agent.toolsByName.get(call.name)
    if (tool === undefined) continue
    const used = state.callsPerTool.get(tool.name) ?? 0
    if (tool.maxCallsPerRun !== undefined && used >= tool.maxCallsPerRun) over.add(call.id)
    else state.callsPerTool.set(tool.name, used + 1)
  }
  return over
}

/** Runs one group of server calls (concurrently when it has several); returns a guardrail block, if any. */
const runGroup = (
  state: RunState,
  group: ReadonlyArray<ToolCallRef>,
  iteration: number,
  overLimit: ReadonlySet<string>,
  outcomes: Outcomes
): Effect.Effect<string | undefined, RecorderError> => {
  let blocked: string | undefined
  const one = (call: ToolCallRef) =>
    Effect.map(runServerCall(state, call, iteration, overLimit.has(call.id)), (recorded) => {
      blocked ??= recorded.blocked
      outcomes[call.id] = recorded.outcome
    })
  // Write-ahead: the group's `tool.started` events are durable (one commit point) before any call runs.
  const started = Effect.forEach(group, (call) => startServerCall(state, call, iteration), { discard: true })
  const all = group.length === 1
    ? one(group[0]!)
    : state.bus.concurrently(Effect.forEach(group, one, { concurrency: "unbounded", discard: true }))
  return started.pipe(Effect.zipRight(state.bus.commit), Effect.zipRight(all), Effect.map(() => blocked))
}

const none: Effect.Effect<Option.Option<RunResult>> = Effect.succeed(Option.none())

/**
 * Executes the batch's undecided server calls, group by group; ends the run when a guardrail blocks. (Every
 * step of a batch is a `flatMap`, not `Effect.gen`: a generator costs a few µs per batch.)
 */
const runServerCalls = (
  state: RunState,
  batch: Batch,
  outcomes: Outcomes
): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
  const server = undecided(batch, outcomes).filter((c) => state.agent.toolsByName.get(c.name)?.target !== "client")
  if (server.length === 0) return none
  return Effect.flatMap(cancelIfRequested(state), (cancelled) => {
    if (Option.isSome(cancelled)) return Effect.succeed(cancelled)
    const overLimit = overLimitCalls(state, server)
    const groups = groupCalls(server, state.agent.toolsByName)
    // Group after group, each built once the one before it ended.
    const from = (i: number): Effect.Effect<Option.Option<RunResult>, RecorderError> =>
      i === groups.length ? none : Effect.flatMap(
        runGroup(state, groups[i]!, batch.iteration, overLimit, outcomes),
        (blocked) => blocked === undefined ? from(i + 1) : Effect.map(blockedByGuardrail(state, blocked), Option.some)
      )
    return from(0)
  })
}

/** Gated calls of an unapproved batch: `approval.requested` each, then the whole batch waits. */
const requestApproval = (
  state: RunState,
  batch: Batch,
  outcomes: Outcomes
): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
  if (batch.approved || state.agent.requireApproval.size === 0) return none
  const gated = undecided(batch, outcomes).filter((c) => state.agent.requireApproval.has(c.name))
  if (gated.length === 0) return Effect.succeed(Option.none())
  return Effect.gen(function*() {
    for (const call of gated) {
      yield* state.bus.stage(
        { _tag: "ApprovalRequested", correlationId: call.id, toolName: call.name, arguments: call.arguments },
        batch.iteration
      )
    }
    const waiting = undecided(batch, outcomes)
    return Option.some(yield* pause(state, "waiting_approval", { ...batch, outcomes }, waiting, undefined))
  })
}

/** The calls left go to the client (or to a human): the run pauses for them. */
const awaitClient = (state: RunState, batch: Batch, outcomes: Outcomes, client: ReadonlyArray<ToolCallRef>) => {
  const human = client.length === 1 && state.agent.toolsByName.get(client[0]!.name)?.kind === "human"
  const args = client[0]!.arguments as { readonly question?: unknown } | null
  const prompt = human && typeof args?.question === "string" ? args.question : undefined
  return pause(state, human ? "waiting_human_input" : "waiting_client_tool", { ...batch, outcomes }, client, prompt)
}

/** Decides a batch; returns the segment's result when the run paused or ended, nothing when it goes on. */
export const processBatch = (state: RunState, batch: Batch): Effect.Effect<Option.Option<RunResult>, RecorderError> =>
  Effect.suspend(() => {
    const outcomes: Outcomes = { ...batch.outcomes }
    // Each step is built after the one before ran: it reads the outcomes decided so far.
    const appendAll = (): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
      const { calls, iteration } = batch
      if (calls.length === 1) {
        return Effect.as(
          appendMessage(state, toolMessage(calls[0]!, outcomes[calls[0]!.id]!), iteration),
          Option.none()
        )
      }
      return Effect.as(
        Effect.forEach(calls, (call) => appendMessage(state, toolMessage(call, outcomes[call.id]!), iteration), {
          discard: true
        }),
        Option.none()
      )
    }
    const afterServer = (ended: Option.Option<RunResult>): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
      if (Option.isSome(ended)) return Effect.succeed(ended)
      const client = undecided(batch, outcomes)
      if (client.length > 0) return Effect.map(awaitClient(state, batch, outcomes, client), Option.some)
      return appendAll()
    }
    return denyCalls(state, batch, outcomes).pipe(
      Effect.flatMap(() => requestApproval(state, batch, outcomes)),
      Effect.flatMap((approval) =>
        Option.isSome(approval) ? Effect.succeed(approval) : Effect.flatMap(
          runServerCalls(state, batch, outcomes),
          afterServer
        )
      )
    )
  })
