/**
 * The stored form of an encrypted value, shared by the writer and every reader. A sealed TEXT value is
 *
 *   U+0010 "e1:" key-id ":" flag ":" base64(iv ‖ tag ‖ ciphertext)
 *
 * (flag `z`: gzip before encryption, `p`: plain), and a sealed JSON value is that string as a JSON string. An
 * escaped column value never starts with U+0010 followed by "e" (`escape.ts` writes U+0010 only before U+0010,
 * "0" or "x"), so a sealed value can never be mistaken for a stored one, or the reverse.
 */
import { Data } from "effect"

/** The prefix of a sealed TEXT value. */
export const TEXT_PREFIX = "\u0010e1:"
/** The prefix of a sealed JSON value as JSON text (what SQLite stores and Postgres prints for JSONB). */
export const JSON_PREFIX = "\"\\u0010e1:"

/** What a content column is: TEXT, or JSON text. */
export type ContentKind = "text" | "json"

/** The content columns of each table, sealed when keys are configured. */
export const contentColumns: { readonly [table: string]: { readonly [column: string]: ContentKind } } = {
  agent_runs: {
    input: "text",
    instructions: "text",
    answer: "text",
    pause_state: "json",
    resume_submission: "json"
  },
  react_traces: { content: "text", tool_calls: "json", parts: "json" },
  tool_calls: { params: "json", result: "json" },
  llm_interactions: {
    semantic_request: "json",
    semantic_response: "json",
    provider_request: "json",
    provider_response: "json"
  },
  run_events: { data: "json" },
  stream_chunks: { data: "json" }
}

/** Whether a stored value (as a driver returns it) is sealed. */
export const isSealed = (value: unknown): value is string =>
  typeof value === "string" && value.length > 4 &&
  (value.charCodeAt(0) === 0x10 ? value.startsWith(TEXT_PREFIX) : value.startsWith(JSON_PREFIX))

/** The key id a sealed value names (`undefined` when it is not sealed). */
export const keyIdOf = (value: string): string | undefined => {
  const text = value.charCodeAt(0) === 0x10 ? value : value.startsWith(JSON_PREFIX) ? JSON.parse(value) as string : ""
  if (!text.startsWith(TEXT_PREFIX)) return undefined
  const end = text.indexOf(":", TEXT_PREFIX.length)
  return end === -1 ? undefined : text.slice(TEXT_PREFIX.length, end)
}

/** A sealed value was read without the key it names (no keys given, or a key ring without that id). */
export class EncryptionKeyMissing extends Data.TaggedError("EncryptionKeyMissing")<{
  readonly keyId: string
  readonly message: string
}> {}

/** A sealed value did not decrypt with the key of its id: a wrong key under that id, or altered ciphertext. */
export class DecryptionFailed extends Data.TaggedError("DecryptionFailed")<{
  readonly keyId: string
  readonly message: string
}> {}

/** Why a sealed value could not be read. */
export type UnsealError = EncryptionKeyMissing | DecryptionFailed

/** The sealing half of a key ring: what the writers use. */
export interface Sealer {
  /** Seals a TEXT column's stored string. */
  readonly text: (stored: string) => string
  /** Seals a JSON column's stored JSON text (the result is JSON text too: a JSON string). */
  readonly json: (jsonText: string) => string
}

/** The reading half: opens a sealed value (TEXT or JSON text) back into the stored form it was sealed from. */
export interface Opener {
  readonly open: (sealed: string) => string
}

/** What readers are given: a key ring, or none (then a sealed value is `EncryptionKeyMissing`). */
export type MaybeOpener = Opener | undefined

/** Opens one stored value; throws `EncryptionKeyMissing` / `DecryptionFailed`. Values not sealed pass through. */
export const openValue = (opener: MaybeOpener, value: unknown): unknown => {
  if (!isSealed(value)) return value
  if (opener === undefined) {
    const keyId = keyIdOf(value) ?? "?"
    throw new EncryptionKeyMissing({
      keyId,
      message: `this value is encrypted (key '${keyId}') and no encryption keys were given: pass the keys ` +
        "(`Encryption.layer({ keys, current })`, or SEXTANT_ENCRYPTION_KEYS in the environment)"
    })
  }
  return opener.open(value)
}

/** Opens every sealed value of the rows (a new row only where one was sealed); throws like `openValue`. */
export const openRows = <A>(opener: MaybeOpener, rows: ReadonlyArray<A>): ReadonlyArray<A> => {
  let out: Array<A> | undefined
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>
    let copy: Record<string, unknown> | undefined
    for (const key in row) {
      const value = row[key]
      if (isSealed(value)) (copy ??= { ...row })[key] = openValue(opener, value)
    }
    if (copy !== undefined) (out ??= rows.slice())[i] = copy as A
  }
  return out ?? rows
}

/** Seals the content columns of an encoded row of `table` (the same row when there is no sealer). */
export const sealRow = <R extends Readonly<Record<string, string | number | null>>>(
  sealer: Sealer | undefined,
  table: string,
  row: R
): R => {
  if (sealer === undefined) return row
  const columns = contentColumns[table]
  if (columns === undefined) return row
  let copy: Record<string, string | number | null> | undefined
  for (const column in columns) {
    const value = row[column]
    if (typeof value !== "string") continue
    ;(copy ??= { ...row })[column] = columns[column] === "text" ? sealer.text(value) : sealer.json(value)
  }
  return (copy ?? row) as R
}
