/**
 * The store's LISTEN comes back after its connection is lost: its backend is terminated (as a Postgres
 * restart or an idle-connection reaper would) while a tail waits, the hub LISTENs again on a new connection,
 * and a later commit wakes the tail by notification (its poll interval is 60 s: polling cannot explain it).
 */
import { describe, expect, layer } from "@effect/vitest"
import { Agent, Ids, ScriptedModel, Tool } from "@sextant/runtime"
import { Deferred, Effect, Fiber, Schedule, Schema, Stream } from "effect"
import pg from "pg"
import { RunStore } from "../src/index.js"
import { DatabaseUrl, dialects, storeLayer } from "./support.js"

const postgres = dialects.find((d) => d.name === "postgres")!

/** The pids of the database's LISTEN connections other than the asking one. */
const listeners = (url: string) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND query LIKE 'LISTEN%'`
      )
      return rows.map((r) => r.pid)
    } finally {
      await client.end()
    }
  })

const terminate = (url: string, pid: number) =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query("SELECT pg_terminate_backend($1)", [pid])
    } finally {
      await client.end()
    }
  })

/** Polls `check` every 100 ms until it holds, for up to 20 s (then dies naming `what`). */
const until = <A>(what: string, check: Effect.Effect<A>, holds: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const a = yield* check
      if (holds(a)) return a
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.dieMessage(`never happened within 20 s: ${what}`)
  })

describe("RunStore live tail on postgres: the LISTEN connection lost", () => {
  // Real clock: the hub probes and backs off in real time.
  layer(storeLayer(postgres), { timeout: 60_000, excludeTestServices: true })((it) => {
    it.effect("the hub LISTENs again and a later commit wakes the tail by notification", () =>
      Effect.gen(function*() {
        const store = yield* RunStore
        const url = yield* DatabaseUrl
        const gates = [yield* Deferred.make<void>(), yield* Deferred.make<void>()] as const
        const gated = (name: string, gate: Deferred.Deferred<void>) =>
          Tool.make(name, {
            description: `waits for its gate (${name})`,
            parameters: Schema.Struct({}),
            handler: () => Effect.as(Deferred.await(gate), { ok: true })
          })
        const agent = yield* Agent.make({
          name: "relisten",
          instructions: "wait twice",
          tools: [gated("first", gates[0]), gated("second", gates[1])]
        })
        const runId = Ids.make()
        const running = yield* agent.run("go", { runId }).pipe(
          Effect.provide(ScriptedModel.layer([
            { toolCalls: [{ name: "first", arguments: {} }] },
            { toolCalls: [{ name: "second", arguments: {} }] },
            { text: "done" }
          ])),
          Effect.fork
        )
        yield* Effect.retry(store.getRun(runId), { times: 500, schedule: Schedule.spaced("10 millis") })
        // The tail, recording what it has been given; polling once a minute.
        const seen: Array<string> = []
        const tail = yield* store.streamEvents(runId, { pollIntervalMs: 60_000 }).pipe(
          Stream.runForEach((e) => Effect.sync(() => seen.push(e.eventType))),
          Effect.fork
        )
        const saw = (eventType: string, count: number) =>
          until(
            `the tail saw ${count} ${eventType}`,
            Effect.sync(() => seen.filter((s) => s.startsWith(eventType)).length),
            (n) => n >= count
          )
        // The first tool is in flight: the tail has read it and waits, subscribed (one LISTEN connection).
        yield* saw("tool.started", 1)
        const [before] = yield* until("a LISTEN connection", listeners(url), (pids) => pids.length === 1)
        yield* terminate(url, before!)
        // A LISTEN again, on another connection.
        const after = yield* until(
          "a LISTEN on a new connection",
          listeners(url),
          (pids) => pids.length === 1 && pids[0] !== before
        )
        expect(after[0]).not.toBe(before)
        // The run goes on to its second tool: woken (a notification, or the hub's re-read once it is back).
        yield* Deferred.succeed(gates[0], undefined)
        yield* saw("tool.started", 2)
        // The tail is idle again; the rest of the run can only reach it by notification within the test's
        // timeout (45 s against a 60 s poll).
        yield* Deferred.succeed(gates[1], undefined)
        yield* Fiber.join(running)
        yield* Fiber.join(tail)
        expect(seen.at(-1)).toMatch(/^run\.completed/)
        const recorded = yield* store.getEvents(runId, { limit: 1000 })
        expect(seen).toHaveLength(recorded.items.length)
      }), { timeout: 45_000 })
  })
})
