import { describe, expect, it } from "@effect/vitest"
import { type Alert, AlertNotifier, AlertRules, WebhookNotifier } from "@sextant/notifiers"
import { Notifier } from "@sextant/runtime"
import { Effect, Logger, LogLevel, Schema } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Detectors, Signals } from "../src/index.js"
import { dialects, loop, runAgent, stack } from "./support.js"

const quiet = Logger.withMinimumLogLevel(LogLevel.None)

/** A real HTTP server on 127.0.0.1 recording each POST body and its `x-sextant-event` header. */
const loopback = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly received: Array<{ type: string; body: string }>; close: () => void }>(
    (resume) => {
      const received: Array<{ type: string; body: string }> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          received.push({ type: String(req.headers["x-sextant-event"]), body: Buffer.concat(chunks).toString("utf8") })
          res.writeHead(204).end()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          url: `http://127.0.0.1:${port}/hook`,
          received,
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }
  ),
  (server) => Effect.sync(() => server.close())
)

describe.each(dialects)("detector.signal reaches notifiers ($name)", (dialect) => {
  it.scopedLive("a tool loop raises TOOL_LOOP; a webhook and an alert rule receive it with its explanation", () =>
    Effect.gen(function*() {
      const url = yield* dialect.database
      const server = yield* loopback
      // Everything but detector signals is filtered out, so the POSTs are exactly the signals handed over.
      const webhook = WebhookNotifier.make({ url: server.url, filter: (e) => e._tag === "DetectorSignal" })
      const alerts: Array<Alert.Alert> = []
      const alerting = AlertNotifier.make({
        rules: [AlertRules.detectorSignal({ minSeverity: "HIGH" })],
        deliver: (alert) => void alerts.push(alert)
      })
      yield* Effect.provide(
        Effect.gen(function*() {
          // TOOL_LOOP is live, RETRY_STORM and the rest stay in shadow: only TOOL_LOOP is handed over.
          const result = yield* runAgent("looper", loop("search", 5))
          expect(server.received.map((r) => r.type)).toEqual(["detector.signal"])
          const payload = Schema.decodeUnknownSync(WebhookNotifier.WebhookPayload)(JSON.parse(server.received[0]!.body))
          expect(payload.type).toBe("detector.signal")
          const event = (payload as { event: unknown }).event as Record<string, unknown>
          expect(event).toMatchObject({
            _tag: "DetectorSignal",
            runId: result.runId,
            agentName: "looper",
            signalType: "TOOL_LOOP",
            severity: "HIGH",
            step: expect.any(Object),
            evidence: { tool: "search", count: 5, distinctArguments: 1 },
            explanation: { title: "Tool loop" }
          })
          const explanation = event.explanation as { what: string; whyItMatters: string; fixes: Array<unknown> }
          expect(explanation.what).toMatch(/called 'search' 5 times/)
          expect(explanation.whyItMatters).toMatch(/cost \$0\.00[45]/)
          expect(explanation.fixes.length).toBeGreaterThanOrEqual(1)
          const [stored] = yield* (yield* Signals).list({ agentName: "looper" })
          expect(event.signalId).toBe(stored!.id)

          expect(alerts).toHaveLength(1)
          expect(alerts[0]).toMatchObject({
            _tag: "Alert",
            runId: result.runId,
            rule: "detector_signal",
            severity: "critical",
            title: "Tool loop (TOOL_LOOP)",
            agentName: "looper",
            figures: { signalType: "TOOL_LOOP", signalSeverity: "HIGH", signalId: stored!.id }
          })
          expect(alerts[0]!.message).toMatch(/called 'search' 5 times.*Fix: /s)
          expect(yield* (yield* Detectors).stats).toMatchObject({ failed: 0 })
        }),
        stack(url, { live: ["TOOL_LOOP"] }, { notifiers: [webhook, alerting] })
      )
    }).pipe(quiet))

  it.scopedLive("shadow signals are never handed over; a failing notifier is counted and changes nothing", () =>
    Effect.gen(function*() {
      const url = yield* dialect.database
      const seen: Array<string> = []
      const watcher = Notifier.make({ name: "watcher", onEvent: (e) => void seen.push(e._tag) })
      const broken = Notifier.make({
        name: "broken",
        onEvent: () => {
          throw new Error("notifier bug")
        }
      })
      yield* Effect.provide(
        Effect.gen(function*() {
          const shadowOnly = yield* runAgent("payer", loop("pay", 3, { amount: 5 }))
          expect(shadowOnly.status).toBe("success")
          expect(seen).toEqual([])
          const looped = yield* runAgent("looper", loop("search", 5))
          expect(looped.answer).toBe("done")
          expect(seen).toEqual(["DetectorSignal"])
          expect((yield* (yield* Detectors).stats).failed).toBe(1)
          // The signal is stored although a notifier failed on it.
          expect((yield* (yield* Signals).list({ agentName: "looper" })).map((s) => s.type)).toEqual(["TOOL_LOOP"])
        }),
        stack(url, { live: ["TOOL_LOOP"] }, { notifiers: [broken, watcher] })
      )
    }).pipe(quiet))

  it.scopedLive("a notifier slower than the evaluation timeout still gets the signal: delivery is not cut", () =>
    Effect.gen(function*() {
      const url = yield* dialect.database
      const seen: Array<string> = []
      const slow = Notifier.make({
        name: "slow",
        onEvent: (e) => Effect.zipRight(Effect.sleep("1500 millis"), Effect.sync(() => void seen.push(e._tag)))
      })
      yield* Effect.provide(
        Effect.gen(function*() {
          const result = yield* runAgent("looper", loop("search", 5))
          expect(result.answer).toBe("done")
          expect(seen).toEqual(["DetectorSignal"])
          expect(yield* (yield* Detectors).stats).toMatchObject({ evaluated: 1, failed: 0, signals: 1 })
        }),
        stack(url, { live: ["TOOL_LOOP"] }, { notifiers: [slow], evaluationTimeout: "1 second" })
      )
    }).pipe(quiet))
})
