/**
 * The `sextant` command: every subcommand, and `run`, which executes it for an argv and turns every failure
 * into one line on stderr and an exit code (2: bad input, 1: the operation failed); `--verbose` adds the cause.
 */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { createRequire } from "node:module"
import { CliError } from "./Errors.js"
import * as admin from "./internal/commands/admin.js"
import { dashboard } from "./internal/commands/dashboard.js"
import { detect } from "./internal/commands/detect.js"
import { encryption } from "./internal/commands/encryption.js"
import * as read from "./internal/commands/read.js"
import { view } from "./internal/commands/view.js"

/** This package's version (what `sextant --version` prints). */
export const version: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version

/** The root command with every subcommand. */
export const command = Command.make("sextant").pipe(
  Command.withDescription(
    "Inspect and look after a Sextant database: runs, show, tail, stats, usage, export, view, migrate, sweep, " +
      "prune, backup, vacuum, detect, encryption, dashboard. Example: sextant runs --database-url sqlite:./.sextant/demo.db"
  ),
  Command.withSubcommands([
    read.runs,
    read.show,
    read.tail,
    read.stats,
    read.usage,
    read.exportRuns,
    view,
    admin.migrate,
    admin.sweep,
    admin.prune,
    admin.backup,
    admin.vacuum,
    detect,
    encryption,
    dashboard
  ])
)

const cli = Command.run(command, { name: "sextant", version })

const exitCodeOf = (error: unknown): number => {
  if (error instanceof CliError) return error.exitCode
  const tag = (error as { _tag?: string } | null)?._tag
  return tag === "InvalidQuery" || tag === "DatabaseUrlError" ? 2 : 1
}

const messageOf = (error: unknown): string => {
  const e = error as { message?: unknown; _tag?: string } | null
  if (e !== null && typeof e === "object" && typeof e.message === "string" && e.message !== "") return e.message
  return e?._tag ?? String(error)
}

/**
 * Runs the command for `argv` (without the node and script entries) and resolves to the exit code; output goes
 * to stdout and stderr. Never throws.
 */
export const run = (argv: ReadonlyArray<string>): Promise<number> => {
  const verbose = argv.includes("--verbose")
  return Effect.runPromiseExit(
    cli(["node", "sextant", ...argv]).pipe(Effect.provide(NodeContext.layer))
  ).then((exit) => {
    if (Exit.isSuccess(exit)) return 0
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "Some" && ValidationError.isValidationError(failure.value)) {
      // @effect/cli has printed what was wrong (and the help for --help-worthy mistakes).
      return 2
    }
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    const error = failure._tag === "Some" ? failure.value : Cause.squash(exit.cause)
    process.stderr.write(`sextant: ${messageOf(error)}\n`)
    if (verbose) process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    return exitCodeOf(error)
  })
}
