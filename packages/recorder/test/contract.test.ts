/**
 * The recorder contract against `SqlRecorder` on a SQLite file and on Postgres (a fresh database with a random
 * name), with the six tables read back so the suite can check what every event writes, and the sweep.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schema } from "effect"
import { recorderContract, tableNames, type Tables } from "../../../test-support/recorderContract.js"
import { SqlRecorder, Sweep } from "../src/index.js"
import { type Dialect, dialects, rowSchemas } from "./support.js"

/** The row schemas of the six tables, with the `agent_runs` columns the shared test schemas leave out. */
const schemas = (dialect: Dialect["name"]) => {
  const base = rowSchemas(dialect)
  const json = dialect === "sqlite" ? Schema.parseJson() : Schema.Unknown
  return {
    ...base,
    agent_runs: Schema.Struct({
      ...base.agent_runs.fields,
      retry_of_run_id: Schema.NullOr(Schema.String),
      idempotency_key: Schema.NullOr(Schema.String),
      idempotency_fingerprint: Schema.NullOr(Schema.String),
      resume_submission: Schema.NullOr(json)
    })
  }
}

/** Every table's rows of one run, decoded to the same values on both dialects. */
const readTables = (dialect: Dialect["name"]) => {
  const decoders = schemas(dialect)
  return (runId: string) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const out: Record<string, ReadonlyArray<unknown>> = {}
      for (const table of tableNames) {
        const column = table === "agent_runs" ? "id" : "agent_run_id"
        const rows = yield* sql`SELECT * FROM ${sql(table)} WHERE ${sql(column)} = ${runId}`
        out[table] = yield* Schema.decodeUnknown(Schema.Array(decoders[table] as Schema.Schema<unknown, any>))(rows)
      }
      return out as unknown as Tables
    })
}

for (const dialect of dialects) {
  recorderContract(
    `SqlRecorder (${dialect.name})`,
    () => Layer.unwrapScoped(Effect.map(dialect.database, (url) => SqlRecorder.layerFromUrl(url))),
    { tables: readTables(dialect.name), sweep: Sweep.run }
  )
}
