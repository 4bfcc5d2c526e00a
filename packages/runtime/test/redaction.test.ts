/**
 * The redaction policy: a bad setting fails at definition naming its path; key, pattern and tool-path rules
 * drop, mask or HMAC what they match in everything recorded and observed (equal values hash equal) while the
 * caller's own stream keeps it; every event says what was redacted; an oversized field becomes a hash and a
 * truncation marker, its full value in the blob store; metadata-only keeps the usage and drops the content.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Schema, Stream } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { createTempDir } from "../../../test-support/databases.js"
import {
  Agent,
  AgentConfigError,
  HookBus,
  type HookEvent,
  MemoryRecorder,
  Notifier,
  Notifiers,
  Recorder,
  Redaction,
  ScriptedModel,
  type StreamEvent as Events,
  Tool
} from "../src/index.js"

const raw = {
  password: "hunter2-very-secret",
  bearer: "Bearer abc.def.ghi",
  order: "ACME-123456",
  ssn: "078-05-1120",
  account: "acct-998877"
}

const login = Tool.make("login", {
  description: "Logs in",
  parameters: Schema.Struct({ user: Schema.String, password: Schema.String, Authorization: Schema.String }),
  handler: ({ user }) => ({ user, ok: true })
})
const lookup = Tool.make("lookup", {
  description: "Looks an order up",
  parameters: Schema.Struct({ order: Schema.String }),
  handler: ({ order }) => ({ order, customer: { ssn: raw.ssn, account: raw.account, tier: "gold" } })
})

const usage = { inputTokens: 12, outputTokens: 3, costUsd: 0.001 }
const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    text: `Checking order ${raw.order} now.`,
    toolCalls: [
      { name: "login", arguments: { user: "ann", password: raw.password, Authorization: raw.bearer } },
      { name: "lookup", arguments: { order: raw.order } }
    ],
    usage
  },
  { text: `Order ${raw.order} belongs to account ${raw.account}.`, usage }
]

const hashKey = "a-host-key-of-at-least-16-bytes"
const policy: Redaction.Config = {
  hashKey,
  rules: [
    { name: "secrets", keys: ["PASSWORD", "authorization"], action: "drop" },
    { name: "orders", pattern: /ACME-\d{6}/, action: "hash" },
    { name: "lookup", tool: "lookup", result: { deny: ["$.customer.ssn"] }, action: "mask" },
    { name: "accounts", tool: "lookup", result: { deny: ["$.customer.account"] }, action: "hash" }
  ]
}

const leaks = (text: string) => Object.entries(raw).filter(([, v]) => text.includes(v)).map(([k]) => k)

/** Streams a run of `config` on the script: what the recorder, a notifier and the caller got. */
const withNotifier = (config: Partial<Agent.AgentConfig>, steps = script) => {
  const seen: Array<Events.StreamEvent> = []
  const notifier = Notifier.make({ name: "seen", onEvent: (e) => void seen.push(e) })
  return Effect.gen(function*() {
    const agent = yield* Agent.make({ name: "policy", instructions: "Be helpful.", tools: [login, lookup], ...config })
    const caller = Chunk.toArray(yield* Stream.runCollect(agent.stream("Look up my order", { runId: "run-1" })))
    const recorded = yield* (yield* MemoryRecorder).events()
    return { caller, recorded, seen }
  }).pipe(
    Effect.provide(Layer.mergeAll(ScriptedModel.layer(steps), Recorder.memory)),
    Effect.provide(Notifiers.layer([notifier])),
    Effect.scoped
  )
}

const configError = (redaction: unknown) => {
  const made = Effect.runSync(Effect.either(Agent.make({
    name: "bad",
    instructions: "",
    tools: [login, lookup],
    redaction: redaction as Redaction.Config
  })))
  if (Either.isRight(made)) throw new Error("the configuration was accepted")
  expect(made.left).toBeInstanceOf(AgentConfigError)
  return { field: made.left.field, message: made.left.message }
}

