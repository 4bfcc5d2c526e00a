/**
 * The Schema of a run's options. Identifiers are non-empty, at most 255 characters and NUL-free (no
 * database stores a NUL in a text column, and the caller can fix it); metadata is a JSON object whose
 * strings and keys are NUL-free, normalised once (`toJSON` applied) so every recorder stores the same value.
 */
import { Either, ParseResult, Schema, type SchemaAST } from "effect"
import type { Json } from "../../HookEvent.js"
import type { Notifier } from "../../Notifier.js"
import { toJsonAt } from "../json.js"
import { checkNotifiers } from "../notifierList.js"
import { explained, hasNul, NUL, optional, show } from "./fields.js"

/** The longest run id, tenant id, parent run id or idempotency key. */
export const MAX_OPTION_LENGTH = 255

/** A run id, tenant id, parent run id or idempotency key: 1..255 characters, no NUL. */
export const RunOptionString = explained(
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_OPTION_LENGTH)),
  (u) => `must be a non-empty string of at most ${MAX_OPTION_LENGTH} characters, got ${show(u)}`
).pipe(Schema.filter((s) => !hasNul(s), { message: () => `must not contain ${NUL}` }))

type JsonObject = { readonly [key: string]: Json }

const isJsonObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

/** The first place in a JSON value holding a NUL (in a key or a string), as a path. */
const findNul = (value: Json, path: Array<string | number>): Array<string | number> | undefined => {
  if (typeof value === "string") return hasNul(value) ? path : undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i]!, [...path, i])
      if (found !== undefined) return found
    }
    return undefined
  }
  if (value === null || typeof value !== "object") return undefined
  for (const [key, item] of Object.entries(value)) {
    if (hasNul(key)) return [...path, key]
    const found = findNul(item, [...path, key])
    if (found !== undefined) return found
  }
  return undefined
}

/**
 * An issue at a path inside the metadata. The rejected value is not carried along: formatting it would read
 * it again (a throwing getter would throw there), and it may be large.
 */
const issueAt = (path: ReadonlyArray<string | number>, ast: SchemaAST.AST, message: string): ParseResult.ParseIssue => {
  const issue = new ParseResult.Type(ast, undefined, message)
  return path.length === 0 ? issue : new ParseResult.Pointer(path as [string | number], undefined, issue)
}

/**
 * Run metadata: a JSON object (normalised: Dates become ISO strings), NUL-free in its keys and strings, or
 * undefined. It takes undefined itself rather than through `Schema.optional`'s union, whose failure messages
 * would format (read again) the rejected value.
 */
export const Metadata = Schema.transformOrFail(Schema.Unknown, Schema.UndefinedOr(Schema.declare(isJsonObject)), {
  strict: true,
  decode: (u, _, ast) => {
    if (u === undefined) return ParseResult.succeed(undefined)
    const json = toJsonAt(u)
    if (Either.isLeft(json)) {
      return ParseResult.fail(
        issueAt(json.left.path, ast, `must be JSON, got ${json.left.found}`)
      )
    }
    if (!isJsonObject(json.right)) return ParseResult.fail(issueAt([], ast, "must be a JSON object"))
    const nul = findNul(json.right, [])
    if (nul !== undefined) {
      return ParseResult.fail(issueAt(nul, ast, `must not contain ${NUL}`))
    }
    return ParseResult.succeed(json.right)
  },
  encode: ParseResult.succeed
})

/** A run's own notifiers: each entry a notifier, no two leaves with one name (see `checkNotifiers`). */
const RunNotifiers = Schema.transformOrFail(
  Schema.Unknown,
  Schema.UndefinedOr(Schema.declare((u): u is ReadonlyArray<Notifier> => Array.isArray(u))),
  {
    strict: true,
    decode: (u, _, ast) => {
      if (u === undefined) return ParseResult.succeed(undefined)
      const problem = checkNotifiers(u)
      return problem === undefined
        ? ParseResult.succeed(u as ReadonlyArray<Notifier>)
        : ParseResult.fail(issueAt(problem.path, ast, problem.message))
    },
    encode: ParseResult.succeed
  }
)

/** The Schema of a run's options (`run`, `stream`, and the notifiers and trace context of a resume). */
export const RunOptionsSchema = Schema.Struct({
  runId: optional(RunOptionString),
  tenantId: optional(RunOptionString),
  metadata: Schema.optionalWith(Metadata, { exact: true }),
  notifiers: Schema.optionalWith(RunNotifiers, { exact: true }),
  parentRunId: optional(RunOptionString),
  idempotencyKey: optional(RunOptionString),
  threadId: optional(RunOptionString),
  onBusy: optional(
    explained(Schema.Literal("wait", "reject"), (u) => `must be "wait" or "reject", got ${show(u)}`)
  ),
  traceContext: optional(Schema.Unknown)
})
/** Run options as validated. */
export type RunOptionsSpec = typeof RunOptionsSchema.Type
