/**
 * A webhook URL is a credential (Slack's `/services/T…/B…/<token>`, `?token=…`): no `DeliveryError` and no
 * log line names more than its origin, and nothing the URL, the signing secret or a credential header holds
 * survives in a message, even when the endpoint echoes it back.
 */
import { describe, expect, it } from "@effect/vitest"
import { Agent, Notifiers, Recorder, ScriptedModel } from "@sextant/runtime"
import { Cause, Effect, Layer, Logger } from "effect"
import { type DeliveryError, SlackNotifier, WebhookNotifier } from "../src/index.js"
import { context, ev, loopback } from "./fixtures.js"

const TOKEN = "XoXb7SLACKTOKEN0123456789abcd"
const QUERY_TOKEN = "qt-9f8e7d6c5b4a-SECRET"
const SIGNING = "whsec-signing-secret-4242"
const BEARER = "bearer-credential-77aa88bb"
const fast = { maxAttempts: 2, baseDelay: "1 millis" } as const
const run = "01JRUN00000000000000ABCDEF"

const secretsIn = (text: string) => [TOKEN, QUERY_TOKEN, SIGNING, BEARER].filter((s) => text.includes(s))

/** Every log line (with its cause) written while `effect` runs. */
const capturingLogs = <A, E, R>(effect: Effect.Effect<A, E, R>, into: Array<string>) =>
  Effect.provide(
    effect,
    Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ cause, message }) => void into.push(`${JSON.stringify(message)} ${Cause.pretty(cause)}`))
    )
  )

describe("secrets of HTTP notifiers", () => {
  it.scopedLive("a Slack webhook token never appears in a DeliveryError, whatever the endpoint answers", () =>
    Effect.gen(function*() {
      const server = yield* loopback([
        { status: 503, body: `overloaded for /services/T000/B000/${TOKEN}` },
        { status: 503 },
        { status: 404, body: `no_team for ${TOKEN}` }
      ])
      const origin = new URL(server.url).origin
      const slack = SlackNotifier.make({ webhookUrl: `${origin}/services/T000/B000/${TOKEN}`, retry: fast })
      const gaveUp = (yield* Effect.flip(slack.handle(ev.failed(run, 1, 1000), context()))) as DeliveryError
      expect(gaveUp).toMatchObject({ _tag: "DeliveryError", reason: "gave_up", attempts: 2, url: `${origin}/…` })
      expect(gaveUp.message).toBe(`gave up after 2 attempt(s) to ${origin}/…: HTTP 503`)
      const rejected = (yield* Effect.flip(slack.handle(ev.failed(run, 2, 1000), context()))) as DeliveryError
      expect(rejected).toMatchObject({ reason: "rejected", status: 404 })
      expect(rejected.message).toBe("HTTP 404: no_team for [redacted]")
      expect(secretsIn(JSON.stringify([gaveUp, rejected, String(gaveUp.stack), String(rejected.stack)]))).toEqual([])
      expect(server.received[0]!.headers.traceparent).toBeUndefined() // nothing of the host's trace goes to Slack

      // A refused connection: the platform's own error text would name the whole URL.
      yield* Effect.promise(() => server.close())
      const refused = (yield* Effect.flip(slack.handle(ev.failed(run, 3, 1000), context()))) as DeliveryError
      expect(refused.message).toMatch(new RegExp(`^gave up after 2 attempt\\(s\\) to ${origin}/…: fetch failed`))
      expect(secretsIn(JSON.stringify(refused))).toEqual([])
    }))

  it.scopedLive("a webhook's query token, signing secret and authorization header stay out of errors", () =>
    Effect.gen(function*() {
      const server = yield* loopback([
        { status: 401, body: `bad token ${QUERY_TOKEN}, signature by ${SIGNING}, header Bearer ${BEARER}` }
      ])
      const hook = WebhookNotifier.make({
        url: `${server.url}?token=${QUERY_TOKEN}`,
        secret: SIGNING,
        headers: { authorization: `Bearer ${BEARER}` },
        retry: fast
      })
      const error = (yield* Effect.flip(hook.handle(ev.completed(run, 1, 1000), context()))) as DeliveryError
      expect(error.url).toBe(`${new URL(server.url).origin}/…`)
      expect(error.message).toBe("HTTP 401: bad token [redacted], signature by [redacted], header [redacted]")
      expect(secretsIn(JSON.stringify(error))).toEqual([])
      expect(server.received[0]!.headers.authorization).toBe(`Bearer ${BEARER}`) // it was really sent
    }))

  it.scopedLive("the dispatcher's log of a failing Slack delivery holds no token", () =>
    Effect.gen(function*() {
      const server = yield* loopback([{ status: 500, body: `error at /services/T000/B000/${TOKEN}` }])
      const slack = SlackNotifier.make({
        webhookUrl: `${new URL(server.url).origin}/services/T000/B000/${TOKEN}`,
        retry: fast
      })
      const logs: Array<string> = []
      // An empty script: the model call fails, the run fails, and Slack is told (and fails to deliver).
      const result = yield* Effect.gen(function*() {
        const agent = yield* Agent.make({ name: "support", instructions: "" })
        return yield* agent.run("help", { runId: "run-slack" })
      }).pipe(
        Effect.provide(Layer.mergeAll(ScriptedModel.layer([]), Recorder.memory, Notifiers.layer([slack]))),
        (effect) => capturingLogs(effect, logs)
      )
      expect(result.status).toBe("error")
      expect(yield* slack.deliveries).toMatchObject({ gaveUp: 1 })
      expect(logs.join("\n")).toContain("DeliveryError")
      expect(secretsIn(logs.join("\n"))).toEqual([])
    }))
})
