/**
 * Tagged errors of fleet mode, matchable with `Effect.catchTag`.
 */
import { Schema } from "effect"

/** Fleet mode needs Postgres: the URL given is a SQLite one (or not a database URL at all). */
export class FleetPostgresOnly extends Schema.TaggedError<FleetPostgresOnly>()("FleetPostgresOnly", {
  /** The URL, its password redacted. */
  url: Schema.String,
  message: Schema.String
}) {}

/** A fleet option is malformed; `field` names it and the message says what it takes. */
export class InvalidFleetConfig extends Schema.TaggedError<InvalidFleetConfig>()("InvalidFleetConfig", {
  field: Schema.String,
  message: Schema.String
}) {}

/** No agent of this name is registered in this process (`Fleet.register` it on every runner and submitter). */
export class FleetAgentNotRegistered extends Schema.TaggedError<FleetAgentNotRegistered>()(
  "FleetAgentNotRegistered",
  { agentName: Schema.String, message: Schema.String }
) {}

/** Another agent was already registered under this name in this process. */
export class FleetAgentConflict extends Schema.TaggedError<FleetAgentConflict>()("FleetAgentConflict", {
  agentName: Schema.String,
  message: Schema.String
}) {}

/** The cluster or the record failed (a database or messaging error); `cause` holds it. */
export class FleetError extends Schema.TaggedError<FleetError>()("FleetError", {
  operation: Schema.String,
  runId: Schema.optional(Schema.String),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * A runner could not listen on its cluster socket: `address` is the host:port it tried, `code` the system's
 * reason (`EADDRINUSE`, `EACCES`, ...); a port in use is retried for `runner.listenRetry` first.
 */
export class FleetListenFailed extends Schema.TaggedError<FleetListenFailed>()("FleetListenFailed", {
  address: Schema.String,
  code: Schema.optional(Schema.String),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}