describe("redaction policy configuration", () => {
  it("names the path of a bad setting", () => {
    expect(configError({ rules: [{ keys: ["password"], action: "zap" }] }).field).toBe("redaction.rules[0].action")
    expect(configError({ rules: [{ keys: ["password"], action: "hash" }] })).toEqual({
      field: "redaction.hashKey",
      message: "redaction.hashKey: rule 0 hashes, so the policy needs a hashKey (at least 16 bytes)"
    })
    expect(configError({ hashKey: "short", rules: [] }).field).toBe("redaction.hashKey")
    expect(configError({ rules: [{ pattern: "(", action: "mask" }] }).field).toBe("redaction.rules[0].pattern")
    expect(configError({ rules: [{ pattern: "a*", action: "mask" }] }).message).toContain("empty string")
    expect(configError({ rules: [{ tool: "nope", result: { deny: ["$.a"] }, action: "mask" }] }).field).toBe(
      "redaction.rules[0].tool"
    )
    expect(configError({ rules: [{ tool: "lookup", arguments: { deny: ["order"] }, action: "mask" }] }).field)
      .toBe("redaction.rules[0].arguments.deny[0]")
    expect(configError({ rules: [{ keys: ["a"], pattern: "b", action: "mask" }] }).message).toContain(
      "exactly one of keys, pattern or tool"
    )
    expect(configError({ maxFieldBytes: 10 }).field).toBe("redaction.maxFieldBytes")
    expect(configError({ blobs: {} }).field).toBe("redaction.blobs")
  })
})

