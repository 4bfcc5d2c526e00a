/**
 * Posts Block Kit messages to a Slack incoming webhook for the events worth a human's attention: a run failed
 * (or was interrupted/abandoned by the sweep), a budget threshold or limit, a guardrail block, an approval
 * request, any `Alert` and any live `DetectorSignal`. Each message says what happened, which run and agent, the key figures, and links
 * to the run in the read router.
 */
import type { HttpClient } from "@effect/platform"
import { type HookEvent, Lifecycle, Notifier, type RetryPolicy, StreamEvent } from "@sextant/runtime"
import { Effect } from "effect"
import type { Alert } from "./Alert.js"
import { type DetectorSignal, isDetectorSignal } from "./DetectorSignal.js"
import { checkCommon, checkUrl } from "./internal/config.js"
import * as Http from "./internal/http.js"
import { endpointOf, scrubber } from "./internal/redact.js"
import { RunTable } from "./internal/runs.js"
import { formatCount, formatUsd, jsonText, shorten } from "./internal/text.js"
import { type CommonOptions, type EventFilter, isOwnEvent, type NotifierEvent } from "./NotifierEvent.js"
import type { HttpNotifier } from "./WebhookNotifier.js"

/** Options of `SlackNotifier.make`. */
export interface SlackOptions extends CommonOptions {
  /** The Slack incoming-webhook URL. */
  readonly webhookUrl: string
  /** Which events to post (default: `attentionWorthy`). */
  readonly filter?: EventFilter | undefined
  /** Base URL of the read router (e.g. `https://ops.example.com/sextant`); messages link to `{base}/runs/{runId}`. */
  readonly runLinkBaseUrl?: string | undefined
  /** Retry settings (the runtime's `RetryPolicy`); the defaults are `WebhookNotifier.retryDefaults`. */
  readonly retry?: RetryPolicy.RetryPolicy | undefined
  /** The HTTP client to send with (default: one over the global `fetch`). */
  readonly client?: HttpClient.HttpClient | undefined
}

const attentionTags: ReadonlySet<string> = new Set([
  "RunFailed",
  "RunInterrupted",
  "RunAbandoned",
  "BudgetThreshold",
  "BudgetExceeded",
  "GuardrailBlocked",
  "ApprovalRequested",
  "Alert",
  "DetectorSignal"
])

/** The default filter: failures, budget, guardrail blocks, approval requests, alerts and detector signals. */
export const attentionWorthy: EventFilter = (event) => attentionTags.has(event._tag)

interface RunInfo {
  agentName?: string
  model?: string
}

/** Slack's `mrkdwn` needs `&`, `<` and `>` escaped. */
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

interface Message {
  readonly emoji: string
  readonly title: string
  readonly text: string
  readonly figures: ReadonlyArray<readonly [string, string]>
}

const describe = (event: HookEvent.HookEvent | Alert | DetectorSignal): Message | undefined => {
  switch (event._tag) {
    case "RunFailed":
      return {
        emoji: ":x:",
        title: "Run failed",
        text: `*${esc(event.error.tag)}*: ${esc(shorten(event.error.message, 600))}`,
        figures: [
          ["Reason", event.failureReason],
          ["Iterations", String(event.iterations)],
          ["Tokens", `${formatCount(event.usage.inputTokens)} in / ${formatCount(event.usage.outputTokens)} out`],
          ...(event.usage.costUsd === undefined ? [] : [["Cost", formatUsd(event.usage.costUsd)] as const])
        ]
      }
    case "RunInterrupted":
    case "RunAbandoned":
      return {
        emoji: ":warning:",
        title: event._tag === "RunInterrupted" ? "Run interrupted" : "Run abandoned",
        text: `The sweep ended a run that was \`${event.previousStatus}\`.`,
        figures: [["Reason", event.failureReason]]
      }
    case "BudgetThreshold":
      return {
        emoji: ":money_with_wings:",
        title: `Budget ${Math.round(event.fraction * 100)}% used`,
        text: `The run crossed ${Math.round(event.fraction * 100)}% of its ${event.kind} budget.`,
        figures: [["Used", budgetFigure(event.kind, event.used)], ["Limit", budgetFigure(event.kind, event.limit)]]
      }
    case "BudgetExceeded":
      return {
        emoji: ":rotating_light:",
        title: "Budget exceeded",
        text: event.action === "stop" ? "The run used up its budget and was stopped." : "The run used up its budget.",
        figures: [["Used", budgetFigure(event.kind, event.used)], ["Limit", budgetFigure(event.kind, event.limit)], [
          "Action",
          event.action
        ]]
      }
    case "GuardrailBlocked":
      return {
        emoji: ":no_entry:",
        title: "Guardrail blocked the run",
        text: `*${esc(event.guardrail)}* (${event.direction}): ${esc(shorten(event.reason, 600))}`,
        figures: [["Found", event.entities.map((e) => `${e.type} ×${e.count}`).join(", ") || "—"]]
      }
    case "ApprovalRequested":
      return {
        emoji: ":raised_hand:",
        title: `Approval requested: ${event.toolName}`,
        text: `The run waits for a human to approve \`${esc(event.toolName)}\`.`,
        figures: [["Arguments", `\`${esc(shorten(jsonText(event.arguments), 300))}\``]]
      }
    case "Alert":
      return {
        emoji: severityEmoji[event.severity],
        title: event.title,
        text: esc(event.message),
        figures: Object.entries(event.figures).map(([k, v]) => [k, String(v)] as const)
      }
    case "DetectorSignal":
      return {
        emoji: signalEmoji[event.severity],
        title: `${event.explanation.title} (${event.signalType})`,
        text: esc(shorten(`${event.explanation.what} ${event.explanation.whyItMatters}`, 1200)),
        figures: [
          ["Severity", event.severity],
          [
            "Events",
            event.step.start === event.step.end ? `${event.step.start}` : `${event.step.start}–${event.step.end}`
          ],
          ["Evidence", esc(shorten(event.explanation.evidence, 300))],
          ...event.explanation.fixes.slice(0, 3).map((f, i) =>
            [`Fix ${i + 1}`, esc(shorten(f.description, 300))] as const
          )
        ]
      }
    default:
      return undefined
  }
}

