/**
 * Encryption at rest of the content columns (messages, tool arguments and results, model requests, responses and
 * payloads, event data, the pause state and resume submissions): AES-256-GCM through `node:crypto`, each value
 * naming the id of the key that sealed it, so keys rotate (`rotate` re-seals every value with the current key,
 * after which older keys can be removed). Optionally, content of at least `compress.minBytes` is gzipped before
 * it is encrypted. Give the same `Encryption` layer to the recorder, the RunStore, the router and the CLI (or set
 * `SEXTANT_ENCRYPTION_KEYS`): they seal and open values transparently. Without keys nothing is sealed, and a
 * sealed value read without its key is `EncryptionKeyMissing`; with a wrong key it is `DecryptionFailed`.
 */
import { SqlClient, type SqlError } from "@effect/sql"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { unescapeText } from "./internal/escape.js"
import * as sealed from "./internal/sealed.js"

/** A sealed value was read without the key it names: the message says how to give the keys. */
export const EncryptionKeyMissing = sealed.EncryptionKeyMissing
/** A sealed value was read without the key it names. */
export type EncryptionKeyMissing = sealed.EncryptionKeyMissing
/** A sealed value did not decrypt with its key id's key: a wrong key under that id, or altered ciphertext. */
export const DecryptionFailed = sealed.DecryptionFailed
/** A sealed value did not decrypt with its key id's key. */
export type DecryptionFailed = sealed.DecryptionFailed
/** Why a sealed value could not be read. */
export type UnsealError = sealed.UnsealError

/** The encryption settings are unusable (a key that is not 32 bytes, a current key id that is not a key). */
export class InvalidEncryptionConfig extends Schema.TaggedError<InvalidEncryptionConfig>()("InvalidEncryptionConfig", {
  field: Schema.String,
  message: Schema.String
}) {}

/** A key: 32 bytes, or their base64 or hex (64 digits) text. */
export type KeyInput = Uint8Array | string

/** Options of `make` / `layer`. */
export interface EncryptionOptions {
  /** The keys by id (1 to 64 of `A-Z a-z 0-9 _ . -`); every id a stored value names must be here to read it. */
  readonly keys: Readonly<Record<string, KeyInput>>
  /** The id of the key new values are sealed with. */
  readonly current: string
  /** Gzip content before encrypting it: `true` (values of 1 KiB and more) or the smallest size in bytes. */
  readonly compress?: boolean | { readonly minBytes: number } | undefined
}

/** Counts of what sealing did since the key ring was made (bytes before and after compression). */
export interface SealStats {
  readonly sealed: number
  readonly compressed: number
  readonly plainBytes: number
  readonly compressedBytes: number
}

/** A key ring: seals values with the current key, opens values sealed with any of its keys. */
export interface Keyring extends sealed.Sealer, sealed.Opener {
  readonly current: string
  readonly keyIds: ReadonlyArray<string>
  /** What compression saved so far (`plainBytes - compressedBytes` over the compressed values). */
  readonly stats: () => SealStats
}

/** The key ring in context: the recorder seals with it, readers open with it. */
export class Encryption extends Context.Tag("@sextant/recorder/Encryption")<Encryption, Keyring>() {}

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/

const keyBytes = (id: string, key: KeyInput): Uint8Array | InvalidEncryptionConfig => {
  const bytes = typeof key !== "string"
    ? key
    : /^[0-9a-fA-F]{64}$/.test(key)
    ? Buffer.from(key, "hex")
    : Buffer.from(key, "base64")
  return bytes.length === 32 ? bytes : new InvalidEncryptionConfig({
    field: `keys.${id}`,
    message: `keys.${id}: an AES-256 key is 32 bytes (base64, or 64 hex digits); this one is ${bytes.length} bytes. ` +
      "Make one with `openssl rand -base64 32`"
  })
}

