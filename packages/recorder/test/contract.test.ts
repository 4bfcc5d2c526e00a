/**
 * The recorder contract against `SqlRecorder` on a SQLite file and on Postgres (a fresh database with a random
 * name), with the six tables read back through `Tables` (so both dialects yield the same values: JSON parsed,
 * booleans as booleans, numbers as numbers, timestamps as ISO-8601 strings) and the sweep.
 */
import { Effect, Layer } from "effect"
import { recorderContract, type Tables } from "../../../test-support/recorderContract.js"
import { SqlRecorder, Sweep, Tables as T } from "../src/index.js"
import { dialects, readAll } from "./support.js"

/**
 * Every table's rows of one run, decoded by `Tables`; each model call's request rebuilt in full from its stored
 * delta (migration 8), as the RunStore reads it, so the contract states the full request every call was sent.
 */
const readTables = (runId: string) =>
  Effect.map(readAll(runId), (rows): Tables => {
    const calls = rows.llm_interactions as ReadonlyArray<Record<string, unknown>>
    const full = T.rebuildRequests(calls.map((r) => ({
      id: String(r.id),
      request: r.semantic_request,
      base: r.request_base as string | null,
      prefix: r.request_prefix as number | null
    })))
    return {
      ...rows,
      llm_interactions: calls.map((r) => ({ ...r, semantic_request: full.get(String(r.id)) ?? null }))
    } as unknown as Tables
  })

for (const dialect of dialects) {
  recorderContract(
    `SqlRecorder (${dialect.name})`,
    () => Layer.unwrapScoped(Effect.map(dialect.database, (url) => SqlRecorder.layerFromUrl(url))),
    { tables: readTables, sweep: Sweep.run }
  )
}
