/**
 * The bus's redaction pass as a property: whatever event kind carries a value already in the run's mapping,
 * wherever it is placed (any field, nested, inside other text), and however streamed text is split into
 * deltas, no raw value reaches the recorder or a sink. With a redaction policy (key names in any case, a
 * pattern, a tool's result path, each rule in a random mode), no value it covers reaches the recorder or an
 * observer either, wherever it is placed and wherever a value a rule redacted reappears later in the run.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as Guardrails from "../src/Guardrails.js"
import type { HookEvent } from "../src/HookEvent.js"
import { type HookEventInput, makeBus } from "../src/internal/bus.js"
import type { RedactionSpec } from "../src/internal/config/redactionConfig.js"
import { makePolicy } from "../src/internal/privacy.js"
import { compileRedaction, makeStoragePass } from "../src/internal/redaction/policy.js"
import type { RecorderService } from "../src/Recorder.js"
import type { StreamEvent } from "../src/StreamEvent.js"

const rawValues = [
  "jane.doe@example.com",
  "4111 1111 1111 1111",
  "+44 20 7946 0958",
  "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "AKIAIOSFODNN7EXAMPLE"
]
const guardrails = [Guardrails.PII(), Guardrails.SecretDetection({ action: "redact" })]

/** A mapping holding every raw value (as a run that scanned its input would). */
const mapping: Guardrails.Redactions = {
  byPlaceholder: Object.fromEntries(rawValues.map((v, i) => [`<<MAPPED_${i + 1}>>`, v])),
  counters: { MAPPED: rawValues.length }
}

/** Values a redaction policy covers: one under a key rule, one matching a pattern, one at a tool's result path. */
const policyRaw = { keyed: "hunter2-keyed-secret", pattern: "ACME-123456", path: "cust-4242-9999" }
const policyValues = Object.values(policyRaw)
type Mode = "drop" | "mask" | "hash"

/** The storage pass of a policy with the three rules in the given modes. */
const storageOf = (modes: readonly [Mode, Mode, Mode]) => {
  const compiled = compileRedaction({
    hashKey: "a-host-key-of-at-least-16-bytes",
    rules: [
      { keys: ["password", "api_token"], action: modes[0] },
      { pattern: "ACME-\\d{6}", action: modes[1] },
      { tool: "lookup", result: { deny: ["$.customer.id"] }, action: modes[2] }
    ]
  } as unknown as RedactionSpec, new Set(["lookup"]))
  if (compiled._tag === "Left") throw compiled.left
  return makeStoragePass(compiled.right)
}

/**
 * A bus over an in-memory recorder, one capturing sink and the caller's stream, with the policy of a run holding
 * `mapping` and, when given, a redaction policy's storage pass.
 */
const harnessWith = (modes?: readonly [Mode, Mode, Mode]) =>
  Effect.gen(function*() {
    const recorded: Array<HookEvent> = []
    const delivered: Array<StreamEvent> = []
    const caller: Array<StreamEvent> = []
    let redactions = mapping
    const recorder: RecorderService = { record: (event) => Effect.sync(() => void recorded.push(event)) }
    const bus = yield* makeBus({
      runId: "run-1",
      recorder,
      sinks: [(event) => void delivered.push(event)],
      caller: (event) => void caller.push(event),
      traceContext: undefined,
      startSequence: 0,
      policy: makePolicy({ guardrails, get: () => redactions, set: (r) => (redactions = r) }),
      storage: modes === undefined ? undefined : storageOf(modes)
    })
    return { bus, recorded, delivered, caller }
  })
const harness = harnessWith()

const leaked = (text: string) => rawValues.filter((v) => text.includes(v))
const policyLeaked = (text: string) => [...rawValues, ...policyValues].filter((v) => text.includes(v))

/** Text with raw values dropped in at random places. */
const textWithRaw = fc.tuple(
  fc.array(fc.oneof(fc.constantFrom(...rawValues), fc.string({ maxLength: 12 }).map((s) => s.replace(/[<>]/g, ""))), {
    minLength: 1,
    maxLength: 6
  })
).map(([parts]) => parts.join(" "))

/** A JSON value carrying such text at random depths and keys. */
const jsonWithRaw: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    textWithRaw,
    fc.integer(),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("note", "password", "result", "data", "nested", "id", "name"), tie("value"), {
      maxKeys: 3
    })
  )
})).value