/** Makes a key ring (loads `node:crypto` and `node:zlib`); a bad key or id is `InvalidEncryptionConfig`. */
export const make = (options: EncryptionOptions): Effect.Effect<Keyring, InvalidEncryptionConfig> =>
  Effect.gen(function*() {
    const keys = new Map<string, Uint8Array>()
    for (const [id, key] of Object.entries(options.keys ?? {})) {
      if (!KEY_ID.test(id)) {
        return yield* new InvalidEncryptionConfig({
          field: "keys",
          message: `keys: '${id}' is not a key id: use 1 to 64 of A-Z a-z 0-9 _ . -`
        })
      }
      const bytes = keyBytes(id, key)
      if (bytes instanceof InvalidEncryptionConfig) return yield* bytes
      keys.set(id, bytes)
    }
    if (!keys.has(options.current)) {
      return yield* new InvalidEncryptionConfig({
        field: "current",
        message: `current: '${options.current}' is not one of the keys (${[...keys.keys()].join(", ") || "none"})`
      })
    }
    const compress = options.compress
    const minBytes = compress === undefined || compress === false
      ? Infinity
      : compress === true
      ? 1024
      : Math.max(0, compress.minBytes)
    const [crypto, zlib] = yield* Effect.promise(() => Promise.all([import("node:crypto"), import("node:zlib")]))
    const current = options.current
    // Raw key bytes: node:crypto sets a raw key up faster than it does a KeyObject (measured).
    const currentKey = keys.get(current)!
    // IVs are random (96 bits each), drawn from a pool refilled 4 KiB at a time rather than a syscall per value.
    const pool = Buffer.alloc(4096)
    let poolAt = pool.length
    const nextIv = () => {
      if (poolAt + 12 > pool.length) {
        crypto.randomFillSync(pool)
        poolAt = 0
      }
      poolAt += 12
      return pool.subarray(poolAt - 12, poolAt)
    }
    const stats = { sealed: 0, compressed: 0, plainBytes: 0, compressedBytes: 0 }
    // The header is authenticated with the ciphertext: a key id or flag changed in the database fails to open.
    const aads = new Map<string, Buffer>()
    const aad = (id: string, flag: string) => {
      const header = `sextant:e1:${id}:${flag}`
      let bytes = aads.get(header)
      if (bytes === undefined) aads.set(header, bytes = Buffer.from(header))
      return bytes
    }
    const sealText = (stored: string): string => {
      let body: Buffer = Buffer.from(stored, "utf8")
      let flag = "p"
      if (body.length >= minBytes) {
        const zipped = zlib.gzipSync(body)
        if (zipped.length < body.length) {
          stats.compressed++
          stats.plainBytes += body.length
          stats.compressedBytes += zipped.length
          body = zipped
          flag = "z"
        }
      }
      const iv = Buffer.from(nextIv())
      const cipher = crypto.createCipheriv("aes-256-gcm", currentKey, iv)
      cipher.setAAD(aad(current, flag))
      const ct = Buffer.concat([cipher.update(body), cipher.final()])
      stats.sealed++
      return `${sealed.TEXT_PREFIX}${current}:${flag}:${
        Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64")
      }`
    }
    const openText = (text: string): string => {
      const idEnd = text.indexOf(":", sealed.TEXT_PREFIX.length)
      const id = text.slice(sealed.TEXT_PREFIX.length, idEnd)
      const flag = text.slice(idEnd + 1, idEnd + 2)
      const key = keys.get(id)
      if (key === undefined) {
        throw new sealed.EncryptionKeyMissing({
          keyId: id,
          message: `this value is encrypted with key '${id}', which is not among the keys given ` +
            `(${[...keys.keys()].join(", ")}): add it, or rotate with it present before removing it`
        })
      }
      try {
        const raw = Buffer.from(text.slice(idEnd + 3), "base64")
        const decipher = crypto.createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12))
        decipher.setAAD(aad(id, flag))
        decipher.setAuthTag(raw.subarray(12, 28))
        const body = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()])
        return (flag === "z" ? zlib.gunzipSync(body) : body).toString("utf8")
      } catch {
        throw new sealed.DecryptionFailed({
          keyId: id,
          message: `a value encrypted with key '${id}' does not decrypt with the key given under that id: ` +
            "the key is wrong (or the stored value was altered)"
        })
      }
    }
    return {
      current,
      keyIds: [...keys.keys()],
      stats: () => ({ ...stats }),
      text: sealText,
      json: (jsonText) => JSON.stringify(sealText(jsonText)),
      open: (value) => value.charCodeAt(0) === 0x10 ? openText(value) : openText(JSON.parse(value) as string)
    } satisfies Keyring
  })

/** The key ring as the `Encryption` layer (give it to the recorder and to every reader). */
export const layer = (options: EncryptionOptions): Layer.Layer<Encryption, InvalidEncryptionConfig> =>
  Layer.effect(Encryption, make(options))

