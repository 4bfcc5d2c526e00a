import { describe, expect, layer } from "@effect/vitest"
import { Agent, Ids, ScriptedModel, Tool } from "@sextant/runtime"
import { Chunk, Deferred, Effect, Fiber, Schedule, Schema, Stream } from "effect"
import { RunStore } from "../src/index.js"
import { dialects, storeLayer } from "./support.js"

for (const dialect of dialects) {
  describe(`RunStore live tail on ${dialect.name}`, () => {
    // Real clock: the tail polls.
    layer(storeLayer(dialect), { timeout: 60_000, excludeTestServices: true })((it) => {
      it.effect("streamEvents delivers a running run's events as they are recorded and ends after the terminal one", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const gate = yield* Deferred.make<void>()
          const agent = yield* Agent.make({
            name: "slow",
            instructions: "wait",
            tools: [Tool.make("wait", {
              description: "waits for the gate",
              parameters: Schema.Struct({}),
              handler: () => Effect.as(Deferred.await(gate), { ok: true })
            })]
          })
          const runId = Ids.make()
          const running = yield* agent.run("go", { runId }).pipe(
            Effect.provide(ScriptedModel.layer([{ toolCalls: [{ name: "wait", arguments: {} }] }, { text: "done" }])),
            Effect.fork
          )
          // Wait for the run to exist, then tail it while the tool is still blocked.
          yield* Effect.retry(store.getRun(runId), { times: 500, schedule: Schedule.spaced("10 millis") })
          const tail = yield* Stream.runCollect(store.streamEvents(runId, { pollIntervalMs: 10 })).pipe(Effect.fork)
          const early = yield* store.streamEvents(runId, { pollIntervalMs: 10 }).pipe(
            Stream.takeUntil((e) => e.eventType === "tool.started"),
            Stream.runCollect
          )
          expect(Chunk.toArray(early).at(-1)!.eventType).toBe("tool.started")
          expect((yield* store.getRun(runId)).status).toBe("running")
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(running)
          const all = Chunk.toArray(yield* Fiber.join(tail))
          expect(all).toEqual((yield* store.getEvents(runId, { limit: 1000 })).items)
          expect(all.at(-1)!.eventType).toBe("run.completed")
          expect(all.map((e) => e.sequenceIndex)).toEqual(all.map((_, i) => i))
        }))
    })
  })
}
