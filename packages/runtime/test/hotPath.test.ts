/**
 * The kernel's fast paths keep what the slow paths guaranteed:
 * - the size cap's check skips a request's history messages already checked in the previous request (the same
 *   object at the same place), and still catches a message that is new or replaced;
 * - the JSON walk keeps its path on a stack: problems are reported at the right path, however deep, after
 *   siblings were walked;
 * - the memory recorder indexes events per run: a retried write of a recorded event is accepted without a
 *   second copy, another event at a recorded index is refused, and runs do not see each other's indexes.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import type { HookEvent, Message } from "../src/HookEvent.js"
import { toJson, toJsonLossy } from "../src/internal/json.js"
import { compileRedaction, makeStoragePass } from "../src/internal/redaction/policy.js"
import { MemoryRecorder, Recorder } from "../src/Recorder.js"

const CAP = 4_096

const pass = () => {
  const compiled = compileRedaction({ maxFieldBytes: CAP }, new Set())
  if (Either.isLeft(compiled)) throw compiled.left
  return makeStoragePass(compiled.right)
}

const completed = (messages: ReadonlyArray<Message>, sequenceIndex: number): HookEvent => ({
  _tag: "LlmCallCompleted",
  runId: "run_cap",
  sequenceIndex,
  iteration: sequenceIndex,
  timestamp: 1_700_000_000_000,
  correlationId: `llm_${sequenceIndex}`,
  provider: "test",
  model: "test-1",
  text: "",
  toolCalls: [],
  finishReason: "stop",
  durationMs: 1,
  request: { system: "be brief", messages, tools: [] }
} as unknown as HookEvent)

const contents = (event: HookEvent): Array<string> =>
  (event as unknown as { request: { messages: Array<{ content: string }> } }).request.messages.map((m) => m.content)

const user = (content: string): Message => ({ _tag: "user", content })

describe("the size cap over a request's history", () => {
  it("a message new to the history is checked, those already checked are not walked again, and stay as they were", () => {
    const storage = pass()
    const small = [user("hello"), user("world")]
    const first = storage.event(completed(small, 1))
    expect(contents(first)).toEqual(["hello", "world"])
    // The next request: the same messages (the same objects) and a new one over the cap.
    const big = user("x".repeat(CAP * 2))
    const second = storage.event(completed([...small, big], 2))
    const [a, b, c] = contents(second)
    expect([a, b]).toEqual(["hello", "world"])
    expect(c).toMatch(/… \[truncated: \d+ bytes, sha256:[0-9a-f]{64}\]$/)
    expect(c!.length).toBeLessThan(CAP)
  })

  it("a different message at a place already checked is checked (identity, not position, is what is skipped)", () => {
    const storage = pass()
    const history = [user("hello"), user("world")]
    storage.event(completed(history, 1))
    // Same length, same place, another object: over the cap.
    const replaced = [history[0]!, user("y".repeat(CAP * 2))]
    const [, b] = contents(storage.event(completed(replaced, 2)))
    expect(b).toMatch(/truncated/)
    // And a shorter history afterwards (another segment's request) is checked from scratch.
    const [c] = contents(storage.event(completed([user("z".repeat(CAP * 2))], 3)))
    expect(c).toMatch(/truncated/)
  })

  it("a request whose history is over the cap leaves the next request's check unaffected", () => {
    const storage = pass()
    const big = user("w".repeat(CAP * 2))
    const [first] = contents(storage.event(completed([big], 1)))
    expect(first).toMatch(/truncated/)
    // The history that went over was not remembered as checked: the same object is caught again.
    const [again] = contents(storage.event(completed([big, user("ok")], 2)))
    expect(again).toMatch(/truncated/)
  })
})

describe("the JSON walk's paths", () => {
  it("reports a problem at its full path after siblings were walked", () => {
    const value = { a: [1, { b: "x" }, { c: [true, { d: 1n }] }], e: 2 }
    expect(toJson(value)).toEqual(Either.left("not JSON-serialisable: $.a[2].c[1].d is a bigint"))
    expect(toJson({ a: { b: 1 }, c: [null, Number.NaN] })).toEqual(
      Either.left("not JSON-serialisable: $.c[1] is NaN")
    )
  })

  it("a lossy copy marks every problem and keeps everything else, at any depth", () => {
    const thrower = Object.defineProperty({}, "x", {
      enumerable: true,
      get: () => {
        throw new Error("nope")
      }
    })
    const cyclic: Record<string, unknown> = { name: "c" }
    cyclic.self = cyclic
    expect(toJsonLossy({ a: [1, 2n, { b: thrower }], c: cyclic, d: [undefined, "ok"] })).toEqual({
      a: [1, "[bigint 2]", { b: { x: "[unreadable: nope]" } }],
      c: { name: "c", self: "[circular]" },
      d: [null, "ok"]
    })
  })
})

describe("the memory recorder's index", () => {
  const started = (runId: string): HookEvent => ({
    _tag: "RunStarted",
    runId,
    sequenceIndex: 0,
    iteration: 0,
    timestamp: 1_700_000_000_000,
    agentName: "a",
    input: "hi"
  } as unknown as HookEvent)
  const appended = (runId: string, sequenceIndex: number, timestamp: number): HookEvent => ({
    _tag: "MessageAppended",
    runId,
    sequenceIndex,
    iteration: 0,
    timestamp,
    orderIndex: sequenceIndex - 1,
    message: { _tag: "user", content: "hi" }
  } as unknown as HookEvent)

  it.effect("a retried write is accepted once, another event at a recorded index is refused, runs are apart", () =>
    Effect.gen(function*() {
      const recorder = yield* Recorder
      yield* recorder.record(started("r1"))
      yield* recorder.record(appended("r1", 1, 1))
      // The same event again (its reply was lost): accepted, not kept twice.
      yield* recorder.record(appended("r1", 1, 1))
      // Another event at index 1: refused.
      const other = yield* Effect.exit(recorder.record(appended("r1", 1, 2)))
      expect(Exit.isFailure(other)).toBe(true)
      // Another run's index 0 and 1 are its own.
      yield* recorder.record(started("r2"))
      yield* recorder.record(appended("r2", 1, 1))
      const events = yield* (yield* MemoryRecorder).events()
      expect(events.map((e) => `${e.runId}#${e.sequenceIndex}`)).toEqual(["r1#0", "r1#1", "r2#0", "r2#1"])
    }).pipe(Effect.provide(Recorder.memory)))
})
