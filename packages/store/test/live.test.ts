import { SqlClient } from "@effect/sql"
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

      it.effect("a tail of a finished run does not end short of its last recorded event", () =>
        Effect.gen(function*() {
          const store = yield* RunStore
          const sql = yield* SqlClient.SqlClient
          const agent = yield* Agent.make({ name: "quick", instructions: "answer" })
          const runId = Ids.make()
          yield* agent.run("go", { runId }).pipe(Effect.provide(ScriptedModel.layer([{ text: "done" }])))
          // The run row says completed while its terminal event is not readable yet (a reader that sees the
          // row before the event, however that happens): the tail waits for it instead of ending without it.
          const rows = yield* sql<Record<string, unknown>>`SELECT * FROM run_events WHERE agent_run_id = ${runId}
            AND event_type = 'run.completed'`
          expect(rows).toHaveLength(1)
          yield* sql`DELETE FROM run_events WHERE agent_run_id = ${runId} AND event_type = 'run.completed'`
          const tail = yield* Stream.runCollect(store.streamEvents(runId, { pollIntervalMs: 20 })).pipe(Effect.fork)
          yield* Effect.sleep("150 millis")
          yield* sql`INSERT INTO run_events ${sql.insert(rows[0]!)}`
          const all = Chunk.toArray(yield* Fiber.join(tail))
          expect(all.at(-1)!.eventType).toBe("run.completed")
          expect(all.map((e) => e.sequenceIndex)).toEqual(all.map((_, i) => i))
        }))
    })
  })
}
