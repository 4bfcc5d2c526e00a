/**
 * `DetectorSignal` through this package's notifiers: the webhook type and idempotency key, Slack's message, a
 * JSONL line that decodes back, the console line, and the `AlertRules.detectorSignal` rule's filters and
 * settings. (That the detectors hand signals to notifiers is tested in packages/detectors/test/notify.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type Alert,
  AlertNotifier,
  AlertRules,
  ConsoleNotifier,
  DetectorSignal,
  JsonlFileNotifier,
  NotifierConfigError,
  SlackNotifier,
  WebhookNotifier
} from "../src/index.js"
import { context, loopback } from "./fixtures.js"

const signal = (over: Partial<DetectorSignal.DetectorSignal> = {}): DetectorSignal.DetectorSignal => ({
  _tag: "DetectorSignal",
  signalId: "sig-1",
  runId: "run-1",
  tenantId: null,
  agentName: "looper",
  signalType: "TOOL_LOOP",
  severity: "HIGH",
  confidence: 0.95,
  step: { start: 3, end: 12 },
  evidence: { tool: "search", count: 5 },
  timestamp: Date.UTC(2026, 0, 1),
  explanation: {
    title: "Tool loop",
    what: "The agent called 'search' 5 times.",
    whyItMatters: "Repeating one tool burns tokens.",
    evidence: "5 calls to 'search'.",
    fixes: [{ description: "Cap repeated calls." }]
  },
  ...over
})

describe("DetectorSignal in the notifiers", () => {
  it.scoped("a webhook POSTs it as detector.signal, keyed by the signal id, decodable as a WebhookPayload", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 204 }])
      const hook = WebhookNotifier.make({ url: server.url })
      yield* hook.handle(signal() as never, context())
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.headers["x-sextant-event"]).toBe("detector.signal")
      expect(server.received[0]!.headers["idempotency-key"]).toBe("run-1:signal:sig-1")
      const body = Schema.decodeUnknownSync(WebhookNotifier.WebhookPayload)(JSON.parse(server.received[0]!.body))
      expect(body).toEqual({ schemaVersion: 1, type: "detector.signal", event: signal() })
    }))

  it("Slack's message carries the explanation, severity, events and fixes; attentionWorthy selects it", () => {
    expect(SlackNotifier.attentionWorthy(signal())).toBe(true)
    const body = SlackNotifier.blocksFor(signal(), {}, "https://ops.example.com")!
    const text = JSON.stringify(body.blocks)
    expect(body.text).toBe("Tool loop (TOOL_LOOP): run run-1 (looper)")
    expect(text).toContain("The agent called 'search' 5 times.")
    expect(text).toContain("*Events*\\n3–12")
    expect(text).toContain("*Fix 1*\\nCap repeated calls.")
    expect(text).toContain("https://ops.example.com/runs/run-1")
  })

  it.scoped("a JSONL line holds it and reads back; the console prints one line", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "sextant-signal-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
      )
      const path = join(dir, "events.jsonl")
      yield* JsonlFileNotifier.make({ path }).handle(signal() as never, context())
      const lines = yield* JsonlFileNotifier.read(path)
      expect(lines.map((l) => [l.type, l.event._tag])).toEqual([["detector.signal", "DetectorSignal"]])
      expect(lines[0]!.event).toEqual(signal())
      const out = ConsoleNotifier.makeFormatter({ color: false, width: () => 200, showText: true }).format(signal())
      expect(out).toContain("⚑ signal [HIGH] TOOL_LOOP: The agent called 'search' 5 times.")
    }))

  it.effect("AlertRules.detectorSignal filters by type and severity and maps severity; bad settings are named", () =>
    Effect.gen(function*() {
      const delivered: Array<Alert.Alert> = []
      const alerts = AlertNotifier.make({
        rules: [AlertRules.detectorSignal({ types: ["TOOL_LOOP", "RETRY_STORM"], minSeverity: "MEDIUM" })],
        deliver: (a) => void delivered.push(a)
      })
      yield* alerts.handle(signal() as never, context())
      yield* alerts.handle(
        signal({ signalId: "s2", signalType: "RETRY_STORM", severity: "MEDIUM" }) as never,
        context()
      )
      yield* alerts.handle(
        signal({ signalId: "s3", signalType: "SLOW_STEP", severity: "CRITICAL" }) as never,
        context()
      )
      yield* alerts.handle(signal({ signalId: "s4", severity: "LOW" }) as never, context())
      expect(delivered.map((a) => [a.figures.signalId, a.severity])).toEqual([["sig-1", "critical"], ["s2", "warning"]])
      expect(delivered[0]).toMatchObject({ runId: "run-1", agentName: "looper", title: "Tool loop (TOOL_LOOP)" })
      expect(delivered[0]!.message).toBe(
        "The agent called 'search' 5 times. Repeating one tool burns tokens. Fix: Cap repeated calls."
      )
      for (
        const [thunk, field] of [
          [() => AlertRules.detectorSignal({ minSeverity: "SEVERE" as never }), "minSeverity"],
          [() => AlertRules.detectorSignal({ types: [1 as never] }), "types"]
        ] as const
      ) {
        const error = (() => {
          try {
            thunk()
          } catch (e) {
            return e
          }
        })()
        expect(error).toBeInstanceOf(NotifierConfigError)
        expect((error as NotifierConfigError).field).toBe(field)
      }
      expect(DetectorSignal.isDetectorSignal(signal())).toBe(true)
    }))
})
