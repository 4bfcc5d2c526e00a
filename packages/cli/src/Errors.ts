/**
 * The CLI's errors: every failure a user can cause ends as one line on stderr and a non-zero exit.
 */
import { Schema } from "effect"

/** A command could not do what was asked; the message names the problem and what to do. */
export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  message: Schema.String,
  /** The process exit code (2: bad input, 1: the operation failed). */
  exitCode: Schema.optionalWith(Schema.Number, { default: () => 1 })
}) {}
