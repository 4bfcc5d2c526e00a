/**
 * @sextant/fleet: runs spread over runner processes with `@effect/cluster` on Postgres, continued from the
 * record after a runner is lost.
 */
/** Tagged errors. */
export * from "./Errors.js"
/** Fleet mode: runners, submit, result, cancel. */
export * as Fleet from "./Fleet.js"
