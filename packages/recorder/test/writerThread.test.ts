/**
 * The SQLite writer's connection lives in a worker thread: while a commit waits for a lock, the main thread
 * keeps running. Shown without timing: the lock is held by a connection on the main thread with a busy timeout
 * far longer than the retry budget, and released by the main thread while the write waits. A writer on the
 * main thread would sit in SQLite's busy wait, unable to let the holder release, and fail with SQLITE_BUSY.
 */
import { describe, expect, it } from "@effect/vitest"
import { Recorder } from "@sextant/runtime"
import { Context, Effect, Fiber, Layer, Option } from "effect"
import { SqlRecorder } from "../src/index.js"
import { dialects, recordedEvents, runRow, sqliteLocker, started } from "./support.js"

const sqlite = dialects.find((d) => d.name === "sqlite")!

describe("the SQLite writer thread", () => {
  it.scopedLive("a write waiting on a lock leaves the main thread free: the holder releases it and the write commits", () =>
    Effect.gen(function*() {
      const url = yield* sqlite.database
      const locker = yield* sqliteLocker(url)
      const context = yield* Layer.build(
        SqlRecorder.layerFromUrl(url, { database: { busyTimeoutMs: 30_000 }, retry: { budget: "2 seconds" } })
      )
      const recorder = Context.get(context, Recorder)
      yield* Effect.promise(locker.lock)
      const write = yield* Effect.fork(recorder.record(started("waits")))
      // The main thread runs timers and the holder's statements while the write is parked in the thread.
      let turns = 0
      for (let i = 0; i < 20; i++) {
        yield* Effect.sleep("10 millis")
        turns++
      }
      expect(turns).toBe(20)
      // The lock is held: the write cannot have committed.
      expect(Option.isNone(yield* Fiber.poll(write))).toBe(true)
      yield* Effect.promise(locker.unlock)
      yield* Fiber.join(write)
      const [row, events] = yield* Effect.all([runRow("waits"), recordedEvents("waits")]).pipe(
        Effect.provide(SqlRecorder.layerFromUrl(url))
      )
      expect(row).toMatchObject({ status: "running" })
      expect(events.map((e) => e.type)).toEqual(["run.started"])
    }))
})
