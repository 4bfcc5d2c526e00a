/**
 * @sextant/recorder: the fail-closed SQL recorder, its schema and migrations, and the sweep of stale runs.
 */
/** A `SqlClient` from a database URL. */
export * as Database from "./Database.js"
/** Encryption at rest of the content columns (AES-256-GCM, rotating keys, optional gzip). */
export * as Encryption from "./Encryption.js"
/** Tagged errors. */
export * from "./Errors.js"
/** The versioned migration set. */
export * as Migrations from "./Migrations.js"
/** Pruning, erasure, vacuum and backups. */
export * as Retention from "./Retention.js"
/** The fail-closed SQL recorder. */
export * as SqlRecorder from "./SqlRecorder.js"
/** The sweep of stale and abandoned runs. */
export * as Sweep from "./Sweep.js"
/** The six tables: one Schema per table with its dialect codecs. */
export * as Tables from "./Tables.js"
