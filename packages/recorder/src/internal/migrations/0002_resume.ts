import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

/** The submission a resume claimed the run with (tool results, a decision or input), kept for the audit. */
export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const json = sql.onDialectOrElse({ pg: () => sql.literal("JSONB"), orElse: () => sql.literal("TEXT") })
  yield* sql`ALTER TABLE agent_runs ADD COLUMN resume_submission ${json}`
})
