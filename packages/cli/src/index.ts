/**
 * @sextant/cli: the `sextant` command, also callable as a library (`Cli.run(argv)`).
 */
/** The command tree, its version and `run`. */
export * as Cli from "./Cli.js"
/** Tagged errors. */
export * from "./Errors.js"
/** Database URL resolution: `--database-url`, `SEXTANT_DATABASE_URL`, the default; a bare path is SQLite. */
export * as DatabaseUrl from "./internal/url.js"
