/**
 * A schema of any supported kind, an Effect Schema or any Standard Schema (zod, valibot, ArkType, Effect's own
 * through `Schema.standardSchemaV1`), as what the runtime needs from it: a decoder of raw values whose failure
 * is a readable message, and the JSON Schema of its input side (what a vendor is sent and the model writes).
 * Tool parameters go through it; structured output can reuse it unchanged.
 *
 * The JSON Schema comes from, in order: an explicit one the caller gives; for an Effect Schema,
 * `JSONSchema.make`; for a Standard Schema, the Standard JSON Schema interface (`~standard.jsonSchema`), else a
 * converter the library puts on the schema object (`toJsonSchema()`, `toJSONSchema()`). Without any of them the
 * caller must give one, and is told so.
 */
import { Data, Effect, Either, JSONSchema, Schema } from "effect"
import type { Json } from "../HookEvent.js"
import type { StandardIssue, StandardPathSegment, StandardResult, StandardSchemaV1 } from "../StandardSchema.js"
import { describeError, toJson } from "./json.js"

/** A value the schema rejected; `message` says why (`city: Expected string`). */
export class Rejected extends Data.TaggedError("Rejected")<{ readonly message: string }> {}

const reject = (message: string) => Effect.fail(new Rejected({ message }))

/** A schema ready for use: its decoder and its JSON Schema. */
export interface Adapted {
  /** `effect`, or the Standard Schema's vendor (`zod`, `valibot`, `arktype`…). */
  readonly vendor: string
  readonly jsonSchema: Json
  /** Decodes a raw value; a rejection carries a readable message. Never dies. */
  readonly decode: (raw: unknown) => Effect.Effect<unknown, Rejected>
}

/** What is wrong: the option at fault (`parameters`, or `jsonSchema` when it was given) and why. */
export interface AdaptProblem {
  readonly option: "parameters" | "jsonSchema"
  readonly message: string
}

/** Whether a value implements Standard Schema v1 (a zod or valibot object, an ArkType function…). */
export const isStandardSchema = (u: unknown): u is StandardSchemaV1 => {
  if ((typeof u !== "object" && typeof u !== "function") || u === null) return false
  try {
    const props = (u as Partial<StandardSchemaV1>)["~standard"]
    return typeof props === "object" && props !== null && props.version === 1 && typeof props.validate === "function"
  } catch {
    return false
  }
}

type JsonRecord = { readonly [key: string]: Json }

const isRecord = (json: Json): json is JsonRecord => typeof json === "object" && json !== null && !Array.isArray(json)

/** Whether a JSON Schema describes a JSON object (`type: "object"`, or a union of such). */
const isObjectJsonSchema = (json: Json, depth = 0): boolean => {
  if (!isRecord(json) || depth > 32) return false
  if (json.type === "object") return true
  const union = json.anyOf ?? json.oneOf
  return Array.isArray(union) && union.length > 0 && union.every((member) => isObjectJsonSchema(member, depth + 1))
}

const notAnObject = "must describe a JSON object (a JSON Schema of type \"object\"): a model's tool arguments are " +
  "a JSON object, so a string, array or union of non-objects cannot describe them"

/** A JSON Schema made JSON and checked to describe an object. */
const checked = (made: unknown, option: AdaptProblem["option"], from: string): Either.Either<Json, AdaptProblem> => {
  const json = toJson(made)
  if (Either.isLeft(json)) return Either.left({ option, message: `${from} is ${json.left}` })
  return isObjectJsonSchema(json.right) ? Either.right(json.right) : Either.left({ option, message: notAnObject })
}

// ---------------------------------------------------------------------------------------------------------
// Effect Schema
// ---------------------------------------------------------------------------------------------------------

const fromEffect = (
  schema: Schema.Schema<unknown, unknown>,
  explicit: unknown
): Either.Either<Adapted, AdaptProblem> => {
  let jsonSchema: Either.Either<Json, AdaptProblem>
  if (explicit !== undefined) {
    jsonSchema = checked(explicit, "jsonSchema", "the JSON Schema")
  } else {
    try {
      const made = toJson(JSONSchema.make(schema))
      jsonSchema = Either.mapLeft(made, (why) => ({
        option: "parameters" as const,
        message: `cannot be expressed as JSON Schema: ${why}`
      }))
    } catch (e) {
      jsonSchema = Either.left({ option: "parameters", message: `cannot be expressed as JSON Schema: ${String(e)}` })
    }
  }
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  return Either.map(jsonSchema, (json) => ({
    vendor: "effect",
    jsonSchema: json,
    decode: (raw) =>
      decode(raw).pipe(
        Effect.mapError((e) => new Rejected({ message: e.message })),
        Effect.catchAllDefect((defect) => reject(`the schema threw: ${describeError(defect)}`))
      )
  }))
}

