/**
 * Opening a store on a database URL: SQLite read-only (the file must exist; nothing is created or migrated)
 * on connections of the store's own, Postgres on a pool of its own. A SQLite database in WAL mode lets them
 * read while a recorder's connection writes, so reads never queue behind its group commits (a store over the
 * recorder's own `SqlClient` shares its one connection and waits for every open transaction).
 */
import { Database, Encryption } from "@sextant/recorder"
import { type Context, Effect, Either, Layer, Option } from "effect"
import { DatabaseNotFound, StoreError } from "../Errors.js"
import type { RunStoreOptions, RunStoreService } from "../RunStore.js"
import * as sqliteReader from "./sqliteReader.js"
import { make } from "./store.js"

/** Fails unless a SQLite target names an existing file (a read-only store never creates one). */
export const requireFile = (url: string): Effect.Effect<void, DatabaseNotFound> => {
  const target = Database.parseUrl(url)
  if (Either.isLeft(target) || target.right._tag !== "sqlite") return Effect.void
  const path = target.right.filename
  if (path === ":memory:") {
    return new DatabaseNotFound({
      path,
      message: "sqlite::memory: is a new, empty database: a RunStore reads a database a recorder wrote"
    })
  }
  // node:fs only for SQLite files, so that the store's import graph stays free of Node modules.
  return Effect.flatMap(
    Effect.promise(() => import("node:fs")),
    (fs) =>
      fs.existsSync(path) ? Effect.void : new DatabaseNotFound({
        path,
        message: `no SQLite database at ${path}: check the path (a RunStore never creates a database)`
      })
  )
}

/**
 * The store on `url` for the scope: its read-only `SqlClient` (the schema check, Postgres reads) and, on SQLite,
 * its own reader that runs every statement (see `sqliteReader.ts`).
 */
export const scoped = (url: string, options?: RunStoreOptions) =>
  Effect.gen(function*() {
    // Before anything is opened, so that a missing file is named as such.
    yield* requireFile(url)
    const client = yield* Layer.build(Database.layerFromUrl(url, { readOnly: true }))
    const target = Database.parseUrl(url)
    const reader = Either.isRight(target) && target.right._tag === "sqlite"
      ? yield* sqliteReader.open(target.right.filename)
      : undefined
    // The key ring in context, else the environment's (`SEXTANT_ENCRYPTION_KEYS`): a store opened from a URL (the
    // CLI, a router) opens sealed content as the recorder wrote it.
    const ring = Option.getOrUndefined(yield* Encryption.current) ?? (yield* fromEnv)
    return yield* Effect.provide(make(options, Database.redactUrl(url), reader, ring), client)
  })

const fromEnv = Effect.suspend(() =>
  Option.match(Encryption.optionsFromEnv(), {
    onNone: () => Effect.succeed(undefined),
    onSome: (options) =>
      Effect.mapError(
        Encryption.make(options),
        (e) => new StoreError({ message: `SEXTANT_ENCRYPTION_KEYS: ${e.message}`, cause: e })
      )
  })
)

/** A store service over its own read-only connection to `url`, as the layer of `tag`. */
export const layerFromUrl = <I>(tag: Context.Tag<I, RunStoreService>, url: string, options?: RunStoreOptions) =>
  Layer.scoped(tag, scoped(url, options))
