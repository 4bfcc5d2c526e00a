import { describe, expect, it } from "@effect/vitest"
import { Recorder, RecorderError } from "@sextant/runtime"
import { Effect, Exit, Fiber } from "effect"
import { SqlRecorder } from "../src/index.js"
import { dialects, pgAdmin, recordedEvents, sqliteLocker, started } from "./support.js"

/** Holds the database's writes for a moment so that concurrent records pile up into one shared batch. */
const writeBlocker = (dialect: string, url: string) =>
  Effect.gen(function*() {
    if (dialect === "sqlite") return yield* sqliteLocker(url)
    const admin = yield* pgAdmin(url)
    return {
      lock: () =>
        admin("BEGIN").then(() => admin("LOCK TABLE agent_runs IN SHARE ROW EXCLUSIVE MODE")).then(() => undefined),
      unlock: () => admin("COMMIT").then(() => undefined)
    }
  })

describe("group commit", () => {
  for (const dialect of dialects) {
    it.scopedLive(`${dialect.name}: a permanent error in a shared batch fails only the write that caused it`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const blocker = yield* writeBlocker(dialect.name, url)
        const out = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          yield* recorder.record(started("first"))
          yield* Effect.promise(blocker.lock)
          // While writes wait, ten runs start; the last names a parent run that does not exist (a foreign key violation).
          const ids = Array.from({ length: 10 }, (_, i) => `run-${i}`)
          const fiber = yield* Effect.fork(
            Effect.forEach(
              ids,
              (id, i) => Effect.exit(recorder.record(started(id, i === 9 ? "no-such-run" : undefined))),
              {
                concurrency: "unbounded"
              }
            )
          )
          yield* Effect.sleep("300 millis")
          yield* Effect.promise(blocker.unlock)
          const exits = yield* Fiber.join(fiber)
          const events = yield* Effect.forEach(ids, recordedEvents)
          return { exits, events }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        expect(out.exits.slice(0, 9).every(Exit.isSuccess)).toBe(true)
        const bad = out.exits[9]!
        const error = Exit.isFailure(bad) && bad.cause._tag === "Fail" ? bad.cause.error : undefined
        expect(error).toBeInstanceOf(RecorderError)
        expect(error).toMatchObject({ runId: "run-9", reason: "permanent", attempts: 1 })
        expect(out.events.slice(0, 9).every((e) => e.length === 1)).toBe(true)
        expect(out.events[9]).toEqual([])
      }))
  }
})
