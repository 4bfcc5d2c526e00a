import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Schema, TestClock } from "effect"
import { Agent, HookEvent, MemoryRecorder, Tool } from "../src/index.js"
import { runScripted, testLayer } from "./fixtures.js"

const call = (name: string, args: unknown) => ({ toolCalls: [{ name, arguments: args as never }] })

/** Runs one tool call through the loop; returns its recorded completion and what the model saw next. */
const callOnce = (tool: Tool.Tool, args: unknown, name = tool.name) =>
  Effect.gen(function*() {
    const { events, requests, result } = yield* runScripted(
      { name: "t", instructions: "", tools: [tool] },
      [call(name, args), { text: "done" }]
    )
    const completed = events.find((e): e is Extract<HookEvent.HookEvent, { _tag: "ToolCallCompleted" }> =>
      e._tag === "ToolCallCompleted"
    )!
    const seen = requests[1]!.messages.find((m): m is Extract<HookEvent.Message, { _tag: "tool" }> =>
      m._tag === "tool"
    )!
    return { completed, seen, result }
  })

const echo = (handler: Tool.ToolOptions<{ readonly x: number }, { readonly x: number }>["handler"], extra = {}) =>
  Tool.make("echo", { description: "echo", parameters: Schema.Struct({ x: Schema.Number }), handler, ...extra })

/** Asserts a failed tool result: recorded as success=false with the message, and shown to the model as an error. */
const expectFailure = (
  out: {
    completed: { success: boolean; error?: string; result: unknown }
    seen: { isError: boolean; content: string }
    result: { status: string }
  },
  pattern: RegExp
) => {
  expect(out.completed.success).toBe(false)
  expect(out.completed.error).toMatch(pattern)
  expect(out.completed.result).toEqual({ error: out.completed.error })
  expect(out.seen.isError).toBe(true)
  expect(JSON.parse(out.seen.content).error).toMatch(pattern)
  expect(out.result.status).toBe("success")
}

