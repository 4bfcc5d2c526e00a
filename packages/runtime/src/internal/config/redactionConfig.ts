/**
 * The Schema of an agent's `redaction` policy: each rule's shape and each limit with a message naming its
 * path (`redaction.rules[2].action`). What needs more (compiling a pattern, parsing a JSON path, a tool the
 * agent has, a `hash` rule without a key) is checked when the policy is compiled.
 */
import { Schema } from "effect"
import type { BlobStore } from "../../Redaction.js"
import { explained, optional, show } from "./fields.js"

const Action = explained(
  Schema.Literal("drop", "mask", "hash"),
  (u) => `must be "drop", "mask" or "hash", got ${show(u)}`
)

const NonEmpty = explained(
  Schema.String.pipe(Schema.filter((s) => s.trim() !== "")),
  (u) => `must be a non-empty string, got ${show(u)}`
)

const Pattern = explained(
  Schema.Union(NonEmpty, Schema.declare((u): u is RegExp => u instanceof RegExp)),
  (u) => `must be a regular expression or its source as a non-empty string, got ${show(u)}`
)

const PathList = Schema.Struct({
  allow: optional(Schema.Array(NonEmpty)),
  deny: optional(Schema.Array(NonEmpty))
})

/** One rule: exactly one of `keys`, `pattern` or `tool`, and its action. */
export const RuleSpec = Schema.Struct({
  name: optional(NonEmpty),
  keys: optional(Schema.Array(NonEmpty).pipe(Schema.minItems(1, { message: () => "must name at least one key" }))),
  pattern: optional(Pattern),
  tool: optional(NonEmpty),
  arguments: optional(PathList),
  result: optional(PathList),
  action: Schema.propertySignature(Action).annotations({
    missingMessage: () => `a rule needs an action: "drop", "mask" or "hash"`
  })
}).pipe(
  Schema.filter((rule) => {
    const kinds = [rule.keys, rule.pattern, rule.tool].filter((k) => k !== undefined).length
    if (kinds !== 1) {
      return { path: [], message: `a rule has exactly one of keys, pattern or tool (this one has ${kinds})` }
    }
    if (rule.tool === undefined && (rule.arguments !== undefined || rule.result !== undefined)) {
      return { path: [rule.arguments === undefined ? "result" : "arguments"], message: "JSON paths need a tool" }
    }
    if (rule.tool !== undefined && rule.arguments === undefined && rule.result === undefined) {
      return { path: ["tool"], message: "a tool rule needs arguments and/or result paths" }
    }
    return undefined
  })
)
/** One rule as validated. */
export type RuleSpec = typeof RuleSpec.Type

const isBlobStore = (u: unknown): u is BlobStore =>
  typeof u === "object" && u !== null && typeof (u as BlobStore).put === "function" &&
  typeof (u as BlobStore).get === "function"

/** The Schema of `AgentConfig.redaction`. */
export const RedactionSpec = Schema.Struct({
  rules: optional(Schema.Array(RuleSpec)),
  metadataOnly: optional(explained(Schema.Boolean, (u) => `must be a boolean, got ${show(u)}`)),
  hashKey: optional(
    explained(
      Schema.Union(Schema.String, Schema.Uint8ArrayFromSelf).pipe(
        Schema.filter((k) => (typeof k === "string" ? Buffer.byteLength(k) : k.byteLength) >= 16)
      ),
      () => "must be a string or Uint8Array of at least 16 bytes (an HMAC key from the host's secrets)"
    )
  ),
  maxFieldBytes: optional(
    explained(
      Schema.Number.pipe(Schema.int(), Schema.greaterThanOrEqualTo(1024)),
      (u) => `must be an integer of at least 1024 (bytes), got ${show(u)}`
    )
  ),
  blobs: optional(explained(Schema.declare(isBlobStore), () => "must be a BlobStore (see Redaction.directory)"))
})
/** A policy as validated. */
export type RedactionSpec = typeof RedactionSpec.Type