describe("redaction policy", () => {
  it.effect("drops, masks and hashes in the record and every notifier; the caller's stream keeps its own data", () =>
    Effect.gen(function*() {
      const { caller, recorded, seen } = yield* withNotifier({ redaction: policy })
      expect(recorded.at(-1)?._tag).toBe("RunCompleted")
      expect(leaks(JSON.stringify(recorded))).toEqual([])
      expect(leaks(JSON.stringify(seen))).toEqual([])
      // The caller sent and gets these values (its stream has the guardrails' pass only).
      expect(leaks(JSON.stringify(caller))).toEqual(expect.arrayContaining(["password", "order", "ssn"]))
      const started = recorded.filter((e): e is HookEvent.ToolCallStarted => e._tag === "ToolCallStarted")
      const loginArgs = started.find((e) => e.toolName === "login")!.arguments as Record<string, unknown>
      expect(loginArgs).toEqual({ user: "ann" })
      const completed = recorded.filter((e): e is HookEvent.ToolCallCompleted => e._tag === "ToolCallCompleted")
      const result = completed.find((e) => e.toolName === "lookup")!.result as {
        order: string
        customer: Record<string, string>
      }
      expect(result.customer["ssn"]).toBe("[redacted]")
      expect(result.customer["tier"]).toBe("gold")
      expect(result.customer["account"]).toMatch(/^hmac-sha256:[0-9a-f]{64}$/)
      // Equal values hash equal wherever they appear (joinable), and the hash is not the value.
      const orderArg = (started.find((e) => e.toolName === "lookup")!.arguments as { order: string }).order
      expect(orderArg).toMatch(/^hmac-sha256:[0-9a-f]{64}$/)
      expect(result.order).toBe(orderArg)
      const final = recorded.at(-1) as HookEvent.RunCompleted
      expect(final.answer).toBe(`Order ${orderArg} belongs to account ${result.customer["account"]}.`)
      // Each event says what was redacted, by rule.
      expect(started.find((e) => e.toolName === "login")!.redacted).toEqual({ secrets: 2 })
      expect(completed.find((e) => e.toolName === "lookup")!.redacted).toEqual({ orders: 1, lookup: 1, accounts: 1 })
      // Streamed text to notifiers went through the pattern rule too (held back until the call ended).
      const streamed = seen.map((e) => (e._tag === "TextDelta" ? e.delta : "")).join("")
      expect(streamed).toContain(`Checking order ${orderArg} now.`)
      expect(seen.some((e) => e._tag === "ToolArgumentsDelta")).toBe(false)
    }))

  it.effect("another host key gives other hashes", () =>
    Effect.gen(function*() {
      const one = yield* withNotifier({ redaction: policy })
      const two = yield* withNotifier({ redaction: { ...policy, hashKey: "another-host-key-of-16-bytes" } })
      const argOf = (events: ReadonlyArray<HookEvent.HookEvent>) =>
        JSON.stringify(events.find((e) => e._tag === "ToolCallStarted" && e.toolName === "lookup"))
      expect(argOf(one.recorded)).not.toBe(argOf(two.recorded))
    }))

  it.scoped("an oversized field is kept as a hash and a truncation marker, its value in the blob store", () =>
    Effect.gen(function*() {
      const dir = createTempDir()
      yield* Effect.addFinalizer(() => Effect.sync(dir.remove))
      const big = "x".repeat(3000) + raw.account
      const dump = Tool.make("dump", {
        description: "Returns a lot",
        parameters: Schema.Struct({}),
        handler: () => ({ rows: Array.from({ length: 200 }, (_, i) => ({ i, v: "row" })), text: big })
      })
      const steps: ReadonlyArray<ScriptedModel.ScriptStep> = [
        { toolCalls: [{ name: "dump", arguments: {} }], usage },
        { text: "done", usage }
      ]
      const blobs = Redaction.directory(join(dir.path, "blobs"))
      const { caller, recorded } = yield* Effect.gen(function*() {
        const agent = yield* Agent.make({
          name: "caps",
          instructions: "",
          tools: [dump],
          redaction: { maxFieldBytes: 2048, blobs }
        })
        const caller = Chunk.toArray(yield* Stream.runCollect(agent.stream("go")))
        return { caller, recorded: yield* (yield* MemoryRecorder).events() }
      }).pipe(Effect.provide(Layer.mergeAll(ScriptedModel.layer(steps), Recorder.memory)))
      const completed = recorded.find((e): e is HookEvent.ToolCallCompleted => e._tag === "ToolCallCompleted")!
      const marker = (completed.result as { truncated: { bytes: number; sha256: string; blob: string } }).truncated
      const full = JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => ({ i, v: "row" })), text: big })
      expect(marker).toEqual({
        bytes: Buffer.byteLength(full),
        sha256: Redaction.sha256(full),
        blob: Redaction.blobRef(Redaction.sha256(full))
      })
      expect(completed.redacted).toEqual({ sizeCap: 1 })
      expect(new TextDecoder().decode(yield* blobs.get(marker.sha256))).toBe(full)
      // A long string elsewhere (the tool message's text) keeps a prefix, its size and hash.
      const message = recorded.find((e): e is HookEvent.MessageAppended =>
        e._tag === "MessageAppended" && e.message._tag === "tool"
      )!
      expect(message.message.content).toMatch(/… \[truncated: \d+ bytes, sha256:[0-9a-f]{64}, blob:sha256:/)
      expect(readFileSync(join(dir.path, "blobs", marker.sha256.slice(0, 2), marker.sha256), "utf8")).toBe(full)
      // The caller's stream gets the whole value.
      const shown = caller.find((e) => e._tag === "ToolCallCompleted") as HookEvent.ToolCallCompleted
      expect(JSON.stringify(shown.result)).toBe(full)
    }))

  it.effect("a blob store that refuses a value fails the write, as a failed record does (fail-closed)", () =>
    Effect.gen(function*() {
      const refusing: Redaction.BlobStore = {
        put: (sha256) => Effect.fail(new Redaction.BlobStoreError({ sha256, message: `blob ${sha256}: disk full` })),
        get: (sha256) => Effect.fail(new Redaction.BlobStoreError({ sha256, message: "none" }))
      }
      const agent = yield* Agent.make({
        name: "refused",
        instructions: "",
        redaction: { maxFieldBytes: 1024, blobs: refusing }
      })
      const error = yield* Effect.flip(agent.run("go"))
      expect(error._tag).toBe("RecorderError")
      expect(error.message).toContain("the blob store refused a truncated field's value")
      const recorded = yield* (yield* MemoryRecorder).events()
      expect(recorded.some((e) => e._tag === "LlmCallCompleted")).toBe(false)
    }).pipe(Effect.provide(Layer.mergeAll(
      ScriptedModel.layer([{ text: "y".repeat(5000), usage }]),
      Recorder.memory
    ))))

  it.effect("metadata-only keeps timings, tokens, costs and statuses, and no content", () =>
    Effect.gen(function*() {
      const normal = yield* withNotifier({ redaction: policy })
      const bare = yield* withNotifier({ redaction: { metadataOnly: true } })
      const sums = (events: ReadonlyArray<HookEvent.HookEvent>) =>
        events.flatMap((e) => (e._tag === "LlmCallCompleted" ? [e.usage] : e._tag === "RunCompleted" ? [e.usage] : []))
      expect(sums(bare.recorded)).toEqual(sums(normal.recorded))
      expect(bare.recorded.map((e) => e._tag)).toEqual(normal.recorded.map((e) => e._tag))
      const text = JSON.stringify(bare.recorded) + JSON.stringify(bare.seen)
      expect(leaks(text)).toEqual([])
      for (const content of ["Be helpful.", "Look up my order", "Checking order", "gold", "ann"]) {
        expect(text).not.toContain(content)
      }
      expect(bare.seen.some((e) => e._tag === "TextDelta")).toBe(false)
      const done = bare.recorded.at(-1) as HookEvent.RunCompleted
      expect(done.status).toBe("success")
      expect(done.answer).toBe("")
      expect(done.redacted?.["metadataOnly"]).toBe(1)
      // The caller's stream is the caller's own data.
      expect(leaks(JSON.stringify(bare.caller))).toEqual(expect.arrayContaining(["password", "order"]))
    }))
})

