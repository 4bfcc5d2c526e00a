/**
 * The redaction policy: what is not PII or a secret (the guardrails' business) but must still not be stored
 * or observed. Configured beside the guardrails (`Agent.make({ redaction })`), applied by the bus to every
 * event and delta after the guardrails' pass and before the recorder, the notifiers (OTel included) and a
 * run's followers see it, so a new event kind or sink is covered without a call of its own.
 *
 * - `rules`: key names (case-insensitive, any depth), regular expressions (over every content string) and
 *   JSON paths per tool (allow or deny lists over its arguments and its result), each with an action: `drop`
 *   (the field is left out; a matched substring is removed), `mask` (`[redacted]`) or `hash` (HMAC-SHA256 with
 *   the host's `hashKey`, `hmac-sha256:<hex>`: equal values stay joinable without being readable). A value a
 *   key or path rule redacted is replaced wherever it reappears in the same run (inside a provider payload's
 *   JSON string, a later request's history).
 * - `metadataOnly`: timings, tokens, costs, statuses and errors are kept; no message, argument or result
 *   content is stored or observed at all.
 * - `maxFieldBytes` (default 256 KiB): a longer string, or a larger tool argument/result, custom data, memory
 *   value or submission, is replaced by its SHA-256, its size and a truncation marker (the event is kept);
 *   with `blobs`, the full value is written to the {@link BlobStore} first and the marker references it.
 *
 * The caller's own stream (`agent.stream`) is the caller's data: it gets the guardrails' pass only, as the
 * result of `agent.run` does. Each event carries, in `redacted`, how many values each rule (and the
 * guardrails, the run's mapping, the size cap, metadata-only) replaced.
 */
import { Data, Effect } from "effect"
import { createHash } from "node:crypto"
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"

/** What a rule does with what it matches. */
export type Action = "drop" | "mask" | "hash"

/** JSON paths over a tool's arguments or result: `$.user.email`, `$.items[*].id`, `$.rows[0]`, `$` (the whole). */
export interface PathList {
  /** Only these paths are kept; everything else is redacted with the rule's action. */
  readonly allow?: ReadonlyArray<string> | undefined
  /** These paths are redacted (wins over `allow`). */
  readonly deny?: ReadonlyArray<string> | undefined
}

/** Values under these key names, at any depth of any event, case-insensitively. */
export interface KeyRule {
  readonly name?: string | undefined
  readonly keys: ReadonlyArray<string>
  readonly action: Action
}

/** Matches of this regular expression in any content string (a string is compiled case-sensitively). */
export interface PatternRule {
  readonly name?: string | undefined
  readonly pattern: string | RegExp
  readonly action: Action
}

/** JSON paths over one tool's arguments and result, wherever they appear (calls, history, approvals). */
export interface ToolRule {
  readonly name?: string | undefined
  readonly tool: string
  readonly arguments?: PathList | undefined
  readonly result?: PathList | undefined
  readonly action: Action
}

/** One rule of a policy. */
export type Rule = KeyRule | PatternRule | ToolRule

/** Where truncated values' full content is kept, by its SHA-256 (hex); `put` of a stored hash does nothing. */
export interface BlobStore {
  readonly put: (sha256: string, bytes: Uint8Array) => Effect.Effect<void, BlobStoreError>
  readonly get: (sha256: string) => Effect.Effect<Uint8Array, BlobStoreError>
}

/** A blob could not be written or read; `sha256` names it. */
export class BlobStoreError extends Data.TaggedError("BlobStoreError")<{
  readonly sha256: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The redaction policy of an agent (see the module's documentation). */
export interface Config {
  readonly rules?: ReadonlyArray<Rule> | undefined
  /** Keep timings, tokens, costs, statuses and errors; store and show no content. */
  readonly metadataOnly?: boolean | undefined
  /** The HMAC-SHA256 key of `hash` rules (at least 16 bytes; a string is taken as UTF-8). */
  readonly hashKey?: string | Uint8Array | undefined
  /** The largest field stored as it is, in UTF-8 bytes (default 256 KiB). */
  readonly maxFieldBytes?: number | undefined
  /** Where the full content of a truncated field goes (the marker then holds its reference). */
  readonly blobs?: BlobStore | undefined
}

/** The default `maxFieldBytes`: 256 KiB. */
export const defaultMaxFieldBytes = 256 * 1024

/** The reference a truncation marker stores for a value offloaded to a {@link BlobStore}. */
export const blobRef = (sha256: string): string => `blob:sha256:${sha256}`

/** The SHA-256 (hex) of a value's bytes, as truncation markers and blob stores name it. */
export const sha256 = (bytes: Uint8Array | string): string => createHash("sha256").update(bytes).digest("hex")

const failure = (hash: string, what: string) => (cause: unknown) =>
  new BlobStoreError({
    sha256: hash,
    message: `blob ${hash}: could not be ${what} (${cause instanceof Error ? cause.message : String(cause)})`,
    cause
  })

/**
 * A {@link BlobStore} in a directory: `<directory>/<first two hex digits>/<sha256>`, written to a temporary
 * name and renamed, so a reader never sees half a blob.
 */
export const directory = (path: string): BlobStore => {
  const fileOf = (hash: string) => join(path, hash.slice(0, 2), hash)
  const checked = <A>(hash: string, effect: Effect.Effect<A, BlobStoreError>) =>
    /^[0-9a-f]{64}$/.test(hash)
      ? effect
      : Effect.fail(new BlobStoreError({ sha256: hash, message: `blob ${hash}: not a SHA-256 in lower-case hex` }))
  return {
    put: (hash, bytes) =>
      checked(
        hash,
        Effect.tryPromise({
          try: async () => {
            const file = fileOf(hash)
            if (await stat(file).then(() => true, () => false)) return
            await mkdir(join(path, hash.slice(0, 2)), { recursive: true })
            const temporary = `${file}.${process.pid}.${Date.now()}.tmp`
            await writeFile(temporary, bytes)
            await rename(temporary, file)
          },
          catch: failure(hash, "written")
        })
      ),
    get: (hash) =>
      checked(
        hash,
        Effect.tryPromise({
          try: async () => new Uint8Array(await readFile(fileOf(hash))),
          catch: failure(hash, "read")
        })
      )
  }
}
