/**
 * @sextant/notifiers: fail-open notifiers for the Sextant runtime: console, composite, OpenTelemetry, webhook,
 * Slack, JSONL file and alert rules.
 */
/** Alerts raised by alert rules. */
export * as Alert from "./Alert.js"
/** The alert notifier. */
export * as AlertNotifier from "./AlertNotifier.js"
/** Alert rules and the built-ins. */
export * as AlertRules from "./AlertRules.js"
/** Several notifiers as one, each in its own mailbox. */
export * as CompositeNotifier from "./CompositeNotifier.js"
/** A live terminal view of runs. */
export * as ConsoleNotifier from "./ConsoleNotifier.js"
/** Detector signals handed to notifiers. */
export * as DetectorSignal from "./DetectorSignal.js"
/** The typed failure of HTTP notifiers. */
export * from "./DeliveryError.js"
/** GenAI semantic-convention attribute names. */
export * as GenAiAttributes from "./GenAiAttributes.js"
/** One JSON line per event, and a reader. */
export * as JsonlFileNotifier from "./JsonlFileNotifier.js"
/** What notifiers handle, and their shared options. */
export * from "./NotifierEvent.js"
/** The typed error of a bad notifier or alert-rule setting. */
export * from "./NotifierConfigError.js"
/** OpenTelemetry spans and metrics. */
export * as OpenTelemetryNotifier from "./OpenTelemetryNotifier.js"
/** Slack Block Kit messages. */
export * as SlackNotifier from "./SlackNotifier.js"
/** Signed JSON webhooks. */
export * as WebhookNotifier from "./WebhookNotifier.js"
/** Webhook signing and `verifySignature` for receivers. */
export * as WebhookSignature from "./WebhookSignature.js"
