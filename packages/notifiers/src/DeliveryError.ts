/**
 * The typed failure of an HTTP notifier (webhook, Slack): the endpoint refused the payload, or every attempt
 * failed. The dispatcher counts it as a failed delivery; the notifier's own counters say which kind.
 */
import { Schema } from "effect"

/** A POST that was not delivered. `reason` is `rejected` (a 4xx other than 408/429, never retried) or `gave_up`. */
export class DeliveryError extends Schema.TaggedError<DeliveryError>()("DeliveryError", {
  /**
   * The endpoint by its origin only (`https://hooks.slack.com/…`): a webhook URL's path and query carry its
   * token, so they never appear in an error or a log.
   */
  url: Schema.String,
  reason: Schema.Literal("rejected", "gave_up"),
  attempts: Schema.Int,
  /** The last HTTP status, when there was a response. */
  status: Schema.optionalWith(Schema.Int, { exact: true }),
  /** What went wrong, scrubbed of the URL, the signing secret and credential header values. */
  message: Schema.String
}) {}