/**
 * The options from the environment: `SEXTANT_ENCRYPTION_KEYS` (`id:base64key,id2:base64key`),
 * `SEXTANT_ENCRYPTION_KEY` (the current id; default the last listed), `SEXTANT_ENCRYPTION_COMPRESS`
 * (`1`, or the smallest size in bytes). `None` when no keys are set.
 */
export const optionsFromEnv = (
  env: Readonly<Record<string, string | undefined>> = globalThis.process?.env ?? {}
): Option.Option<EncryptionOptions> => {
  const list = env.SEXTANT_ENCRYPTION_KEYS?.trim()
  if (list === undefined || list === "") return Option.none()
  const pairs = list.split(",").map((pair) => pair.trim()).filter((pair) => pair !== "").map((pair) => {
    const at = pair.indexOf(":")
    return at === -1 ? ["", pair] as const : [pair.slice(0, at), pair.slice(at + 1)] as const
  })
  const compress = env.SEXTANT_ENCRYPTION_COMPRESS?.trim()
  return Option.some({
    keys: Object.fromEntries(pairs),
    current: env.SEXTANT_ENCRYPTION_KEY?.trim() || (pairs[pairs.length - 1]?.[0] ?? ""),
    ...(compress === undefined || compress === "" || compress === "0"
      ? {}
      : { compress: compress === "1" || compress === "true" ? true : { minBytes: Number(compress) || 1024 } })
  })
}

/** The `Encryption` layer from the environment (see `optionsFromEnv`); an empty context when no keys are set. */
export const layerFromEnv = (
  env?: Readonly<Record<string, string | undefined>>
): Layer.Layer<never, InvalidEncryptionConfig> =>
  Option.match(optionsFromEnv(env), {
    onNone: () => Layer.empty as Layer.Layer<never, InvalidEncryptionConfig>,
    onSome: (options) => layer(options) as unknown as Layer.Layer<never, InvalidEncryptionConfig>
  })

/** The key ring in context, if any (what the recorder and the readers use). */
export const current: Effect.Effect<Option.Option<Keyring>> = Effect.serviceOption(Encryption)

/** Progress of `rotate`, after each batch. */
export interface RotateProgress {
  readonly table: string
  readonly column: string
  /** Values re-sealed so far (all tables). */
  readonly resealed: number
  readonly batches: number
}

/** Options of `rotate`. */
export interface RotateOptions {
  /** Rows per batch (one transaction each; default 500). */
  readonly batchSize?: number | undefined
  /** Also seal values stored in plain text (written before encryption was configured; default true). */
  readonly sealPlain?: boolean | undefined
  readonly onProgress?: ((progress: RotateProgress) => Effect.Effect<void>) | undefined
}

/** What `rotate` did. */
export interface RotateResult {
  readonly resealed: number
  readonly batches: number
  /** The key id every content value is now sealed with. */
  readonly current: string
}

const keyColumns: { readonly [table: string]: ReadonlyArray<string> } = {
  agent_runs: ["id"],
  react_traces: ["id"],
  tool_calls: ["id"],
  llm_interactions: ["id"],
  run_events: ["id"],
  stream_chunks: ["stream_id", "sequence"]
}

/**
 * Re-seals every content value not sealed with the current key (and, by default, every plain one), a batch of
 * rows per transaction, so it can run beside a recorder and be resumed: it only ever picks rows still to do.
 * Afterwards every key but the current one can be removed. Needs every key a stored value names.
 */
