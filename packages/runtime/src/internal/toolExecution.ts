import { Cause, Clock, Duration, Effect, Either, Exit, Option } from "effect"
import { EffectVersionMismatch } from "../Errors.js"
import type { Json, ToolCallRef } from "../HookEvent.js"
import type { ToolContext, ToolStream } from "../Tool.js"
import type { CompiledTool } from "./definition.js"
import { foreignOf, mismatchMessage, versionsOf } from "./effectCopies.js"
import { describeError, toJson } from "./json.js"
import type { ToolOutcome } from "./runState.js"
import { closedStream } from "./streams/toolStream.js"

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

const TIMEOUT = Symbol.for("@sextant/runtime/tool-timeout")

/** The class of the live clock: with it a Promise handler's timeout is one `setTimeout`, no forked fiber. */
const LiveClock = (Clock.make() as object).constructor

/** Past this the JS timers cannot count: such a timeout never fires (as Effect's own clock treats it). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** How a handler's call ended, before it becomes an outcome. */
type Ended = Exit.Exit<unknown, unknown>

/**
 * The call's abort signal, made only when the handler reads it (most never do). Aborting before anyone read
 * it makes the signal it will hand out already aborted.
 */
const lazySignal = () => {
  let controller: AbortController | undefined
  let aborted = false
  return {
    signal: () => {
      if (controller === undefined) {
        controller = new AbortController()
        if (aborted) controller.abort()
      }
      return controller.signal
    },
    abort: () => {
      aborted = true
      controller?.abort()
    }
  }
}

/**
 * A Promise under the tool's timeout: one timer armed beside it on the live clock; under another clock (a
 * `TestClock`) the Effect race, so that clock decides. Interruption clears the timer and aborts the signal.
 */
const awaitPromise = (
  promise: PromiseLike<unknown>,
  timeout: Duration.Duration,
  abort: () => void
): Effect.Effect<unknown, unknown> =>
  Effect.clockWith((clock) => {
    const millis = Duration.toMillis(timeout)
    if (clock.constructor !== LiveClock) {
      return Effect.tryPromise({ try: () => Promise.resolve(promise), catch: (e) => e }).pipe(
        Effect.onInterrupt(() => Effect.sync(abort)),
        Effect.timeoutFail({ duration: timeout, onTimeout: () => TIMEOUT })
      )
    }
    return Effect.async<unknown, unknown>((resume) => {
      let settled = false
      const timer = millis > MAX_TIMER_MILLIS ? undefined : setTimeout(() => {
        if (settled) return
        settled = true
        abort()
        resume(Effect.fail(TIMEOUT))
      }, millis)
      const settle = (exit: Effect.Effect<unknown, unknown>) => {
        if (settled) return
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        resume(exit)
      }
      Promise.resolve(promise).then((value) => settle(Effect.succeed(value)), (error) => settle(Effect.fail(error)))
      return Effect.sync(() => {
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        abort()
      })
    })
  })

/**
 * Calls the handler. A plain value (a synchronous handler) is taken as it is: nothing is armed or forked for
 * it. Only what can still be running afterwards is timed: a Promise gets one timer, an Effect the Effect
 * timeout race (it must be interruptible where it stands). A synchronous throw is a defect, as before.
 */
const invoke = (
  handler: NonNullable<CompiledTool["handler"]>,
  args: unknown,
  timeout: Duration.Duration,
  context: Omit<ToolContext, "signal">
): Effect.Effect<Ended> => {
  const abortable = lazySignal()
  // An own, enumerable getter (as `defineProperty` made it), written as a literal: no map change per call.
  const ctx: ToolContext = {
    ...context,
    get signal() {
      return abortable.signal()
    }
  }
  let out: unknown
  try {
    out = handler(args, ctx)
  } catch (defect) {
    return Effect.succeed(Exit.die(defect))
  }
  const foreign = foreignOf(out)
  if (foreign !== undefined) {
    return Effect.succeed(Exit.fail(
      new EffectVersionMismatch({ ...versionsOf(foreign), message: `its handler returned ${mismatchMessage(foreign)}` })
    ))
  }
  if (Effect.isEffect(out)) {
    return Effect.exit((out as Effect.Effect<unknown, unknown>).pipe(
      Effect.onInterrupt(() => Effect.sync(abortable.abort)),
      Effect.timeoutFail({ duration: timeout, onTimeout: () => TIMEOUT })
    ))
  }
  if (isPromiseLike(out)) return Effect.exit(awaitPromise(out, timeout, abortable.abort))
  return Effect.succeed(Exit.succeed(out))
}

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
  Effect.clockWith((clock) => {
    const startedAt = clock.unsafeCurrentTimeMillis()
    const done = (outcome: Either.Either<Json, string>): ToolOutcome => {
      const durationMs = clock.unsafeCurrentTimeMillis() - startedAt
      return Either.isRight(outcome)
        ? { success: true, result: outcome.right, durationMs }
        : { success: false, result: { error: outcome.left }, error: outcome.left, durationMs }
    }
    if (tool === undefined) return Effect.succeed(done(Either.left(`Unknown tool: ${call.name}`)))
    if (context.overLimit) {
      return Effect.succeed(
        done(Either.left(`Tool '${tool.name}' has reached its maximum of ${tool.maxCallsPerRun} calls for this run.`))
      )
    }
    return Effect.flatMap(Effect.either(tool.decode(call.arguments)), (args) => {
      if (Either.isLeft(args)) {
        return Effect.succeed(done(Either.left(`Invalid arguments for tool '${tool.name}': ${args.left.message}`)))
      }
      const ended = invoke(tool.handler!, args.right, tool.timeout, {
        runId: context.runId,
        callId: call.id,
        iteration: context.iteration,
        delegationLevel: context.delegationLevel,
        ...(context.tenantId === undefined ? {} : { tenantId: context.tenantId }),
        stream: context.stream ?? closedStream
      })
      return Effect.map(ended, (exit) => {
        if (Exit.isSuccess(exit)) {
          const json = toJson(exit.value)
          return done(Either.mapLeft(json, (why) => `Tool '${tool.name}' returned a result that is ${why}`))
        }
        const failure = Cause.failureOption(exit.cause)
        if (Option.isSome(failure) && failure.value === TIMEOUT) {
          return done(Either.left(`Tool '${tool.name}' timed out after ${Duration.format(tool.timeout)}`))
        }
        const reason = Option.isSome(failure)
          ? describeError(failure.value)
          : Cause.isInterruptedOnly(exit.cause)
          ? "interrupted"
          : `crashed: ${describeError(Cause.squash(exit.cause))}`
        return done(Either.left(`Tool '${tool.name}' failed: ${reason}`))
      })
    })
  })