/** Events of several kinds with the random content in their content fields. */
const eventWithRaw: fc.Arbitrary<HookEventInput> = fc.oneof(
  fc.record({ text: textWithRaw }).map(({ text }) => ({
    _tag: "MessageAppended" as const,
    orderIndex: 0,
    message: { _tag: "user" as const, content: text }
  })),
  fc.record({ result: jsonWithRaw, error: textWithRaw }).map(({ error, result }) => ({
    _tag: "ToolCallCompleted" as const,
    correlationId: "c1",
    toolName: "lookup",
    target: "server" as const,
    success: false,
    result: result as never,
    durationMs: 1,
    error
  })),
  fc.record({ reason: textWithRaw }).map(({ reason }) => ({
    _tag: "ApprovalDecided" as const,
    approved: false,
    reason
  })),
  fc.record({ input: textWithRaw, metadata: jsonWithRaw }).map(({ input, metadata }) => ({
    _tag: "RunStarted" as const,
    agentName: "a",
    instructions: "i",
    input,
    model: "m",
    provider: "p",
    delegationLevel: 0,
    tools: [],
    metadata: { m: metadata } as never
  }))
)

/** Text with mapped and policy-covered values dropped in at random places. */
const textWithAll = fc.array(
  fc.oneof(
    fc.constantFrom(...rawValues, ...policyValues),
    fc.string({ maxLength: 12 }).map((s) => s.replace(/[<>]/g, ""))
  ),
  { minLength: 1, maxLength: 6 }
).map((parts) => parts.join(" "))

/** A JSON value with such text at random depths, and the keyed value under a key rule's name in any case. */
const jsonWithAll: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    textWithAll,
    fc.integer(),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("note", "result", "data", "nested", "id", "name", "redacted"), tie("value"), {
      maxKeys: 3
    }),
    fc.constantFrom("password", "Password", "PASSWORD", "api_token", "API_Token").map((k) => ({
      [k]: policyRaw.keyed
    }))
  )
})).value

/** The first event: the tool result that puts the path value and the keyed value in the run. */
const firstSeen: HookEventInput = {
  _tag: "ToolCallCompleted",
  correlationId: "c0",
  toolName: "lookup",
  target: "server",
  success: true,
  result: { customer: { id: policyRaw.path, name: "x" }, password: policyRaw.keyed },
  durationMs: 1
}

/** Later events of several kinds carrying any of the values anywhere. */
const laterEvent: fc.Arbitrary<HookEventInput> = fc.oneof(
  textWithAll.map((text) => ({
    _tag: "MessageAppended" as const,
    orderIndex: 0,
    message: { _tag: "user" as const, content: text }
  })),
  fc.record({ result: jsonWithAll, tool: fc.constantFrom("lookup", "other") }).map(({ result, tool }) => ({
    _tag: "ToolCallCompleted" as const,
    correlationId: "c1",
    toolName: tool,
    target: "server" as const,
    success: true,
    result: result as never,
    durationMs: 1
  })),
  fc.record({ text: textWithAll, payload: jsonWithAll }).map(({ payload, text }) => ({
    _tag: "LlmCallCompleted" as const,
    correlationId: "llm-9",
    provider: "p",
    model: "m",
    text,
    toolCalls: [{ id: "t1", name: "lookup", arguments: { q: text } }],
    finishReason: "stop",
    durationMs: 1,
    request: { system: "", messages: [{ _tag: "tool", toolCallId: "t0", toolName: "lookup", content: text }] },
    providerResponse: { raw: JSON.stringify(payload) }
  })),
  fc.record({ data: jsonWithAll }).map(({ data }) => ({
    _tag: "CustomEvent" as const,
    name: "custom.thing" as const,
    data: data as never
  }))
)

const mode = fc.constantFrom<Mode>("drop", "mask", "hash")

