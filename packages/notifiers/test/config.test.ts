/**
 * Settings are checked where they are written: `make` (and each alert rule) throws a `NotifierConfigError`
 * naming the setting, instead of a URL parse error retried at run time or a limit silently accepted.
 */
import { describe, expect, it } from "@effect/vitest"
import {
  AlertNotifier,
  AlertRules,
  ConsoleNotifier,
  JsonlFileNotifier,
  NotifierConfigError,
  OpenTelemetryNotifier,
  SlackNotifier,
  WebhookNotifier
} from "../src/index.js"

/** The error `thunk` throws (failing the test when it throws none or another kind). */
const configError = (thunk: () => unknown): NotifierConfigError => {
  try {
    thunk()
  } catch (error) {
    expect(error).toBeInstanceOf(NotifierConfigError)
    return error as NotifierConfigError
  }
  throw new Error("expected a NotifierConfigError, nothing was thrown")
}

const expectField = (thunk: () => unknown, component: string, field: string, says: string | RegExp) => {
  const error = configError(thunk)
  expect(error._tag).toBe("NotifierConfigError")
  expect(error.component).toBe(component)
  expect(error.field).toBe(field)
  expect(error.message).toContain(`${component}: ${field}`)
  expect(error.message).toMatch(says)
}

describe("WebhookNotifier.make", () => {
  it("rejects a URL that is not an absolute http(s) URL, without quoting it", () => {
    expectField(() => WebhookNotifier.make({ url: "not a url" }), "WebhookNotifier", "url", /absolute http\(s\) URL/)
    expectField(() => WebhookNotifier.make({ url: "" }), "WebhookNotifier", "url", /it is empty/)
    expectField(() => WebhookNotifier.make({ url: "ftp://example.com/x" }), "WebhookNotifier", "url", /http\(s\)/)
    const error = configError(() => WebhookNotifier.make({ url: "hooks.example.com/t/SECRET-TOKEN-123" }))
    expect(error.message).not.toContain("SECRET-TOKEN-123")
  })

  it("rejects bad retry, batch, secret and dispatcher settings, naming each", () => {
    const url = "https://example.com/hook"
    expectField(
      () => WebhookNotifier.make({ url, retry: { maxAttempts: 0 } }),
      "WebhookNotifier",
      "retry.maxAttempts",
      /integer of at least 1, got 0/
    )
    expectField(
      () => WebhookNotifier.make({ url, retry: { baseDelay: "soon" as never } }),
      "WebhookNotifier",
      "retry.baseDelay",
      /must be a duration/
    )
    expectField(
      () => WebhookNotifier.make({ url, retry: { jitter: 1.5 } }),
      "WebhookNotifier",
      "retry.jitter",
      /\[0, 1\)/
    )
    expectField(
      () => WebhookNotifier.make({ url, batch: { maxEvents: 0 } }),
      "WebhookNotifier",
      "batch.maxEvents",
      /at least 1/
    )
    expectField(() => WebhookNotifier.make({ url, secret: "" }), "WebhookNotifier", "secret", /non-empty/)
    expectField(() => WebhookNotifier.make({ url, capacity: 0 }), "WebhookNotifier", "capacity", /at least 1/)
    expectField(
      () => WebhookNotifier.make({ url, timeout: "a while" as never }),
      "WebhookNotifier",
      "timeout",
      /duration/
    )
    expect(WebhookNotifier.make({ url, retry: { maxAttempts: 1 }, batch: { maxEvents: 5 } }).name).toBe("webhook")
  })
})

describe("SlackNotifier.make", () => {
  it("rejects an empty or malformed webhook URL and a bad run-link base", () => {
    expectField(() => SlackNotifier.make({ webhookUrl: "" }), "SlackNotifier", "webhookUrl", /it is empty/)
    expectField(
      () => SlackNotifier.make({ webhookUrl: "hooks.slack.com/services/T0/B0/x" }),
      "SlackNotifier",
      "webhookUrl",
      /absolute/
    )
    expectField(
      () => SlackNotifier.make({ webhookUrl: "https://hooks.slack.com/services/T0/B0/x", runLinkBaseUrl: "ops" }),
      "SlackNotifier",
      "runLinkBaseUrl",
      /absolute/
    )
    expectField(
      () => SlackNotifier.make({ webhookUrl: "https://hooks.slack.com/services/T0/B0/x", retry: { maxAttempts: -1 } }),
      "SlackNotifier",
      "retry.maxAttempts",
      /at least 1/
    )
  })
})

describe("alert rules", () => {
  it("reject limits that cannot mean anything", () => {
    expectField(() => AlertRules.costAbove(-1), "AlertRules.costAbove", "usd", /at least 0, got -1/)
    expectField(() => AlertRules.costAbove(Number.NaN), "AlertRules.costAbove", "usd", /got NaN/)
    expectField(() => AlertRules.tokensAbove(-5), "AlertRules.tokensAbove", "tokens", /at least 0/)
    expectField(() => AlertRules.toolFailuresInARow(0), "AlertRules.toolFailuresInARow", "n", /at least 1, got 0/)
    expectField(() => AlertRules.toolFailuresInARow(1.5), "AlertRules.toolFailuresInARow", "n", /integer/)
    expectField(() => AlertRules.sameToolInARow(0), "AlertRules.sameToolInARow", "n", /at least 1/)
    expectField(() => AlertRules.approvalWaiting("soon" as never), "AlertRules.approvalWaiting", "after", /duration/)
    expectField(
      () => AlertRules.make({ name: "", init: () => null, check: () => undefined }),
      "AlertRules.make",
      "name",
      /non-empty/
    )
    expect(AlertRules.costAbove(0).name).toBe("cost_above")
    expect(AlertRules.toolFailuresInARow(1).name).toBe("tool_failures_in_a_row")
  })

  it("AlertNotifier refuses two rules with one name (one would silence the other)", () => {
    const deliver = () => undefined
    expectField(
      () => AlertNotifier.make({ rules: [AlertRules.costAbove(1), AlertRules.costAbove(2)], deliver }),
      "AlertNotifier",
      "rules[1].name",
      /'cost_above' is also the name of rules\[0\]/
    )
    const renamed = [AlertRules.costAbove(1), AlertRules.costAbove(2, { name: "cost_above_2" })]
    expect(AlertNotifier.make({ rules: renamed, deliver }).name).toBe("alerts")
  })
})

describe("the other notifiers", () => {
  it("check the dispatcher options they share", () => {
    expectField(() => ConsoleNotifier.make({ capacity: 0 }), "ConsoleNotifier", "capacity", /at least 1/)
    expectField(
      () => OpenTelemetryNotifier.make({ strategy: "fifo" as never }),
      "OpenTelemetryNotifier",
      "strategy",
      /"dropping" or "sliding"/
    )
    expectField(() => JsonlFileNotifier.make({ path: "" }), "JsonlFileNotifier", "path", /non-empty/)
  })
})
