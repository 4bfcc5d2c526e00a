/**
 * Errors raised while a provider layer is built (a model call's failures are the runtime's `ModelError`).
 */
import { Schema } from "effect"

/** A provider cannot be configured: `setting` names the environment variable or option that is wrong. */
export class ProviderConfigError extends Schema.TaggedError<ProviderConfigError>()("ProviderConfigError", {
  setting: Schema.String,
  message: Schema.String
}) {}
