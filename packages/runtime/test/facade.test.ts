import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import {
  Agent,
  AgentMismatch,
  AgentRuntime,
  HookEvent,
  IdempotencyConflict,
  InvalidRunOptions,
  InvalidToolResults,
  Recorder,
  RecorderError,
  RunAlreadyActive,
  RunAlreadyClaimed,
  RunAlreadyTerminal,
  RunLedger,
  RunNotFound,
  RunNotPaused,
  ScriptedModel,
  Tool
} from "../src/index.js"

/** What a Promise rejected with. */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => {
    throw new Error("expected a rejection")
  }, (error: unknown) => error)

const pick = Tool.make("pick_file", {
  description: "Let the user pick a file (runs in the client)",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})

/** A gate a tool waits on, so that a resumed run stays `running` while a second submitter tries. */
const gate = () => {
  let open!: () => void
  let entered!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  const inside = new Promise<void>((resolve) => (entered = resolve))
  const tool = Tool.make("wait", {
    description: "waits for the test",
    parameters: Schema.Struct({}),
    handler: async () => {
      entered()
      await opened
      return "done"
    }
  })
  return { tool, open, inside }
}

/** The memory recorder, its ledger slow to answer reads (as a database is). */
const slowReads = Layer.map(Recorder.memory, (context) => {
  const ledger = Context.get(context, RunLedger)
  return Context.add(context, RunLedger, {
    ...ledger,
    get: (runId) => Effect.tap(ledger.get(runId), () => Effect.sleep("5 millis"))
  })
})

describe("AgentRuntime rejects with the typed error itself", () => {
  it("run and stream: InvalidRunOptions, RunAlreadyActive, IdempotencyConflict", async () => {
    const runtime = AgentRuntime.make(
      Layer.merge(
        ScriptedModel.layer([{ toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }] }]),
        Recorder.memory
      )
    )
    const agent = Agent.makeSync({ name: "files", instructions: "", tools: [pick] })
    try {
      const invalid = await rejection(runtime.run(agent, "hi", { runId: "" }))
      expect(invalid).toBeInstanceOf(InvalidRunOptions)
      expect(invalid).toMatchObject({ _tag: "InvalidRunOptions", field: "runId" })

      const paused = await runtime.run(agent, "hi", { idempotencyKey: "k" })
      expect(paused.status).toBe("waiting_client_tool")
      const active = await rejection(runtime.run(agent, "hi", { idempotencyKey: "k" }))
      expect(active).toBeInstanceOf(RunAlreadyActive)
      expect(active).toMatchObject({ _tag: "RunAlreadyActive", runId: paused.runId, status: "waiting_client_tool" })
      const conflict = await rejection(runtime.run(agent, "other", { idempotencyKey: "k" }))
      expect(conflict).toBeInstanceOf(IdempotencyConflict)
      expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", idempotencyKey: "k", runId: paused.runId })

      const iterator = runtime.stream(agent, "hi", { tenantId: "" })[Symbol.asyncIterator]()
      const streamed = await rejection(iterator.next())
      expect(streamed).toBeInstanceOf(InvalidRunOptions)
      expect(streamed).toMatchObject({ _tag: "InvalidRunOptions", field: "tenantId" })
    } finally {
      await runtime.dispose()
    }
  })

  it("run: RecorderError with its operation and event", async () => {
    const failing = Layer.succeed(Recorder, {
      record: (event) =>
        Effect.fail(
          new RecorderError({
            operation: "record",
            eventType: HookEvent.eventType(event),
            runId: event.runId,
            sequenceIndex: event.sequenceIndex,
            attempts: 3,
            reason: "transient",
            message: "database unreachable"
          })
        )
    })
    const runtime = AgentRuntime.make(Layer.merge(ScriptedModel.layer([]), failing))
    try {
      const error = await rejection(runtime.run(Agent.makeSync({ name: "a", instructions: "" }), "hi"))
      expect(error).toBeInstanceOf(RecorderError)
      expect(error).toMatchObject({
        _tag: "RecorderError",
        operation: "record",
        eventType: "run.started",
        sequenceIndex: 0,
        reason: "transient"
      })
      // Without a ledger, the calls that read runs back name the missing part.
      const noLedger = await rejection(runtime.cancelRun("r"))
      expect(noLedger).toBeInstanceOf(InvalidRunOptions)
      expect(noLedger).toMatchObject({ _tag: "InvalidRunOptions", field: "recorder" })
    } finally {
      await runtime.dispose()
    }
  })

  it("submits, cancel and retry: every documented error", async () => {
    const { inside, open, tool } = gate()
    const runtime = AgentRuntime.make(
      Layer.merge(
        ScriptedModel.layer([
          { toolCalls: [{ name: "pick_file", arguments: { kind: "a" } }] },
          { toolCalls: [{ name: "wait", arguments: {} }] },
          { text: "ok" }
        ]),
        slowReads
      )
    )
    const agent = Agent.makeSync({ name: "files", instructions: "", tools: [pick, tool] })
    const other = Agent.makeSync({ name: "other", instructions: "", tools: [pick] })
    try {
      const paused = await runtime.run(agent, "go")
      const callId = paused.pendingCalls![0]!.id

      const missing = await rejection(runtime.submitToolResults(agent, "nope", []))
      expect(missing).toBeInstanceOf(RunNotFound)
      expect(missing).toMatchObject({ _tag: "RunNotFound", runId: "nope" })
      const invalid = await rejection(runtime.submitToolResults(agent, paused.runId, [{ callId: "zzz", result: 1 }]))
      expect(invalid).toBeInstanceOf(InvalidToolResults)
      expect(invalid).toMatchObject({ _tag: "InvalidToolResults", missing: [callId], unknown: ["zzz"] })
      const mismatch = await rejection(runtime.submitToolResults(other, paused.runId, [{ callId, result: 1 }]))
      expect(mismatch).toBeInstanceOf(AgentMismatch)
      expect(mismatch).toMatchObject({ _tag: "AgentMismatch", expected: "files", actual: "other" })
      const notPaused = await rejection(runtime.submitApproval(agent, paused.runId, { approved: true }))
      expect(notPaused).toBeInstanceOf(RunNotPaused)
      expect(notPaused).toMatchObject({ _tag: "RunNotPaused", status: "waiting_client_tool" })
      expect(await rejection(runtime.submitInput(agent, paused.runId, "x"))).toBeInstanceOf(RunNotPaused)
      const stillActive = await rejection(runtime.retryRun(agent, paused.runId))
      expect(stillActive).toBeInstanceOf(RunAlreadyActive)

      // Both submitters read the run while it is paused (the ledger is slow to answer); one claim wins.
      const both = [
        runtime.submitToolResults(agent, paused.runId, [{ callId, result: "/a" }]),
        runtime.submitToolResults(agent, paused.runId, [{ callId, result: "/b" }])
      ]
      await inside
      const settled = await Promise.race(both.map((p) => rejection(p)))
      expect(settled).toBeInstanceOf(RunAlreadyClaimed)
      expect(settled).toMatchObject({ _tag: "RunAlreadyClaimed", runId: paused.runId })
      open()
      const outcomes = await Promise.allSettled(both)
      expect(outcomes.filter((o) => o.status === "fulfilled").map((o) => o.value.status)).toEqual(["success"])

      const terminal = await rejection(runtime.submitToolResults(agent, paused.runId, [{ callId, result: 1 }]))
      expect(terminal).toBeInstanceOf(RunAlreadyTerminal)
      expect(terminal).toMatchObject({ _tag: "RunAlreadyTerminal", status: "success" })
      expect(await rejection(runtime.cancelRun("nope"))).toMatchObject({ _tag: "RunNotFound", runId: "nope" })
      expect(await rejection(runtime.retryRun(agent, "nope"))).toBeInstanceOf(RunNotFound)
      const wrongAgent = await rejection(runtime.retryRun(other, paused.runId))
      expect(wrongAgent).toMatchObject({ _tag: "AgentMismatch", expected: "files" })
    } finally {
      await runtime.dispose()
    }
  })
})

