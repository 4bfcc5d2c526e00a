import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"
import { Agent, Notifier, Notifiers, Recorder, ScriptedModel } from "../src/index.js"

/** Lets forked fibers run until they block. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

describe("releasing the notifier dispatcher", () => {
  it.effect("drains every mailbox at once: three hung notifiers cost one drain deadline, not three", () =>
    Effect.gen(function*() {
      const hung = [1, 2, 3].map((n) =>
        Notifier.make({ name: `hung${n}`, timeout: "1 hour", onEvent: () => Effect.never })
      )
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Notifiers.layer(hung, { drainTimeout: "2 seconds" }), scope)
      const agent = yield* Agent.make({ name: "d", instructions: "" })
      yield* agent.run("hi").pipe(
        Effect.provide(
          Layer.mergeAll(ScriptedModel.layer([{ text: "ok" }]), Recorder.memory, Layer.succeedContext(context))
        )
      )
      yield* settle
      const startedAt = yield* Clock.currentTimeMillis
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* settle
      yield* TestClock.adjust("2 seconds")
      yield* settle
      // One deadline after the release began, every mailbox has been cut and the release is done.
      expect(Option.isSome(yield* Fiber.poll(closing))).toBe(true)
      expect((yield* Clock.currentTimeMillis) - startedAt).toBe(2000)
      const stats = yield* Effect.flatMap(Notifiers, (n) => n.stats).pipe(Effect.provide(context))
      // Each hung notifier held its first event (run.started) forever; it and the five after it are counted dropped.
      expect(stats.map((s) => [s.name, s.delivered, s.dropped])).toEqual([
        ["hung1", 0, 6],
        ["hung2", 0, 6],
        ["hung3", 0, 6]
      ])
    }))
})
