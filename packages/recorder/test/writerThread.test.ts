/**
 * The SQLite writer's connection lives in a worker thread: while a commit waits for a lock, the main thread
 * keeps running. Shown without timing: the lock is held by a connection on the main thread with a busy timeout
 * far longer than the retry budget, and released by the main thread while the write waits. A writer on the
 * main thread would sit in SQLite's busy wait, unable to let the holder release, and fail with SQLITE_BUSY.
 */
import { describe, expect, it } from "@effect/vitest"
import { type HookEvent, Recorder } from "@sextant/runtime"
import { Context, Effect, Exit, Fiber, Layer, Option } from "effect"
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

  it.scopedLive("a commit on the main thread's connection writes and refuses exactly as one on the thread", () =>
    Effect.gen(function*() {
      const message = (runId: string, sequenceIndex: number): HookEvent.HookEvent => ({
        _tag: "MessageAppended",
        runId,
        sequenceIndex,
        iteration: 1,
        timestamp: 1_700_000_000_000 + sequenceIndex,
        orderIndex: sequenceIndex,
        message: { _tag: "user", content: "more" }
      })
      // One run at a time (the main thread's case) through each path: the same rows, the same refusal of a gap.
      const outcome = (sqliteMainThread: boolean) =>
        Effect.gen(function*() {
          const url = yield* sqlite.database
          const context = yield* Layer.build(SqlRecorder.layerFromUrl(url, { sqliteMainThread }))
          const recorder = Context.get(context, Recorder)
          yield* recorder.record(started("r"))
          const recordAll = recorder.recordAll
          expect(recordAll).toBeDefined()
          yield* recordAll!([message("r", 1), message("r", 2)])
          const gap = yield* Effect.exit(recorder.record(message("r", 5)))
          const [row, events] = yield* Effect.all([runRow("r"), recordedEvents("r")]).pipe(
            Effect.provide(SqlRecorder.layerFromUrl(url))
          )
          return {
            row: { status: row?.status, last: row?.last_sequence_index },
            events: events.map((e) => e.type),
            gap: Exit.isFailure(gap) ? gap.cause.toString() : "recorded"
          }
        })
      const [here, there] = [yield* outcome(true), yield* outcome(false)]
      expect(here).toEqual(there)
      expect(here.events).toEqual(["run.started", "message.appended", "message.appended"])
      expect(here.gap).toMatch(/expected #4/)
    }))
})
