import { Options } from "@effect/cli"
import { Database, Encryption, Migrations } from "@sextant/recorder"
import { RunStore } from "@sextant/store"
import { Effect, Layer, type Option } from "effect"
import { CliError } from "../Errors.js"
import * as url from "./url.js"

/** Options every command takes. */
export const shared = {
  databaseUrl: Options.text("database-url").pipe(
    Options.withDescription(
      `sqlite:./path.db, a bare file path, or postgres://user@host:5432/db (default: SEXTANT_DATABASE_URL, else ${url.defaultUrl})`
    ),
    Options.optional
  ),
  verbose: Options.boolean("verbose").pipe(Options.withDescription("print the full cause of a failure"))
}

/** `--json` of the read commands. */
export const json = Options.boolean("json").pipe(Options.withDescription("machine-readable JSON on stdout"))

/** The database of `--database-url`, which must exist (reads never create one). */
export const existing = (flag: Option.Option<string>) => Effect.tap(url.resolve(flag), url.requireExisting)

/** The `Encryption` key ring of `SEXTANT_ENCRYPTION_KEYS`, if set: reads open sealed content with it. */
export const encryptionFromEnv = Encryption.layerFromEnv().pipe(
  Layer.mapError((e) => new CliError({ message: `SEXTANT_ENCRYPTION_KEYS: ${e.message}` }))
)

/** A read-only connection and a RunStore over it (fails with MigrationsPending on an unmigrated database). */
export const readLayer = (databaseUrl: string) =>
  RunStore.layer.pipe(
    Layer.provideMerge(Layer.effectDiscard(schemaCheck(databaseUrl))),
    Layer.provideMerge(Database.layerFromUrl(databaseUrl, { readOnly: true })),
    Layer.provideMerge(encryptionFromEnv)
  )

/** Fails, naming the command to run, unless the database has every migration this version needs. */
export const schemaCheck = (databaseUrl: string) =>
  Effect.flatMap(Migrations.applied, (applied) =>
    applied >= Migrations.latest ? Effect.void : Effect.fail(
      new CliError({
        message: `${
          applied === 0 ? "this database has no Sextant schema" : `this database's schema is at migration ${applied}`
        } (this version needs ${Migrations.latest}): run \`npx sextant migrate --database-url ${
          Database.redactUrl(databaseUrl)
        }\``
      })
    ))

/** A read-write connection that waits up to 5 s for a concurrent writer's lock (SQLite). */
export const writeLayer = (databaseUrl: string) => Database.layerFromUrl(databaseUrl, { busyTimeoutMs: 5000 })