describe("failed tool results (the run goes on)", () => {
  it.effect("arguments that fail to decode", () =>
    Effect.map(
      callOnce(echo(({ x }) => x), { x: "not a number" }),
      (out) => expectFailure(out, /Invalid arguments for tool 'echo':[\s\S]*Expected number, actual "not a number"/)
    ))

  it.effect("an unknown tool name", () =>
    Effect.map(callOnce(echo(({ x }) => x), { x: 1 }, "nope"), (out) => expectFailure(out, /^Unknown tool: nope$/)))

  it.effect("a handler failure (Effect.fail)", () =>
    Effect.map(
      callOnce(echo(() => Effect.fail(new Error("city not found"))), { x: 1 }),
      (out) => expectFailure(out, /Tool 'echo' failed: city not found/)
    ))

  it.effect("a rejected Promise", () =>
    Effect.map(
      callOnce(echo(() => Promise.reject(new Error("503 upstream"))), { x: 1 }),
      (out) => expectFailure(out, /Tool 'echo' failed: 503 upstream/)
    ))

  it.effect("a synchronous throw", () =>
    Effect.map(
      callOnce(
        echo(() => {
          throw new TypeError("boom")
        }),
        { x: 1 }
      ),
      (out) => expectFailure(out, /Tool 'echo' failed: crashed: boom/)
    ))

  it.effect("a defect (Effect.die)", () =>
    Effect.map(
      callOnce(echo(() => Effect.die("kaput")), { x: 1 }),
      (out) => expectFailure(out, /Tool 'echo' failed: crashed: kaput/)
    ))

  it.live("a timeout interrupts the handler and aborts its signal", () =>
    Effect.gen(function*() {
      let aborted = false
      const out = yield* callOnce(
        echo((_, ctx) =>
          new Promise((resolve) => {
            ctx.signal.addEventListener("abort", () => {
              aborted = true
            })
            setTimeout(resolve, 60_000).unref()
          }), { timeout: "50 millis" }),
        { x: 1 }
      )
      expectFailure(out, /Tool 'echo' timed out after 50ms/)
      expect(aborted).toBe(true)
    }))

  it.effect("a result that is not JSON-serialisable", () =>
    Effect.gen(function*() {
      expectFailure(
        yield* callOnce(echo(() => ({ n: 10n })), { x: 1 }),
        /returned a result that is not JSON-serialisable: \$\.n is a bigint/
      )
      expectFailure(yield* callOnce(echo(() => new Map()), { x: 1 }), /\$ is a Map/)
      const cycle: Record<string, unknown> = {}
      cycle.self = cycle
      expectFailure(yield* callOnce(echo(() => cycle), { x: 1 }), /\$\.self is a circular reference/)
      expectFailure(yield* callOnce(echo(() => ({ v: Number.NaN })), { x: 1 }), /\$\.v is NaN/)
    }))

  it.effect("JSON-shaped results are kept: Dates become ISO strings, void becomes null", () =>
    Effect.gen(function*() {
      const date = yield* callOnce(echo(() => ({ at: new Date(0) })), { x: 1 })
      expect(date.completed).toMatchObject({ success: true, result: { at: "1970-01-01T00:00:00.000Z" } })
      const nothing = yield* callOnce(echo(() => undefined), { x: 1 })
      expect(nothing.completed).toMatchObject({ success: true, result: null })
      expect(nothing.seen.content).toBe("null")
    }))

  it.effect("calls past maxCallsPerRun are refused in call order without executing", () =>
    Effect.gen(function*() {
      let executed = 0
      const limited = echo(({ x }) => {
        executed++
        return x
      }, { maxCallsPerRun: 2 })
      const { events, result } = yield* runScripted({ name: "t", instructions: "", tools: [limited] }, [
        { toolCalls: [1, 2, 3].map((x) => ({ name: "echo", arguments: { x } })) },
        { toolCalls: [{ name: "echo", arguments: { x: 4 } }] },
        { text: "ok" }
      ])
      expect(executed).toBe(2)
      const argsOf = new Map(
        events.flatMap((e) => (e._tag === "ToolCallStarted" ? [[e.correlationId, e.arguments] as const] : []))
      )
      const outcomes = events.flatMap((e) =>
        e._tag === "ToolCallCompleted" ? [[argsOf.get(e.correlationId), e.success ? e.result : e.error]] : []
      )
      const refused = "Tool 'echo' has reached its maximum of 2 calls for this run."
      expect(outcomes.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
        [{ x: 1 }, 1],
        [{ x: 2 }, 2],
        [{ x: 3 }, refused],
        [{ x: 4 }, refused]
      ])
      expect(result.status).toBe("success")
    }))
})

describe("parallel groups and barriers", () => {
  it.live("consecutive parallel tools overlap; a non-parallel tool waits for them and is waited for", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const bothStarted = yield* Deferred.make<void>()
      let started = 0
      // Each parallel call waits until the other has started: this only completes if they overlap.
      const par = Tool.make("par", {
        description: "parallel",
        parameters: Schema.Struct({ id: Schema.String }),
        timeout: "10 seconds",
        handler: ({ id }) =>
          Effect.gen(function*() {
            log.push(`start ${id}`)
            if (++started === 2) yield* Deferred.succeed(bothStarted, undefined)
            yield* Deferred.await(bothStarted)
            log.push(`end ${id}`)
            return id
          })
      })
      const barrier = Tool.make("barrier", {
        description: "sequential",
        parameters: Schema.Struct({ id: Schema.String }),
        parallel: false,
        handler: ({ id }) =>
          Effect.sync(() => {
            log.push(`barrier ${id}`)
            return id
          })
      })
      const { events, requests } = yield* runScripted({ name: "t", instructions: "", tools: [par, barrier] }, [
        {
          toolCalls: [
            { name: "par", arguments: { id: "a" } },
            { name: "par", arguments: { id: "b" } },
            { name: "barrier", arguments: { id: "c" } },
            { name: "par", arguments: { id: "d" } }
          ]
        },
        { text: "ok" }
      ])
      expect(log.slice(0, 2).sort()).toEqual(["start a", "start b"])
      expect(log.slice(2, 4).sort()).toEqual(["end a", "end b"])
      expect(log.slice(4)).toEqual(["barrier c", "start d", "end d"])
      expect(events.filter((e) => e._tag === "ToolCallCompleted").every((e) => e.success)).toBe(true)
      // Results are appended in call order whatever order they finished in.
      expect(requests[1]!.messages.filter((m) => m._tag === "tool").map((m) => m.content)).toEqual([
        "a",
        "b",
        "c",
        "d"
      ])
    }))
})

