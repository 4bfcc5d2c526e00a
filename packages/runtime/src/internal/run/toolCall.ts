/**
 * One tool call on the record: `tool.started`, its outcome (executed here, submitted by a client, or decided
 * by the engine), scanned by the guardrails, then `tool.completed`.
 */
import { Effect } from "effect"
import type { RecorderError } from "../../Errors.js"
import type { HookEvent, ToolCallRef } from "../../HookEvent.js"
import type { RunState, ToolOutcome } from "../runState.js"
import { report, restore, scanValue } from "../sanitize.js"
import { executeTool } from "../toolExecution.js"
import { toolCompleted, toolStarted } from "./events.js"

/** A recorded outcome and, when a guardrail blocked it, why. */
export interface Recorded {
  readonly outcome: ToolOutcome
  readonly blocked: string | undefined
}

/** Scans a tool's outcome before it is recorded or shown to the model; reports what was found. */
export const sanitizeOutcome = (
  state: RunState,
  outcome: ToolOutcome,
  iteration: number
): Effect.Effect<Recorded, RecorderError> => {
  if (state.agent.guardrails.length === 0) return Effect.succeed({ outcome, blocked: undefined })
  const scanned = scanValue(state, { result: outcome.result, error: outcome.error ?? null })
  const error = scanned.value.error
  const clean: ToolOutcome = {
    success: outcome.success,
    result: scanned.value.result,
    durationMs: outcome.durationMs,
    ...(typeof error === "string" ? { error } : {})
  }
  return Effect.as(report(state, scanned, "input", iteration), { outcome: clean, blocked: scanned.blocked?.reason })
}

/** Stages a call's outcome (scanned by the guardrails) as `tool.completed`; durable at the next commit point. */
export const completeCall = (
  state: RunState,
  call: ToolCallRef,
  target: "server" | "client",
  iteration: number,
  outcome: ToolOutcome
): Effect.Effect<Recorded, RecorderError> =>
  Effect.flatMap(
    sanitizeOutcome(state, outcome, iteration),
    (recorded) => Effect.as(state.bus.stage(toolCompleted(call, target, recorded.outcome), iteration), recorded)
  )

/**
 * Records a call whose outcome nothing outside decides (the engine refused it, or a client submitted it):
 * `tool.started` and `tool.completed` are staged, durable at the next commit point.
 */
export const recordCall = (
  state: RunState,
  call: ToolCallRef,
  target: "server" | "client",
  iteration: number,
  outcome: Effect.Effect<ToolOutcome>
): Effect.Effect<Recorded, RecorderError> =>
  state.bus.stage(toolStarted(call, target), iteration).pipe(
    Effect.zipRight(outcome),
    Effect.flatMap((decided) => completeCall(state, call, target, iteration, decided))
  )

/** Stages `tool.started` of a server call; its group's commit point makes it durable before anything runs. */
export const startServerCall = (state: RunState, call: ToolCallRef, iteration: number): Effect.Effect<HookEvent> =>
  state.bus.stage(toolStarted(call, "server"), iteration)

/**
 * Executes a server call whose `tool.started` is durable (with real values in place of placeholders) and
 * stages its `tool.completed`.
 */
export const runServerCall = (
  state: RunState,
  call: ToolCallRef,
  iteration: number,
  overLimit: boolean
): Effect.Effect<Recorded, RecorderError> =>
  Effect.suspend(() => {
    state.inFlight++
    return executeTool(state.agent.toolsByName.get(call.name), { ...call, arguments: restore(state, call.arguments) }, {
      runId: state.bus.runId,
      iteration,
      overLimit,
      delegationLevel: state.delegationLevel,
      tenantId: state.tenantId
    })
  }).pipe(
    Effect.flatMap((outcome) => {
      state.inFlight--
      return completeCall(state, call, "server", iteration, outcome)
    })
  )
