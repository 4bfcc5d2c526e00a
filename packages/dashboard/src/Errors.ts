/**
 * Tagged errors of the dashboard.
 */
import { Schema } from "effect"

/**
 * The dashboard cannot be made or served: `not_built` (the app's files are missing: run `npm run build:ui`),
 * `bad_option` (an option is malformed; `field` names it) or `listen` (the server could not listen).
 */
export class DashboardError extends Schema.TaggedError<DashboardError>()("DashboardError", {
  reason: Schema.Literal("not_built", "bad_option", "listen"),
  field: Schema.optional(Schema.String),
  message: Schema.String
}) {}
