/**
 * Tagged errors a caller can match on with `Effect.catchTag`.
 */
import { Schema } from "effect"

/** The recorder could not make an event durable (after its retries); the run stopped at that point. */
export class RecorderError extends Schema.TaggedError<RecorderError>()("RecorderError", {
  eventType: Schema.String,
  runId: Schema.String,
  sequenceIndex: Schema.optional(Schema.Number),
  attempts: Schema.Number,
  reason: Schema.Literal("transient", "permanent", "serialization", "conflict"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/** A model call failed: bad request, authentication, exhausted retries, malformed response, exhausted script. */
export class ModelError extends Schema.TaggedError<ModelError>()("ModelError", {
  provider: Schema.String,
  reason: Schema.Literal("request", "response", "auth", "rate_limit", "server", "transport", "malformed", "exhausted"),
  message: Schema.String,
  statusCode: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {}

/** An agent or tool definition is invalid; `field` names what is wrong. */
export class AgentConfigError extends Schema.TaggedError<AgentConfigError>()("AgentConfigError", {
  field: Schema.String,
  message: Schema.String
}) {}

/** Options passed to `run`/`stream` are invalid; `field` names what is wrong. Nothing was recorded. */
export class InvalidRunOptions extends Schema.TaggedError<InvalidRunOptions>()("InvalidRunOptions", {
  field: Schema.String,
  message: Schema.String
}) {}

/** What `agent.run` and `agent.stream` can fail with (a run that ended in `error` is a result, not a failure). */
export type RunError = RecorderError | InvalidRunOptions
