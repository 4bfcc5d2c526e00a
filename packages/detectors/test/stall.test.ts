import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, Notifiers, ScriptedModel, Tool } from "@sextant/runtime"
import { Deferred, Effect, Fiber, Layer, Logger, LogLevel, Schema, TestClock } from "effect"
import { Detectors, Signals } from "../src/index.js"
import { dialects, stack } from "./support.js"

/** A tool that waits until the test releases it. */
const waiting = (release: Deferred.Deferred<void>) =>
  Tool.make("wait_for_release", {
    description: "Waits",
    parameters: Schema.Struct({}),
    handler: () => Effect.as(Deferred.await(release), { released: true })
  })

/** Real-time polling (the TestClock does not move real timers). */
const until = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2000; i++) {
      if (yield* check) return
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
    }
    throw new Error(`never held: ${what}`)
  })

describe.each(dialects)("stalled runs ($name)", (dialect) => {
  it.scoped("a run with no event for the stall timeout is evaluated, then re-evaluated when it ends", () =>
    Effect.gen(function*() {
      const url = yield* dialect.database
      yield* Effect.gen(function*() {
        const detectors = yield* Detectors
        const sql = yield* SqlClient.SqlClient
        const release = yield* Deferred.make<void>()
        const agent = yield* Agent.make({ name: "stuck", instructions: "", tools: [waiting(release)] })
        const fiber = yield* Effect.fork(
          agent.run("go").pipe(
            Effect.provide(ScriptedModel.layer([
              { toolCalls: [{ name: "wait_for_release", arguments: {} }] },
              { text: "finally" }
            ]))
          )
        )
        yield* until(
          "tool started",
          Effect.map(
            sql<{ n: number }>`SELECT COUNT(*) AS n FROM run_events WHERE event_type = 'tool.started'`,
            (r) => Number(r[0]!.n) === 1
          )
        )
        // Let the notifier see the last event, then: one second short of the 10 s stall timeout, nothing is evaluated.
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
        yield* TestClock.adjust("9 seconds")
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 50)))
        expect((yield* detectors.stats).stalled).toBe(0)
        yield* TestClock.adjust("1 second")
        yield* until("stalled evaluation", Effect.map(detectors.stats, (s) => s.stalled === 1))
        const runId = String((yield* sql<{ id: string }>`SELECT id FROM agent_runs`)[0]!.id)
        expect((yield* (yield* Signals).forRun(runId)).map((s) => s.signal.type)).toEqual([])
        // The tool returns after 20 s and the run completes: it is evaluated again, and the wait is a slow step.
        yield* TestClock.adjust("10 seconds")
        yield* Deferred.succeed(release, undefined)
        expect((yield* Fiber.join(fiber)).status).toBe("success")
        yield* until("re-evaluation", Effect.map(detectors.stats, (s) => s.evaluated === 2))
        const after = (yield* (yield* Signals).forRun(runId)).map((s) => s.signal)
        expect(after.find((s) => s.type === "SLOW_STEP")).toMatchObject({
          severity: "MEDIUM",
          evidence: { eventType: "ToolCallStarted", limitMs: 15_000, ratio: 1.33 }
        })
      }).pipe(
        Effect.provide(
          Layer.unwrapEffect(Effect.map(Detectors, (d) => Notifiers.layer([d.notifier])))
            .pipe(Layer.provideMerge(stack(url, { stallTimeoutMs: 10_000 })), Layer.orDie)
        )
      )
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))
})