/** A build failure of the test's recorder layer. */
class StoreMissing extends Schema.TaggedError<StoreMissing>()("StoreMissing", {
  path: Schema.String,
  message: Schema.String
}) {}

describe("AgentRuntime whose first build failed", () => {
  // A recorder that needs its directory to exist, as a SQLite file does: the first build finds none.
  const dir = join(mkdtempSync(join(tmpdir(), "sextant-rebuild-")), "data")
  let builds = 0
  const needsDirectory = Layer.unwrapEffect(Effect.suspend(() => {
    builds++
    return existsSync(dir)
      ? Effect.succeed(Recorder.memory)
      : Effect.fail(new StoreMissing({ path: dir, message: `directory ${dir} does not exist` }))
  }))

  it("reports the failure from ready() and run(), then recovers once the cause is fixed", async () => {
    const runtime = AgentRuntime.make(Layer.merge(ScriptedModel.layer([{ text: "ok" }]), needsDirectory))
    const agent = Agent.makeSync({ name: "a", instructions: "" })
    try {
      const notReady = await rejection(runtime.ready())
      expect(notReady).toBeInstanceOf(StoreMissing)
      expect(notReady).toMatchObject({ _tag: "StoreMissing", path: dir })
      // Each call tries again (the failure is not kept), and says the same.
      expect(await rejection(runtime.run(agent, "hi"))).toMatchObject({ _tag: "StoreMissing" })
      expect(builds).toBe(2)

      mkdirSync(dir, { recursive: true })
      await runtime.ready()
      const result = await runtime.run(agent, "hi")
      expect(result).toMatchObject({ status: "success", answer: "ok" })
      expect(builds).toBe(3)
    } finally {
      await runtime.dispose()
      rmSync(dirname(dir), { recursive: true, force: true })
    }
  })

  it("concurrent calls during a failing build share it, and a stream retries too", async () => {
    let attempts = 0
    const flaky = Layer.unwrapEffect(Effect.suspend(() => {
      attempts++
      return attempts === 1
        ? Effect.fail(new StoreMissing({ path: "x", message: "not yet" })).pipe(Effect.delay("10 millis"))
        : Effect.succeed(Recorder.memory)
    }))
    const runtime = AgentRuntime.make(Layer.merge(ScriptedModel.layer([{ text: "ok" }]), flaky))
    const agent = Agent.makeSync({ name: "a", instructions: "" })
    try {
      const [a, b] = await Promise.all([rejection(runtime.ready()), rejection(runtime.stats())])
      expect(a).toMatchObject({ _tag: "StoreMissing" })
      expect(b).toMatchObject({ _tag: "StoreMissing" })
      expect(attempts).toBe(1)
      const tags: Array<string> = []
      for await (const event of runtime.stream(agent, "hi")) tags.push(event._tag)
      expect(tags.at(-1)).toBe("RunCompleted")
      expect(attempts).toBe(2)
    } finally {
      await runtime.dispose()
    }
  })
})