const severityEmoji = { critical: ":rotating_light:", warning: ":warning:", info: ":information_source:" } as const
const signalEmoji = {
  CRITICAL: ":rotating_light:",
  HIGH: ":warning:",
  MEDIUM: ":large_yellow_circle:",
  LOW: ":information_source:"
} as const

const budgetFigure = (kind: "tokens" | "cost", n: number) => (kind === "cost" ? formatUsd(n) : formatCount(n))

/** Builds the Block Kit body for an event, or `undefined` when the event has no message form. */
export const blocksFor = (
  event: HookEvent.HookEvent | Alert | DetectorSignal,
  run: { readonly agentName?: string | undefined; readonly model?: string | undefined } = {},
  runLinkBaseUrl?: string
): { readonly text: string; readonly blocks: ReadonlyArray<unknown> } | undefined => {
  const m = describe(event)
  if (m === undefined) return undefined
  const agentName = run.agentName ?? (isOwnEvent(event) ? event.agentName : undefined)
  const model = run.model === undefined ? "" : ` (${esc(run.model)})`
  const fields = [
    `*Run*\n\`${event.runId}\``,
    `*Agent*\n${agentName === undefined ? "—" : esc(agentName)}${model}`,
    ...m.figures.map(([k, v]) => `*${esc(k)}*\n${v}`)
  ].slice(0, 10)
  const blocks: Array<unknown> = [
    { type: "header", text: { type: "plain_text", text: shorten(`${m.title}`, 150), emoji: true } },
    { type: "section", text: { type: "mrkdwn", text: `${m.emoji} ${m.text}` } },
    { type: "section", fields: fields.map((text) => ({ type: "mrkdwn", text })) }
  ]
  if (runLinkBaseUrl !== undefined) {
    const url = `${runLinkBaseUrl.replace(/\/+$/, "")}/runs/${encodeURIComponent(event.runId)}`
    blocks.push({
      type: "actions",
      elements: [{ type: "button", text: { type: "plain_text", text: "View run" }, url }]
    })
  }
  blocks.push({
    type: "context",
    elements: [{
      type: "mrkdwn",
      text: `${new Date(event.timestamp).toISOString()} · ${
        isDetectorSignal(event) ? `detected after the run` : `iteration ${event.iteration}`
      }`
    }]
  })
  return { text: `${m.title}: run ${event.runId}${agentName === undefined ? "" : ` (${agentName})`}`, blocks }
}

const COMPONENT = "SlackNotifier"

/**
 * A notifier posting attention-worthy events to Slack; `deliveries` reports what it sent and gave up on.
 * Throws a `NotifierConfigError` naming the setting when `webhookUrl` (or `runLinkBaseUrl`) is not an
 * absolute http(s) URL, a retry setting is out of range, or a dispatcher option is invalid. Errors and logs
 * name the webhook by its origin only (`https://hooks.slack.com/…`): its path is the secret.
 */
export const make = (options: SlackOptions): HttpNotifier => {
  checkCommon(COMPONENT, options)
  const target = checkUrl(COMPONENT, "webhookUrl", options.webhookUrl)
  if (options.runLinkBaseUrl !== undefined) checkUrl(COMPONENT, "runLinkBaseUrl", options.runLinkBaseUrl)
  const retry = Http.resolveRetry(COMPONENT, options.retry)
  const client = Http.clientOf(options.client)
  const endpoint = endpointOf(target)
  const scrub = scrubber(target, {})
  const counters: Http.HttpCounters = Http.makeCounters()
  const filter = options.filter ?? attentionWorthy
  const runs = new RunTable<RunInfo>(() => ({}))
  const headers = Effect.succeed({ "content-type": "application/json" })

  const post = (body: ReturnType<typeof blocksFor>): Effect.Effect<void, unknown> =>
    body === undefined ? Effect.void : Http.postWithRetry({
      client,
      url: target.href,
      endpoint,
      body: JSON.stringify(body),
      headers,
      retry,
      counters,
      scrub
    })

  const handle = (event: NotifierEvent): Effect.Effect<void, unknown> => {
    if (event._tag === "RunStarted") {
      const info = runs.get(event.runId)
      info.agentName = event.agentName
      if (event.model !== undefined) info.model = event.model
    } else if (event._tag === "RunResumed") {
      runs.get(event.runId).agentName = event.agentName
    }
    const info = runs.peek(event.runId)
    if (isDetectorSignal(event)) {
      if (!filter(event)) return Effect.void
      return post(blocksFor(event, {}, options.runLinkBaseUrl))
    }
    if ((!isOwnEvent(event) && StreamEvent.isDelta(event)) || !filter(event)) {
      if (Lifecycle.isTerminalEvent(event)) runs.delete(event.runId)
      return Effect.void
    }
    const body = blocksFor(event, info ?? {}, options.runLinkBaseUrl)
    if (Lifecycle.isTerminalEvent(event)) runs.delete(event.runId)
    return post(body)
  }

  const notifier = Notifier.make({
    name: options.name ?? "slack",
    onEvent: handle,
    capacity: options.capacity,
    strategy: options.strategy,
    timeout: options.timeout ?? Http.worstCase(retry)
  })
  return { ...notifier, deliveries: Effect.sync(() => ({ ...counters })) }
}
