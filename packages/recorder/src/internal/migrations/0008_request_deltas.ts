import { SqlClient } from "@effect/sql"
import { Effect } from "effect"
import { addedBy, sqlType } from "../tables.js"

/**
 * Migration 8: request deltas. `llm_interactions.request_base` and `request_prefix` (generated from `Tables`,
 * every column whose `since` is 8) let a model call store only the messages that are new since the run's previous
 * call: its full request is the base call's first `request_prefix` messages followed by its own. Rows written
 * before (both NULL) hold their full request and read as they always did. Nothing is backfilled.
 */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const dialect = sql.onDialectOrElse({ pg: () => "pg" as const, orElse: () => "sqlite" as const })
  for (const [table, column, kind] of addedBy(8)) {
    yield* sql`ALTER TABLE ${sql(table)} ADD COLUMN ${sql(column)} ${sql.literal(sqlType(kind, dialect))}`
  }
})
