/**
 * The recorder contract against `SqlRecorder` on a SQLite file and on Postgres (a fresh database with a random
 * name), with the six tables read back through `Tables` (so both dialects yield the same values: JSON parsed,
 * booleans as booleans, numbers as numbers, timestamps as ISO-8601 strings) and the sweep.
 */
import { Effect, Layer } from "effect"
import { recorderContract, type Tables } from "../../../test-support/recorderContract.js"
import { SqlRecorder, Sweep } from "../src/index.js"
import { dialects, readAll } from "./support.js"

/** Every table's rows of one run, decoded by `Tables`. */
const readTables = (runId: string) => Effect.map(readAll(runId), (rows): Tables => rows)

for (const dialect of dialects) {
  recorderContract(
    `SqlRecorder (${dialect.name})`,
    () => Layer.unwrapScoped(Effect.map(dialect.database, (url) => SqlRecorder.layerFromUrl(url))),
    { tables: readTables, sweep: Sweep.run }
  )
}
