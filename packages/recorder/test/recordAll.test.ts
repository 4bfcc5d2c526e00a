/**
 * `recordAll` on the failure paths: a call is one transaction, so a write that fails leaves none of its events
 * durable (across runs too), reports a typed `RecorderError`, and the same call succeeds once the fault is gone.
 * The contract suite (`test-support/contract/groups.ts`) covers the accepted and refused paths.
 */
import { describe, expect, it } from "@effect/vitest"
import { type HookEvent, Recorder, RecorderError } from "@sextant/runtime"
import { Effect, Exit } from "effect"
import { SqlRecorder } from "../src/index.js"
import { dialects, recordedEvents, runRow, sqliteLocker, started } from "./support.js"

const user = (runId: string): HookEvent.HookEvent => ({
  _tag: "MessageAppended",
  runId,
  sequenceIndex: 1,
  iteration: 0,
  timestamp: 1_700_000_001_000,
  orderIndex: 0,
  message: { _tag: "user", content: "hello" }
})

const failure = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : exit

describe("recordAll: one transaction per call", () => {
  for (const dialect of dialects) {
    it.scopedLive(`${dialect.name}: a permanent error in a call spanning two runs writes neither`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const out = yield* Effect.gen(function*() {
          const recorder = yield* Recorder
          // The second run names a parent that does not exist (a foreign key violation).
          const exit = yield* Effect.exit(
            recorder.recordAll!([started("ok-run"), user("ok-run"), started("bad-run", "no-such-run")])
          )
          const before = { ok: yield* recordedEvents("ok-run"), bad: yield* recordedEvents("bad-run") }
          // The same run on its own is fine: nothing of the failed call was left behind.
          yield* recorder.recordAll!([started("ok-run"), user("ok-run")])
          return { exit, before, after: yield* recordedEvents("ok-run") }
        }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url)))
        const error = failure(out.exit)
        expect(error).toBeInstanceOf(RecorderError)
        expect(error).toMatchObject({ operation: "record", reason: "permanent", attempts: 1 })
        expect((error as RecorderError).message).toContain("3 events of 2 runs")
        expect(out.before).toEqual({ ok: [], bad: [] })
        expect(out.after.map((e) => e.seq)).toEqual([0, 1])
      }))
  }

  it.scopedLive("sqlite: the write lock held past the budget fails the whole call as transient", () =>
    Effect.gen(function*() {
      const url = yield* dialects[0]!.database
      const locker = yield* sqliteLocker(url)
      const out = yield* Effect.gen(function*() {
        const recorder = yield* Recorder
        yield* recorder.record(started("held"))
        yield* Effect.promise(locker.lock)
        const exit = yield* Effect.exit(recorder.recordAll!([user("held"), started("held-2"), user("held-2")]))
        yield* Effect.promise(locker.unlock)
        const left = { held: yield* recordedEvents("held"), other: yield* recordedEvents("held-2") }
        const run = yield* runRow("held")
        // The caller may try the same call again once the database takes writes.
        yield* recorder.recordAll!([started("held-2"), user("held-2")])
        return { exit, left, run, other: yield* recordedEvents("held-2") }
      }).pipe(Effect.provide(SqlRecorder.layerFromUrl(url, { retry: { budget: "1 second" } })))
      const error = failure(out.exit)
      expect(error).toBeInstanceOf(RecorderError)
      expect(error).toMatchObject({ reason: "transient", runId: "held", eventType: "message.appended" })
      expect((error as RecorderError).attempts).toBeGreaterThan(1)
      expect((error as RecorderError).message).toMatch(/SQLITE_BUSY/)
      expect(out.left).toEqual({ held: [{ seq: 0, type: "run.started" }], other: [] })
      // The best-effort halt runs once the caller has its error: marked if it got the lock, else left to the sweep.
      expect(out.run).toMatchObject({ last_sequence_index: 0 })
      expect([["running", null], ["error", "recorder"]]).toContainEqual([out.run!.status, out.run!.failure_reason])
      expect(out.other.map((e) => e.seq)).toEqual([0, 1])
    }))
})
