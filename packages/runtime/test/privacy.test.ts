/**
 * The bus's redaction pass as a property: whatever event kind carries a value already in the run's mapping,
 * wherever it is placed (any field, nested, inside other text), and however streamed text is split into
 * deltas, no raw value reaches the recorder or a sink.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as Guardrails from "../src/Guardrails.js"
import type { HookEvent } from "../src/HookEvent.js"
import { type HookEventInput, makeBus } from "../src/internal/bus.js"
import { makePolicy } from "../src/internal/privacy.js"
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

/** A bus over an in-memory recorder and one capturing sink, with the policy of a run holding `mapping`. */
const harness = Effect.gen(function*() {
  const recorded: Array<HookEvent> = []
  const delivered: Array<StreamEvent> = []
  let redactions = mapping
  const recorder: RecorderService = { record: (event) => Effect.sync(() => void recorded.push(event)) }
  const bus = yield* makeBus({
    runId: "run-1",
    recorder,
    sinks: [(event) => void delivered.push(event)],
    traceContext: undefined,
    startSequence: 0,
    policy: makePolicy({ guardrails, get: () => redactions, set: (r) => (redactions = r) })
  })
  return { bus, recorded, delivered }
})

const leaked = (text: string) => rawValues.filter((v) => text.includes(v))

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
    fc.dictionary(fc.constantFrom("note", "password", "result", "data", "nested"), tie("value"), { maxKeys: 3 })
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

describe("the bus's redaction pass", () => {
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
