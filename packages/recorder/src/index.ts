/**
 * @sextant/recorder: the fail-closed SQL recorder, its schema and migrations, and the sweep of stale runs.
 */
/** The versioned migration set. */
export * as Migrations from "./Migrations.js"
