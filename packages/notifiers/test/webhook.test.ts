import { FetchHttpClient, HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, TestClock } from "effect"
import {
  AlertNotifier,
  AlertRules,
  DeliveryError,
  SlackNotifier,
  WebhookNotifier,
  WebhookSignature
} from "../src/index.js"
import { context, ev, loopback, realPause } from "./fixtures.js"

const run = "01JRUN00000000000000ABCDEF"

describe("WebhookNotifier", () => {
  it.scoped("POSTs a versioned, decodable payload with an idempotency key and a signature that verifies", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url, secret: "s3cr3t", headers: { authorization: "Bearer x" } })
      const event = ev.toolCompleted(run, 7, 1_700_000_000_000, "deploy", true)
      yield* hook.handle(event, context())

      expect(server.received).toHaveLength(1)
      const [req] = server.received
      expect(req!.headers["content-type"]).toBe("application/json")
      expect(req!.headers["authorization"]).toBe("Bearer x")
      expect(req!.headers[WebhookSignature.IDEMPOTENCY_HEADER]).toBe(`${run}:7`)
      expect(req!.headers[WebhookSignature.EVENT_HEADER]).toBe("tool.completed")
      const payload = yield* Schema.decodeUnknown(Schema.parseJson(WebhookNotifier.WebhookPayload))(req!.body)
      expect(payload).toEqual({ schemaVersion: 1, type: "tool.completed", event })

      const signature = req!.headers[WebhookSignature.SIGNATURE_HEADER] as string
      const timestamp = req!.headers[WebhookSignature.TIMESTAMP_HEADER] as string
      // Under the TestClock the signing time is 0; the receiver checks against the same clock.
      const now = Number(timestamp) * 1000
      const verify = (secret: string, body: string, at: number) =>
        WebhookSignature.verifySignature({ secret, body, signature, timestamp, now: at })
      expect(verify("s3cr3t", req!.body, now)).toBe(true)
      expect(verify("other", req!.body, now)).toBe(false)
      expect(verify("s3cr3t", `${req!.body} `, now)).toBe(false)
      // A replay outside the tolerance window is refused even with a valid signature.
      expect(verify("s3cr3t", req!.body, now + 301_000)).toBe(false)
      expect(yield* hook.deliveries).toEqual({ sent: 1, retries: 0, rejected: 0, gaveUp: 0 })
    }))

  it.scoped("503 then 200: retried after a backoff and delivered once (same idempotency key)", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 503 }, { status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url })
      const fiber = yield* Effect.fork(hook.handle(ev.completed(run, 3, 1000), context()))
      yield* server.waitFor(1)
      yield* realPause()
      expect(server.received).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      yield* server.waitFor(2)
      yield* Fiber.join(fiber)
      expect(server.received).toHaveLength(2)
      const keys = server.received.map((r) => r.headers[WebhookSignature.IDEMPOTENCY_HEADER])
      expect(keys).toEqual([`${run}:3`, `${run}:3`])
      expect(yield* hook.deliveries).toEqual({ sent: 1, retries: 1, rejected: 0, gaveUp: 0 })
    }))

  it.scoped("400 is not retried: the delivery fails as rejected after one attempt", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 400, body: "bad payload" }, { status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url })
      const exit = yield* Effect.exit(hook.handle(ev.completed(run, 3, 1000), context()))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? (exit.cause as { error?: unknown }).error : undefined
      expect(error).toBeInstanceOf(DeliveryError)
      expect(error).toMatchObject({ reason: "rejected", status: 400, attempts: 1 })
      yield* TestClock.adjust("10 minutes")
      yield* realPause()
      expect(server.received).toHaveLength(1)
      expect(yield* hook.deliveries).toEqual({ sent: 0, retries: 0, rejected: 1, gaveUp: 0 })
    }))

  it.scoped("429 with Retry-After: 30 waits 30 seconds (not the shorter backoff) before the next attempt", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 429, headers: { "retry-after": "30" } }, { status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url })
      const fiber = yield* Effect.fork(hook.handle(ev.completed(run, 4, 1000), context()))
      yield* server.waitFor(1)
      yield* TestClock.adjust("29 seconds")
      yield* realPause()
      expect(server.received).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      yield* server.waitFor(2)
      yield* Fiber.join(fiber)
      expect(yield* hook.deliveries).toMatchObject({ sent: 1, retries: 1 })
    }))

  it.scoped("a Retry-After beyond maxRetryAfter is not waited for: the delivery gives up saying so", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 429, headers: { "retry-after": "120" } }, { status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url })
      const error = yield* Effect.flip(hook.handle(ev.completed(run, 4, 1000), context()))
      expect(error).toMatchObject({ _tag: "DeliveryError", reason: "gave_up", attempts: 1, status: 429 })
      expect((error as DeliveryError).message).toContain(
        "Retry-After 120000 ms exceeds the 60000 ms the notifier waits"
      )
      expect(server.received).toHaveLength(1)
      expect(yield* hook.deliveries).toEqual({ sent: 0, retries: 0, rejected: 0, gaveUp: 1 })
    }))

  it.scoped("sends through the HttpClient it is given, without trace headers", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 200 }])
      const seen: Array<string> = []
      const base = yield* Effect.provide(HttpClient.HttpClient, FetchHttpClient.layer)
      const client = HttpClient.tapRequest(
        base,
        (request) => Effect.sync(() => void seen.push(`${request.method} ${request.headers["x-sextant-event"]}`))
      )
      const hook = WebhookNotifier.make({ url: server.url, client })
      yield* hook.handle(ev.completed(run, 3, 1000), context()).pipe(Effect.withSpan("host"))
      expect(seen).toEqual(["POST run.completed"])
      expect(server.received).toHaveLength(1)
      expect(server.received[0]!.headers.traceparent).toBeUndefined()
      expect(server.received[0]!.headers.b3).toBeUndefined()
    }))

  it.scoped("network errors and 5xx are retried up to maxAttempts, then the give-up is counted and fails", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 500 }])
      const hook = WebhookNotifier.make({ url: server.url, retry: { maxAttempts: 3, baseDelay: "100 millis" } })
      const fiber = yield* Effect.fork(Effect.exit(hook.handle(ev.completed(run, 5, 1000), context())))
      for (const n of [1, 2]) {
        yield* server.waitFor(n)
        yield* TestClock.adjust("1 second")
      }
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(server.received).toHaveLength(3)
      expect(yield* hook.deliveries).toEqual({ sent: 0, retries: 2, rejected: 0, gaveUp: 1 })

      // A refused connection is a network error, retried the same way.
      yield* Effect.promise(() => server.close())
      const dead = WebhookNotifier.make({ url: server.url, retry: { maxAttempts: 2, baseDelay: "100 millis" } })
      const deadFiber = yield* Effect.fork(Effect.exit(dead.handle(ev.completed(run, 6, 1000), context())))
      yield* realPause(100)
      yield* TestClock.adjust("1 second")
      const deadExit = yield* Fiber.join(deadFiber)
      expect(Exit.isFailure(deadExit)).toBe(true)
      expect(yield* dead.deliveries).toEqual({ sent: 0, retries: 1, rejected: 0, gaveUp: 1 })
    }))

  it.scoped("an alert delivered through a webhook is an `alert` payload with its own idempotency key", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url })
      const alerts = AlertNotifier.make({ rules: [AlertRules.runFailed()], deliver: hook })
      yield* alerts.handle(ev.runStarted(run, 0, 1000), context())
      yield* alerts.handle(ev.failed(run, 1, 2000), context())
      expect(server.received).toHaveLength(1)
      const decode = Schema.decodeUnknown(Schema.parseJson(WebhookNotifier.WebhookPayload))
      const payload = yield* decode(server.received[0]!.body)
      expect(payload).toMatchObject({ type: "alert", event: { _tag: "Alert", rule: "run_failed", agentName: "ops" } })
      expect(server.received[0]!.headers[WebhookSignature.IDEMPOTENCY_HEADER]).toBe(`${run}:alert:run_failed:1`)
    }))

  it.scoped("the default filter skips stream deltas; batches send a run's events together at its end", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 200 }])
      const hook = WebhookNotifier.make({ url: server.url, batch: { maxEvents: 10 } })
      yield* hook.handle(ev.runStarted(run, 0, 1000), context())
      const delta = {
        _tag: "TextDelta",
        runId: run,
        iteration: 1,
        correlationId: "c",
        timestamp: 1001,
        sequence: 0,
        delta: "hi"
      } as const
      yield* hook.handle(delta, context())
      yield* hook.handle(ev.toolStarted(run, 1, 1002, "deploy"), context())
      expect(server.received).toHaveLength(0)
      yield* hook.handle(ev.completed(run, 2, 1003), context())
      expect(server.received).toHaveLength(1)
      const payload = JSON.parse(server.received[0]!.body)
      expect(payload.type).toBe("batch")
      expect(payload.events.map((e: { type: string }) => e.type)).toEqual([
        "run.started",
        "tool.started",
        "run.completed"
      ])
      expect(server.received[0]!.headers[WebhookSignature.IDEMPOTENCY_HEADER]).toBe(`${run}:0-2`)
    }))
})