describe("redaction policy on a hook bus opened from outside the loop", () => {
  it.scoped("applies the policy before the recorder, and names a bad setting", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(
        HookBus.open({ runId: "r0", redaction: { rules: [{ keys: ["x"], action: "zap" as never }] } })
      )
      expect(bad.field).toBe("redaction.rules[0].action")
      expect(bad.message).toMatch(/^redaction\.rules\[0\]\.action: /)
      const bus = yield* HookBus.open({
        runId: "r1",
        redaction: { rules: [{ keys: ["password"], action: "mask" }] }
      })
      yield* bus.emit({
        _tag: "RunStarted",
        agentName: "outside",
        instructions: "",
        input: "hi",
        delegationLevel: 0,
        tools: []
      }, 0)
      yield* bus.emit({ _tag: "CustomEvent", name: "custom.login", data: { user: "u", Password: raw.password } }, 0)
      const recorded = yield* (yield* MemoryRecorder).events()
      expect(recorded[1]).toMatchObject({
        data: { user: "u", Password: "[redacted]" },
        redacted: { "keys:password": 1 }
      })
    }).pipe(Effect.provide(Recorder.memory)))
})

describe("redaction policy over JSON held as text", () => {
  it.effect("key rules apply inside a JSON input and a tool result returned as JSON text", () =>
    Effect.gen(function*() {
      const fetchUser = Tool.make("fetch_user", {
        description: "Returns the user record as JSON text",
        parameters: Schema.Struct({}),
        handler: () => JSON.stringify({ user: "ann", password: raw.password, nested: [{ token: raw.bearer }] })
      })
      const agent = yield* Agent.make({
        name: "json-text",
        instructions: "x",
        tools: [fetchUser],
        redaction: { rules: [{ keys: ["password", "token"], action: "drop" }] }
      })
      yield* agent.run(JSON.stringify({ ask: "who", password: raw.password })).pipe(
        Effect.provide(ScriptedModel.layer([{ toolCalls: [{ name: "fetch_user", arguments: {} }] }, { text: "ok" }]))
      )
      const recorded = JSON.stringify(yield* (yield* MemoryRecorder).events())
      expect(recorded).not.toContain(raw.password)
      expect(recorded).not.toContain(raw.bearer)
      // What is not a secret stays, and the text is still JSON.
      expect(recorded).toContain(JSON.stringify(JSON.stringify({ user: "ann", nested: [{}] })).slice(1, -1))
    }).pipe(Effect.provide(Recorder.memory)))
})

describe("redaction policy on a resumed run", () => {
  it.effect("a tool rule applies to a client's submitted result (named by its call, not its tool)", () =>
    Effect.gen(function*() {
      const pay = Tool.make("pay", {
        description: "Client side",
        parameters: Schema.Struct({ amount: Schema.Number }),
        target: "client"
      })
      const agent = yield* Agent.make({
        name: "client",
        instructions: "",
        tools: [pay],
        redaction: { rules: [{ tool: "pay", result: { deny: ["$.card"] }, action: "mask" }] }
      })
      const paused = yield* agent.run("pay 3")
      const callId = paused.pendingCalls![0]!.id
      const done = yield* agent.submitToolResults(paused.runId, [{
        callId,
        result: { card: "4000-1234-5678-9010", ok: true }
      }])
      expect(done.status).toBe("success")
      const recorded = JSON.stringify(yield* (yield* MemoryRecorder).events())
      expect(recorded).not.toContain("4000-1234-5678-9010")
      expect(recorded).toContain(`"card":"[redacted]"`)
    }).pipe(Effect.provide(Layer.mergeAll(
      ScriptedModel.layer([
        { toolCalls: [{ name: "pay", arguments: { amount: 3 } }], usage },
        { text: "Paid.", usage }
      ]),
      Recorder.memory
    ))))
})
