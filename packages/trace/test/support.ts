/**
 * Test fixtures: both dialects as fresh real databases with the SQL recorder and a RunStore over them.
 */
import { Database, Migrations, SqlRecorder } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { Context, Effect, Layer } from "effect"
import { type Dialect, makeDialects } from "../../../test-support/databases.js"

export type { Dialect }

/** Both dialects; Postgres databases are created on the real server and migrated. */
export const dialects = makeDialects((url) =>
  Migrations.run.pipe(Effect.provide(Database.layerFromUrl(url)), Effect.orDie)
)

/** The URL of the database under test. */
export class DatabaseUrl extends Context.Tag("test/DatabaseUrl")<DatabaseUrl, string>() {}

/** The recorder, the SqlClient and a RunStore over a fresh database of the dialect. */
export const storeLayer = (dialect: Dialect) =>
  Layer.unwrapScoped(Effect.map(dialect.database, (url) =>
    RunStore.layer.pipe(
      Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
      Layer.orDie,
      Layer.merge(Layer.succeed(DatabaseUrl, url))
    )))