describe("SlackNotifier", () => {
  it.scoped("posts Block Kit messages only for attention-worthy events, with run, agent, figures and a run link", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 200, body: "ok" }])
      const slack = SlackNotifier.make({ webhookUrl: server.url, runLinkBaseUrl: "https://ops.example.com/sextant/" })
      const events = [
        ev.runStarted(run, 0, 1000),
        ev.toolCompleted(run, 1, 1001, "deploy", true),
        ev.approvalRequested(run, 2, 1002),
        ev.budgetThreshold(run, 3, 1003),
        ev.budgetExceeded(run, 4, 1004),
        ev.guardrailBlocked(run, 5, 1005),
        ev.failed(run, 6, 1006)
      ]
      for (const e of events) yield* slack.handle(e, context())
      expect(server.received).toHaveLength(5)
      const bodies = server.received.map((r) => JSON.parse(r.body))
      expect(bodies.map((b) => b.blocks[0].text.text)).toEqual([
        "Approval requested: deploy",
        "Budget 75% used",
        "Budget exceeded",
        "Guardrail blocked the run",
        "Run failed"
      ])
      for (const b of bodies) {
        const text = JSON.stringify(b)
        expect(text).toContain(run)
        expect(text).toContain("ops (gpt-test)")
        expect(text).toContain(`https://ops.example.com/sextant/runs/${run}`)
        expect(b.blocks.find((x: { type: string }) => x.type === "actions")).toBeDefined()
      }
      const failed = JSON.stringify(bodies[4])
      expect(failed).toContain("upstream exploded")
      expect(failed).toContain("$0.0042")
      expect(JSON.stringify(bodies[1])).toContain("750")
      expect(JSON.stringify(bodies[2])).toContain("$1.25")
      expect(yield* slack.deliveries).toMatchObject({ sent: 5 })
    }))

  it.scoped("retries a 503 from Slack and does not retry a 400", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 503 }, { status: 200 }, { status: 400, body: "invalid_blocks" }])
      const slack = SlackNotifier.make({ webhookUrl: server.url })
      const fiber = yield* Effect.fork(slack.handle(ev.failed(run, 1, 1000), context()))
      yield* server.waitFor(1)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const exit = yield* Effect.exit(slack.handle(ev.failed(run, 2, 1000), context()))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(server.received).toHaveLength(3)
      expect(yield* slack.deliveries).toEqual({ sent: 1, retries: 1, rejected: 1, gaveUp: 0 })
    }))
})