// ---------------------------------------------------------------------------------------------------------
// Standard Schema
// ---------------------------------------------------------------------------------------------------------

/** JSON Schema targets asked for, in order: draft-07 is what `JSONSchema.make` writes for Effect Schemas. */
const targets = ["draft-07", "draft-2020-12"] as const

/** Methods some libraries put on their schema objects (ArkType's `toJsonSchema`, zod's `toJSONSchema`). */
const ownConverters = ["toJsonSchema", "toJSONSchema"] as const

const hintFor = (vendor: string): string =>
  vendor === "valibot"
    ? " (for valibot: `jsonSchema: toJsonSchema(schema)` from @valibot/to-json-schema, or pass " +
      "`toStandardJsonSchema(schema)` from the same package as the parameters)"
    : ""

const standardJsonSchema = (schema: StandardSchemaV1): Either.Either<Json, AdaptProblem> => {
  const props = schema["~standard"]
  const converter = props.jsonSchema
  if (typeof converter?.input === "function") {
    let last: unknown
    for (const target of targets) {
      try {
        return checked(converter.input({ target }), "parameters", "its JSON Schema")
      } catch (e) {
        last = e
      }
    }
    return Either.left({
      option: "parameters",
      message: `its Standard JSON Schema (~standard.jsonSchema) produced no ${targets.join(" or ")} JSON Schema: ${
        describeError(last)
      }`
    })
  }
  for (const method of ownConverters) {
    const convert = (schema as unknown as Record<string, unknown>)[method]
    if (typeof convert !== "function") continue
    try {
      return checked(convert.call(schema), "parameters", "its JSON Schema")
    } catch (e) {
      return Either.left({ option: "parameters", message: `its ${method}() failed: ${describeError(e)}` })
    }
  }
  return Either.left({
    option: "parameters",
    message: `has no JSON Schema for the model: this ${props.vendor} schema offers neither the Standard JSON Schema ` +
      `interface (~standard.jsonSchema) nor a converter of its own, so give the JSON Schema of the arguments as ` +
      `the tool's \`jsonSchema\` option${hintFor(props.vendor)}`
  })
}

const segment = (s: StandardPathSegment): PropertyKey => (typeof s === "object" && s !== null ? s.key : s)

/** Issues as one line: `city: Expected string; items[0]: Required`. */
const formatIssues = (issues: ReadonlyArray<StandardIssue>): string =>
  issues.map((issue) => {
    const path = (issue.path ?? []).map(segment).reduce<string>(
      (out, key) => (typeof key === "number" ? `${out}[${key}]` : out === "" ? String(key) : `${out}.${String(key)}`),
      ""
    )
    return path === "" ? issue.message : `${path}: ${issue.message}`
  }).join("; ") || "the value is invalid"

const fromResult = (result: StandardResult<unknown>): Effect.Effect<unknown, Rejected> =>
  result.issues === undefined ? Effect.succeed(result.value) : reject(formatIssues(result.issues))

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

const fromStandard = (schema: StandardSchemaV1, explicit: unknown): Either.Either<Adapted, AdaptProblem> => {
  const props = schema["~standard"]
  const jsonSchema = explicit !== undefined
    ? checked(explicit, "jsonSchema", "the JSON Schema")
    : standardJsonSchema(schema)
  const validate = (raw: unknown): Effect.Effect<unknown, Rejected> =>
    Effect.suspend(() => {
      let out: ReturnType<typeof props.validate>
      try {
        out = props.validate(raw)
      } catch (e) {
        return reject(`the ${props.vendor} schema threw: ${describeError(e)}`)
      }
      if (!isPromiseLike(out)) return fromResult(out)
      const pending = out
      return Effect.flatMap(
        Effect.tryPromise({
          try: () => Promise.resolve(pending),
          catch: (e) => new Rejected({ message: `the ${props.vendor} schema failed: ${describeError(e)}` })
        }),
        fromResult
      )
    })
  return Either.map(jsonSchema, (json) => ({ vendor: props.vendor, jsonSchema: json, decode: validate }))
}

/**
 * Adapts a schema: an Effect Schema (`Schema.isSchema`, which also covers `Schema.standardSchemaV1`, read as the
 * Effect Schema it is) or a Standard Schema. `jsonSchema`, when given, is used instead of a derived one.
 */
export const adapt = (schema: unknown, jsonSchema?: unknown): Either.Either<Adapted, AdaptProblem> => {
  if (Schema.isSchema(schema)) return fromEffect(schema as Schema.Schema<unknown, unknown>, jsonSchema)
  if (isStandardSchema(schema)) return fromStandard(schema, jsonSchema)
  return Either.left({ option: "parameters", message: "must be an Effect Schema or a Standard Schema" })
}