describe("the bus's redaction pass", () => {
  it.effect("with a redaction policy, no covered value reaches the recorder or an observer, in any mode", () =>
    Effect.gen(function*() {
      fc.assert(
        fc.property(fc.tuple(mode, mode, mode), fc.array(laterEvent, { minLength: 1, maxLength: 5 }), (
          modes,
          events
        ) => {
          const { bus, caller, delivered, recorded } = Effect.runSync(harnessWith(modes))
          for (const e of [firstSeen, ...events]) Effect.runSync(bus.emit(e, 1))
          expect(recorded).toHaveLength(events.length + 1)
          expect(policyLeaked(JSON.stringify(recorded))).toEqual([])
          expect(policyLeaked(JSON.stringify(delivered))).toEqual([])
          // The caller's stream has the guardrails' pass only: no mapped value, its own data kept.
          expect(leaked(JSON.stringify(caller))).toEqual([])
          expect(JSON.stringify(caller)).toContain(policyRaw.path)
        }),
        { numRuns: 150 }
      )
    }))

  it.effect("no event kind or placement delivers a mapped raw value to the recorder or a sink", () =>
    Effect.gen(function*() {
      fc.assert(
        fc.property(fc.array(eventWithRaw, { minLength: 1, maxLength: 5 }), (events) => {
          const { bus, delivered, recorded } = Effect.runSync(harness)
          for (const e of events) Effect.runSync(bus.emit(e, 1))
          expect(recorded).toHaveLength(events.length)
          expect(leaked(JSON.stringify(recorded))).toEqual([])
          expect(leaked(JSON.stringify(delivered))).toEqual([])
        }),
        { numRuns: 150 }
      )
    }))

  it.effect("streamed text split anywhere never sends a raw value, and the deltas add up to the redacted text", () =>
    Effect.gen(function*() {
      fc.assert(
        fc.property(textWithRaw, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), (
          text,
          cuts
        ) => {
          const { bus, delivered, recorded } = Effect.runSync(harness)
          let at = 0
          let i = 0
          while (at < text.length) {
            const size = cuts[i++ % cuts.length]!
            Effect.runSync(
              bus.delta({
                _tag: "TextDelta",
                iteration: 1,
                correlationId: "llm-1",
                sequence: i - 1,
                delta: text.slice(at, at + size)
              })
            )
            at += size
          }
          Effect.runSync(bus.emit({
            _tag: "LlmCallCompleted",
            correlationId: "llm-1",
            provider: "p",
            model: "m",
            text,
            toolCalls: [],
            finishReason: "stop",
            durationMs: 1,
            request: { system: "", messages: [], tools: [] }
          }, 1))
          const streamed = delivered.map((e) => (e._tag === "TextDelta" ? e.delta : "")).join("")
          expect(leaked(streamed)).toEqual([])
          const completed = recorded[0]
          expect(completed?._tag === "LlmCallCompleted" && completed.text).toBe(streamed)
          // Held-back text is released before the call's record reaches the sinks.
          expect(delivered.at(-1)?._tag).toBe("LlmCallCompleted")
        }),
        { numRuns: 150 }
      )
    }))

  it.effect("streamed text split anywhere never sends a pattern's match to an observer", () =>
    Effect.gen(function*() {
      fc.assert(
        fc.property(textWithAll, mode, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }), (
          text,
          m,
          cuts
        ) => {
          const { bus, caller, delivered } = Effect.runSync(harnessWith([m, m, m]))
          let at = 0
          let i = 0
          while (at < text.length) {
            const size = cuts[i++ % cuts.length]!
            Effect.runSync(bus.delta({
              _tag: "TextDelta",
              iteration: 1,
              correlationId: "llm-1",
              sequence: i - 1,
              delta: text.slice(at, at + size)
            }))
            at += size
          }
          Effect.runSync(bus.emit({
            _tag: "LlmCallFailed",
            correlationId: "llm-1",
            provider: "p",
            model: "m",
            error: { tag: "ModelError", message: "cut" },
            durationMs: 1
          }, 1))
          const streamed = (events: ReadonlyArray<StreamEvent>) =>
            events.map((e) => (e._tag === "TextDelta" ? e.delta : "")).join("")
          expect(streamed(delivered)).not.toContain(policyRaw.pattern)
          expect(leaked(streamed(delivered))).toEqual([])
          expect(leaked(streamed(caller))).toEqual([])
          expect(streamed(caller).includes(policyRaw.pattern)).toBe(text.includes(policyRaw.pattern))
        }),
        { numRuns: 100 }
      )
    }))

  it.effect("a paused run's execution state keeps the raw mapping for the recorder only", () =>
    Effect.gen(function*() {
      const { bus, delivered, recorded } = yield* harness
      yield* bus.emit({
        _tag: "RunPaused",
        status: "waiting_approval",
        pendingCalls: [],
        state: { redactions: mapping } as never
      }, 1)
      expect(leaked(JSON.stringify(recorded))).toEqual(rawValues)
      expect(leaked(JSON.stringify(delivered))).toEqual([])
    }))
})