describe("timeouts only where a handler can still be running", () => {
  it.effect("a Promise tool times out on the run's clock (a TestClock here) and its signal is aborted", () =>
    Effect.gen(function*() {
      let aborted = false
      const fiber = yield* Effect.fork(callOnce(
        echo((_, ctx) =>
          new Promise(() => {
            ctx.signal.addEventListener("abort", () => (aborted = true))
          }), { timeout: "30 seconds" }),
        { x: 1 }
      ))
      yield* TestClock.adjust("31 seconds")
      const out = yield* Fiber.join(fiber)
      expectFailure(out, /Tool 'echo' timed out after 30s/)
      expect(aborted).toBe(true)
    }))

  it.live("an Effect tool that never ends times out and is interrupted", () =>
    Effect.gen(function*() {
      let interrupted = false
      const out = yield* callOnce(
        echo(() => Effect.onInterrupt(Effect.never, () => Effect.sync(() => (interrupted = true))), {
          timeout: "50 millis"
        }),
        { x: 1 }
      )
      expectFailure(out, /Tool 'echo' timed out after 50ms/)
      expect(interrupted).toBe(true)
    }))

  it.live("a Promise that settles first wins: its value is the result, the timer never fires", () =>
    Effect.gen(function*() {
      let aborted = false
      const out = yield* callOnce(
        echo(({ x }, ctx) => {
          ctx.signal.addEventListener("abort", () => (aborted = true))
          return Promise.resolve(x * 2)
        }, { timeout: "50 millis" }),
        { x: 21 }
      )
      expect(out.completed).toMatchObject({ success: true, result: 42 })
      yield* Effect.sleep("80 millis")
      expect(aborted).toBe(false)
    }))

  it.effect("a synchronous handler is not timed: its value is taken as it is, its signal is a live one", () =>
    Effect.gen(function*() {
      let signal: AbortSignal | undefined
      const out = yield* callOnce(
        echo(({ x }, ctx) => {
          signal = ctx.signal
          return { x, keys: Object.keys(ctx).sort() }
        }, { timeout: "1 millis" }),
        { x: 3 }
      )
      expect(out.completed).toMatchObject({
        success: true,
        result: { x: 3, keys: ["callId", "delegationLevel", "iteration", "runId", "signal", "stream"] }
      })
      expect(signal?.aborted).toBe(false)
    }))

  it.live("interrupting the run while a Promise tool runs aborts its signal and records run.cancelled", () =>
    Effect.gen(function*() {
      const entered = yield* Deferred.make<void>()
      let aborted = false
      const slow = echo((_, ctx) => {
        ctx.signal.addEventListener("abort", () => (aborted = true))
        Effect.runSync(Deferred.succeed(entered, undefined))
        return new Promise(() => undefined)
      })
      const agent = yield* Agent.make({ name: "t", instructions: "", tools: [slow] })
      const fiber = yield* Effect.fork(agent.run("go", { runId: "run-i" }))
      yield* Deferred.await(entered)
      yield* Fiber.interrupt(fiber)
      expect(aborted).toBe(true)
      const events = yield* (yield* MemoryRecorder).events("run-i")
      expect(events.at(-1)).toMatchObject({ _tag: "RunCancelled", reason: "interrupted" })
      expect(events.some((e) => e._tag === "ToolCallCompleted")).toBe(false)
    }).pipe(Effect.provide(testLayer([call("echo", { x: 1 })]))))
})