export const rotate = (
  options: RotateOptions = {}
): Effect.Effect<RotateResult, SqlError.SqlError | UnsealError, SqlClient.SqlClient | Encryption> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ring = yield* Encryption
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 500))
    const sealPlain = options.sealPlain ?? true
    const prefix = `${sealed.TEXT_PREFIX}${ring.current}:`
    let resealed = 0
    let batches = 0
    for (const [table, columns] of Object.entries(sealed.contentColumns)) {
      const keys = keyColumns[table]!
      for (const [column, kind] of Object.entries(columns)) {
        const value = pg && kind === "json" ? sql`${sql(column)}::text` : sql`${sql(column)}`
        const currentPattern = kind === "json" ? JSON.stringify(prefix).slice(0, -1) : prefix
        const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)
        // Rows still to do: sealed with another key, or (sealPlain) not sealed at all.
        const todo = sealPlain
          ? sql`${value} IS NOT NULL AND ${value} NOT LIKE ${likeEscape(currentPattern) + "%"} ESCAPE '\\'`
          : sql`${value} LIKE ${
            likeEscape(kind === "json" ? sealed.JSON_PREFIX : sealed.TEXT_PREFIX) + "%"
          } ESCAPE '\\' AND ${value} NOT LIKE ${likeEscape(currentPattern) + "%"} ESCAPE '\\'`
        for (;;) {
          const rows = yield* sql<Record<string, unknown>>`SELECT ${sql.csv(keys.map((k) => sql`${sql(k)}`))},
            ${value} AS v FROM ${sql(table)} WHERE ${todo} LIMIT ${batchSize}`
          if (rows.length === 0) break
          yield* sql.withTransaction(Effect.forEach(rows, (row) => {
            const stored = String(row.v)
            const plain = sealed.isSealed(stored) ? ring.open(stored) : stored
            const next = kind === "text" ? ring.text(plain) : ring.json(plain)
            const where = sql.and(keys.map((k) => sql`${sql(k)} = ${row[k] as string | number}`))
            return sql`UPDATE ${sql(table)} SET ${sql(column)} = ${next} WHERE ${where}`
          }, { discard: true }))
          resealed += rows.length
          batches++
          if (options.onProgress !== undefined) {
            yield* options.onProgress({ table, column, resealed, batches })
          }
        }
      }
    }
    return { resealed, batches, current: ring.current }
  }).pipe(
    Effect.catchAllDefect((defect) =>
      defect instanceof sealed.EncryptionKeyMissing || defect instanceof sealed.DecryptionFailed
        ? Effect.fail(defect)
        : Effect.die(defect)
    )
  )

/** Whether a stored value (as a driver returns it) is sealed. */
export const isSealed: (value: unknown) => value is string = sealed.isSealed

/** A stored TEXT value as the string it stands for, opened with the key ring when sealed (throws `UnsealError`). */
export const openText = (ring: Keyring | undefined, stored: string): string =>
  unescapeText(sealed.openValue(ring, stored) as string)

/** What one content column holds: values in plain text, and sealed values per key id. */
export interface InventoryColumn {
  readonly table: string
  readonly column: string
  readonly plain: number
  readonly byKey: Readonly<Record<string, number>>
}

/** What the content columns hold (see `inventory`). */
export interface Inventory {
  readonly columns: ReadonlyArray<InventoryColumn>
  /** Values stored in plain text (written without keys, or before encryption was configured). */
  readonly plain: number
  /** Sealed values per key id, over every column: a key with no values here can be removed. */
  readonly byKey: Readonly<Record<string, number>>
}

/**
 * Counts the stored content values per column: plain, and sealed per key id (one grouped query per column; no
 * key is needed, nothing is decrypted). Run it before removing a key: `rotate` first if the key still seals values.
 */
export const inventory: Effect.Effect<Inventory, SqlError.SqlError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)
  const columns: Array<InventoryColumn> = []
  const byKey: Record<string, number> = {}
  let plain = 0
  for (const [table, kinds] of Object.entries(sealed.contentColumns)) {
    for (const [column, kind] of Object.entries(kinds)) {
      const value = pg && kind === "json" ? sql`${sql(column)}::text` : sql`${sql(column)}`
      const prefix = kind === "json" ? sealed.JSON_PREFIX : sealed.TEXT_PREFIX
      // The key id runs from just after the prefix to the next ':' (ids never hold one).
      const rest = sql`substr(${value}, ${prefix.length + 1})`
      const keyId = pg ? sql`split_part(${rest}, ':', 1)` : sql`substr(${rest}, 1, instr(${rest}, ':') - 1)`
      const rows = yield* sql<{ k: string | null; n: number | string }>`SELECT
          CASE WHEN ${value} LIKE ${likeEscape(prefix) + "%"} ESCAPE '\\' THEN ${keyId} ELSE NULL END AS k,
          COUNT(*) AS n
        FROM ${sql(table)} WHERE ${sql(column)} IS NOT NULL GROUP BY 1`
      const counts: Record<string, number> = {}
      let columnPlain = 0
      for (const row of rows) {
        const n = Number(row.n)
        if (row.k === null) columnPlain += n
        else {
          counts[row.k] = (counts[row.k] ?? 0) + n
          byKey[row.k] = (byKey[row.k] ?? 0) + n
        }
      }
      plain += columnPlain
      columns.push({ table, column, plain: columnPlain, byKey: counts })
    }
  }
  return { columns, plain, byKey }
})
