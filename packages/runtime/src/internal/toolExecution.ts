import { Cause, Clock, Duration, Effect, Either, Exit, Option } from "effect"
import { EffectVersionMismatch } from "../Errors.js"
import type { Json, ToolCallRef } from "../HookEvent.js"
import type { ToolStream } from "../Tool.js"
import type { CompiledTool } from "./definition.js"
import { foreignOf, mismatchMessage, versionsOf } from "./effectCopies.js"
import { describeError, toJson } from "./json.js"
import type { ToolOutcome } from "./runState.js"
import { closedStream } from "./streams/toolStream.js"

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

const TIMEOUT = Symbol.for("@sextant/runtime/tool-timeout")

/**
 * Executes one server call. Never fails: an unknown tool, arguments that do not decode, a handler failure
 * or defect, a timeout, a call over `maxCallsPerRun` and a result that is not JSON all become failed outcomes.
 * Interrupting the run interrupts the handler (and aborts its signal).
 */
export const executeTool = (
  tool: CompiledTool | undefined,
  call: ToolCallRef,
  context: {
    readonly runId: string
    readonly iteration: number
    readonly overLimit: boolean
    readonly delegationLevel: number
    readonly tenantId: string | undefined
    /** The call's stream (a closed one when absent). */
    readonly stream?: ToolStream | undefined
  }
): Effect.Effect<ToolOutcome> =>
  Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const done = (outcome: Either.Either<Json, string>) =>
      Effect.map(Clock.currentTimeMillis, (now): ToolOutcome =>
        Either.isRight(outcome)
          ? { success: true, result: outcome.right, durationMs: now - startedAt }
          : { success: false, result: { error: outcome.left }, error: outcome.left, durationMs: now - startedAt })
    if (tool === undefined) return yield* done(Either.left(`Unknown tool: ${call.name}`))
    if (context.overLimit) {
      return yield* done(
        Either.left(`Tool '${tool.name}' has reached its maximum of ${tool.maxCallsPerRun} calls for this run.`)
      )
    }
    const args = yield* Effect.either(tool.decode(call.arguments))
    if (Either.isLeft(args)) {
      return yield* done(Either.left(`Invalid arguments for tool '${tool.name}': ${args.left.message}`))
    }
    const handler = tool.handler!
    const invoke = Effect.suspend(() => {
      const controller = new AbortController()
      const out = handler(args.right, {
        runId: context.runId,
        callId: call.id,
        iteration: context.iteration,
        delegationLevel: context.delegationLevel,
        ...(context.tenantId === undefined ? {} : { tenantId: context.tenantId }),
        signal: controller.signal,
        stream: context.stream ?? closedStream
      })
      const foreign = foreignOf(out)
      if (foreign !== undefined) {
        return Effect.fail(
          new EffectVersionMismatch({
            ...versionsOf(foreign),
            message: `its handler returned ${mismatchMessage(foreign)}`
          })
        )
      }
      const effect: Effect.Effect<unknown, unknown> = Effect.isEffect(out)
        ? (out as Effect.Effect<unknown, unknown>)
        : isPromiseLike(out)
        ? Effect.tryPromise({ try: () => Promise.resolve(out), catch: (e) => e })
        : Effect.succeed(out)
      return Effect.onInterrupt(effect, () => Effect.sync(() => controller.abort()))
    })
    const exit = yield* invoke.pipe(
      Effect.timeoutFail({ duration: tool.timeout, onTimeout: () => TIMEOUT }),
      Effect.exit
    )
    if (Exit.isSuccess(exit)) {
      const json = toJson(exit.value)
      return yield* done(Either.mapLeft(json, (why) => `Tool '${tool.name}' returned a result that is ${why}`))
    }
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure) && failure.value === TIMEOUT) {
      return yield* done(Either.left(`Tool '${tool.name}' timed out after ${Duration.format(tool.timeout)}`))
    }
    const reason = Option.isSome(failure)
      ? describeError(failure.value)
      : Cause.isInterruptedOnly(exit.cause)
      ? "interrupted"
      : `crashed: ${describeError(Cause.squash(exit.cause))}`
    return yield* done(Either.left(`Tool '${tool.name}' failed: ${reason}`))
  })
