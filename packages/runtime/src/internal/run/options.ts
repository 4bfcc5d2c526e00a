/**
 * A run's options as the engine takes them: decoded by `RunOptionsSchema` (a bad option is an
 * `InvalidRunOptions` naming its field, before anything is recorded), plus what only the kernel sets.
 */
import { Either } from "effect"
import type { RunOptions } from "../../Agent.js"
import { InvalidRunOptions } from "../../Errors.js"
import { decodeWith } from "../config/fields.js"
import { RunOptionsSchema, type RunOptionsSpec } from "../config/runOptions.js"

/** Options only the kernel sets: retries and delegation. */
export interface StartOptions extends RunOptions {
  readonly retryOfRunId?: string | undefined
  readonly delegationLevel?: number | undefined
}

/** Start options as validated. */
export interface ValidStartOptions extends RunOptionsSpec {
  readonly retryOfRunId?: string | undefined
  readonly delegationLevel?: number | undefined
}

const decodeOptions = decodeWith(
  RunOptionsSchema,
  "options",
  (field, message) => new InvalidRunOptions({ field, message })
)

/** Validates a run's options (the input is validated by `validateInput`). */
export const validateStart = (options: StartOptions): Either.Either<ValidStartOptions, InvalidRunOptions> => {
  return Either.map(decodeOptions(options), (valid) => ({
    ...valid,
    ...(options.retryOfRunId === undefined ? {} : { retryOfRunId: options.retryOfRunId }),
    ...(options.delegationLevel === undefined ? {} : { delegationLevel: options.delegationLevel })
  }))
}

/** Validates a resume's options (its notifiers and trace context). */
export const validateResume = (options: RunOptions): Either.Either<RunOptionsSpec, InvalidRunOptions> =>
  decodeOptions(options)
