/**
 * `sextant encryption stats` (what the content columns hold: plain values and sealed values per key id) and
 * `sextant encryption rotate` (re-seal everything with the current key, in batches, so older keys can be
 * removed), over `Encryption.inventory` / `Encryption.rotate` of `@sextant/recorder`. Keys come from
 * `SEXTANT_ENCRYPTION_KEYS` (`id:base64key,…`) and `SEXTANT_ENCRYPTION_KEY` (the current id).
 */
import { Command, Options } from "@effect/cli"
import { Database, Encryption } from "@sextant/recorder"
import { Effect, Option } from "effect"
import { CliError } from "../../Errors.js"
import { existing, json, schemaCheck, shared, writeLayer } from "../context.js"
import * as f from "../format.js"
import * as output from "../output.js"

/** The key ring of the environment, if keys are set (a bad key is a usage error naming the variable). */
const ringFromEnv = Option.match(Encryption.optionsFromEnv(), {
  onNone: () => Effect.succeed(Option.none<Encryption.Keyring>()),
  onSome: (options) =>
    Effect.mapError(
      Effect.map(Encryption.make(options), Option.some),
      (e) => new CliError({ message: `SEXTANT_ENCRYPTION_KEYS: ${e.message}`, exitCode: 2 })
    )
})

/** `sextant encryption stats`. */
const stats = Command.make("stats", { ...shared, json }, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const ring = yield* Effect.suspend(() => ringFromEnv)
    const inventory = yield* Effect.provide(
      Effect.zipRight(schemaCheck(db.url), Encryption.inventory),
      Database.layerFromUrl(db.url, { readOnly: true })
    )
    const given = Option.map(ring, (r) => ({ keyIds: r.keyIds, current: r.current }))
    const stored = Object.keys(inventory.byKey).sort()
    const result = {
      database: Database.redactUrl(db.url),
      ...inventory,
      keys: Option.getOrNull(given),
      // Key ids stored values name that the environment does not give: those values cannot be read.
      missingKeys: stored.filter((id) => Option.isNone(ring) || !ring.value.keyIds.includes(id)),
      // Keys given that no stored value uses: safe to remove.
      unusedKeys: Option.isNone(ring) ? [] : ring.value.keyIds.filter((id) => !stored.includes(id))
    }
    if (o.json) return yield* output.json(result)
    const sealed = stored.reduce((n, id) => n + inventory.byKey[id]!, 0)
    yield* output.out(
      `${result.database}: ${f.int(sealed + inventory.plain)} content values, ${f.int(sealed)} sealed${
        stored.length === 0 ? "" : ` (${stored.map((id) => `${id}: ${f.int(inventory.byKey[id])}`).join(", ")})`
      }, ${f.int(inventory.plain)} plain\n`
    )
    yield* output.out(f.table(
      ["COLUMN", "PLAIN", ...stored],
      inventory.columns.filter((c) => c.plain > 0 || Object.keys(c.byKey).length > 0).map((c) => [
        `${c.table}.${c.column}`,
        f.int(c.plain),
        ...stored.map((id) => f.int(c.byKey[id] ?? 0))
      ])
    ))
    if (Option.isSome(given)) {
      yield* output.out(`keys given: ${given.value.keyIds.join(", ")} (current ${given.value.current})\n`)
    }
    if (result.missingKeys.length > 0) {
      yield* output.out(
        `values sealed with ${result.missingKeys.join(", ")} cannot be read without ${
          result.missingKeys.length === 1 ? "that key" : "those keys"
        }: add to SEXTANT_ENCRYPTION_KEYS\n`
      )
    }
    if (result.unusedKeys.length > 0) {
      yield* output.out(`no stored value uses ${result.unusedKeys.join(", ")}: safe to remove\n`)
    }
  })).pipe(
    Command.withDescription(
      "Count the stored content values: plain, and sealed per key id (no key needed; with SEXTANT_ENCRYPTION_KEYS " +
        "it also says which keys are missing or unused). Example: sextant encryption stats --json"
    )
  )

/** `sextant encryption rotate`. */
const rotate = Command.make("rotate", {
  ...shared,
  json,
  batchSize: Options.integer("batch-size").pipe(
    Options.withDescription("rows per transaction (1..10000)"),
    Options.withDefault(500)
  ),
  keepPlain: Options.boolean("keep-plain").pipe(
    Options.withDescription("leave values stored in plain text as they are (default: seal them too)")
  )
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    if (o.batchSize < 1 || o.batchSize > 10_000) {
      return yield* new CliError({ message: `--batch-size must be from 1 to 10000, got ${o.batchSize}`, exitCode: 2 })
    }
    const ring = yield* Effect.suspend(() => ringFromEnv)
    if (Option.isNone(ring)) {
      return yield* new CliError({
        message: "rotate needs the keys: set SEXTANT_ENCRYPTION_KEYS=id:base64key,… with every key a stored value " +
          "names (see `sextant encryption stats`) and the new one, and SEXTANT_ENCRYPTION_KEY to the new id " +
          "(default: the last listed)",
        exitCode: 2
      })
    }
    const bar = output.progress("re-sealed", !o.json)
    if (!o.json) yield* output.err(`re-sealing every content value with key '${ring.value.current}'`)
    const result = yield* Effect.zipRight(
      schemaCheck(db.url),
      Encryption.rotate({
        batchSize: o.batchSize,
        sealPlain: !o.keepPlain,
        onProgress: (p) => bar.update(p.resealed, "values")
      })
    ).pipe(
      Effect.tap((r) => bar.done(r.resealed, "values")),
      // A stored value naming a key not given, or not opening with it: the message says which and what to do.
      Effect.catchIf(
        (e): e is Encryption.UnsealError => e._tag === "EncryptionKeyMissing" || e._tag === "DecryptionFailed",
        (e) =>
          Effect.fail(new CliError({ message: `rotate stopped (values done so far stay re-sealed): ${e.message}` }))
      ),
      Effect.provideService(Encryption.Encryption, ring.value),
      Effect.provide(writeLayer(db.url))
    )
    const others = ring.value.keyIds.filter((id) => id !== result.current)
    const out = { database: Database.redactUrl(db.url), ...result, removableKeys: o.keepPlain ? [] : others }
    if (o.json) return yield* output.json(out)
    yield* output.out(
      `${out.database}: re-sealed ${f.int(result.resealed)} values in ${f.int(result.batches)} batches; every ${
        o.keepPlain ? "sealed" : "content"
      } value is now sealed with key '${result.current}'${
        others.length === 0 ? "" : `: ${others.join(", ")} can be removed from SEXTANT_ENCRYPTION_KEYS`
      }\n`
    )
  })).pipe(
    Command.withDescription(
      "Re-seal every content value with the current key (and seal plain ones), in batches, resumable; afterwards " +
        "the other keys can be removed. Example: SEXTANT_ENCRYPTION_KEYS=k1:<old>,k2:<new> " +
        "SEXTANT_ENCRYPTION_KEY=k2 sextant encryption rotate --database-url sqlite:./runs.db"
    )
  )

/** `sextant encryption stats|rotate`. */
export const encryption = Command.make("encryption", {}, () =>
  Effect.fail(
    new CliError({
      message: "encryption needs a subcommand: stats or rotate (see sextant encryption --help)",
      exitCode: 2
    })
  )).pipe(
    Command.withDescription(
      "Encryption at rest: count sealed values per key (stats), re-seal with the current key (rotate). " +
        "Example: sextant encryption stats"
    ),
    Command.withSubcommands([stats, rotate])
  )
