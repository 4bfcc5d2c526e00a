import { RetryPolicy as Shared } from "@sextant/runtime"
import { Effect, Either } from "effect"
import { ProviderConfigError } from "../Errors.js"
import * as RetryPolicy from "../RetryPolicy.js"

/**
 * A user's retry settings with the provider defaults applied. A bad setting fails with a `ProviderConfigError`
 * whose `setting` is `retry.<field>`, when the layer is built.
 */
export const resolveRetry = (
  policy: RetryPolicy.RetryPolicy | undefined
): Effect.Effect<Shared.Resolved, ProviderConfigError> =>
  Either.match(Shared.validate(policy, RetryPolicy.defaults), {
    onLeft: (error) =>
      Effect.fail(new ProviderConfigError({ setting: `retry.${error.field}`, message: error.message })),
    onRight: Effect.succeed
  })
