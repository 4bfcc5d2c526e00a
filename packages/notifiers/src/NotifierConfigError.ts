/**
 * The typed error a notifier's `make` (and an alert rule's constructor) throws when a setting is wrong, so a
 * bad URL, an empty Slack webhook or a negative limit is reported where it is written, not retried or
 * silently accepted at run time.
 */
import { Schema } from "effect"

/** A notifier or alert-rule setting is invalid: `field` names it (`url`, `retry.maxAttempts`, `usd`, …). */
export class NotifierConfigError extends Schema.TaggedError<NotifierConfigError>()("NotifierConfigError", {
  /** Which notifier or rule (`WebhookNotifier`, `SlackNotifier`, `AlertRules.costAbove`, …). */
  component: Schema.String,
  field: Schema.String,
  message: Schema.String
}) {}
