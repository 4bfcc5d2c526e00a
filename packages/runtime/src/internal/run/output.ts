/**
 * Structured output: a run's `output` Schema compiled once (JSON Schema, name, hash), the request's hint to
 * the provider (native mode) or the instruction appended to the system prompt (prompted mode), and the
 * decode of the model's final answer, with repair turns that show the model the decode error.
 *
 * Decisions: the answer is validated as the model wrote it (placeholders of redacting guardrails kept, as
 * recorded and as the model will be shown); the caller's `output` is decoded from the de-anonymised JSON,
 * falling back to the validated value when only the placeholder form decodes. A run that pauses stores the
 * schema's name and hash; its resume must run with the same Schema (a different or missing one is an
 * `InvalidRunOptions` naming `output`).
 */
import { Effect, Either, JSONSchema, Option, ParseResult, Schema, SchemaAST } from "effect"
import { createHash } from "node:crypto"
import { InvalidRunOptions, type RecorderError } from "../../Errors.js"
import type { Json, OutputSchemaRef } from "../../HookEvent.js"
import type { ModelOutputFormat } from "../../LanguageModel.js"
import type { RunResult } from "../../RunResult.js"
import type { AgentDefinition } from "../definition.js"
import type { RunState } from "../runState.js"
import { restore } from "../sanitize.js"
import { appendMessage } from "./events.js"
import { finish, finishFailed } from "./finish.js"

/** The most repair turns a run may be configured with. */
export const MAX_OUTPUT_REPAIRS = 3
/** Repair turns when none are configured. */
export const DEFAULT_OUTPUT_REPAIRS = 1

/** A compiled output Schema. */
export interface OutputSpec {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any encoded side: decoded from JSON
  readonly schema: Schema.Schema<any, any>
  readonly ref: OutputSchemaRef
  readonly jsonSchema: Json
  readonly repairs: number
}

const compiled = new WeakMap<object, Omit<OutputSpec, "repairs">>()

const nameOf = (schema: Schema.Schema.Any): string => {
  const id = Option.getOrUndefined(SchemaAST.getIdentifierAnnotation(schema.ast)) ??
    Option.getOrUndefined(SchemaAST.getTitleAnnotation(schema.ast))
  const clean = (id ?? "output").replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64)
  return clean === "" ? "output" : clean
}

/** Compiles an output Schema (cached per Schema); the message says why a Schema cannot be used. */
export const compileOutput = (
  schema: unknown,
  repairs: unknown
): Either.Either<OutputSpec, { readonly field: string; readonly message: string }> => {
  if (!Schema.isSchema(schema)) {
    return Either.left({ field: "output", message: "output: must be an Effect Schema" })
  }
  const n = repairs ?? DEFAULT_OUTPUT_REPAIRS
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_OUTPUT_REPAIRS) {
    return Either.left({
      field: "outputRepairs",
      message: `outputRepairs: must be an integer from 0 to ${MAX_OUTPUT_REPAIRS}, got ${String(n)}`
    })
  }
  let base = compiled.get(schema)
  if (base === undefined) {
    let jsonSchema: Json
    try {
      const { $schema: _, ...rest } = JSONSchema.make(schema as Schema.Schema<unknown, unknown>) as unknown as Record<
        string,
        unknown
      >
      jsonSchema = JSON.parse(JSON.stringify(rest)) as Json
    } catch (error) {
      return Either.left({
        field: "output",
        message: `output: no JSON Schema can be derived from the Schema (${
          error instanceof Error ? error.message : String(error)
        }); annotate it with \`jsonSchema\``
      })
    }
    const hash = createHash("sha256").update(JSON.stringify(jsonSchema)).digest("hex")
    base = { schema: schema as OutputSpec["schema"], ref: { name: nameOf(schema), hash }, jsonSchema }
    compiled.set(schema, base)
  }
  return Either.right({ ...base, repairs: n })
}

/**
 * The output of one run or resume: its `output` option, else the agent's default; repairs likewise. A bad
 * option is an `InvalidRunOptions` naming its field.
 */
export const resolveOutput = (
  agent: AgentDefinition,
  options: { readonly output?: unknown; readonly outputRepairs?: unknown }
): Either.Either<OutputSpec | undefined, InvalidRunOptions> => {
  const schema = options.output ?? agent.output?.schema
  if (schema === undefined) return Either.right(undefined)
  return Either.mapLeft(
    compileOutput(schema, options.outputRepairs ?? agent.outputRepairs),
    ({ field, message }) => new InvalidRunOptions({ field, message })
  )
}

/** A resume runs with the Schema its run was started with (compared by hash); none when it had none. */
export const resumeOutput = (
  runId: string,
  saved: OutputSchemaRef | undefined,
  spec: OutputSpec | undefined
): Either.Either<OutputSpec | undefined, InvalidRunOptions> => {
  if (saved === undefined) return Either.right(undefined)
  if (spec !== undefined && spec.ref.hash === saved.hash) return Either.right(spec)
  const message = spec === undefined
    ? `output: run ${runId} was started with the output schema '${saved.name}'; pass the same Schema to the resume`
    : `output: run ${runId} was started with the output schema '${saved.name}' (${saved.hash.slice(0, 12)}), ` +
      `not '${spec.ref.name}' (${spec.ref.hash.slice(0, 12)})`
  return Either.left(new InvalidRunOptions({ field: "output", message }))
}

/** What the request carries for the provider's native structured output. */
export const formatOf = (spec: OutputSpec): ModelOutputFormat => ({ name: spec.ref.name, schema: spec.jsonSchema })

/** The system prompt of a call: in prompted mode (a model without native support) the instruction is appended. */
export const systemFor = (state: RunState, system: string): string => {
  const spec = state.output
  if (spec === undefined || state.model.structuredOutput === "native") return system
  const instruction = "When you give your final answer (not a tool call), reply with only a JSON value, no " +
    `other text and no code fence, that conforms to this JSON Schema (named '${spec.ref.name}'):\n` +
    JSON.stringify(spec.jsonSchema)
  return system === "" ? instruction : `${system}\n\n${instruction}`
}

/** The JSON of an answer: the text, trimmed, a Markdown code fence around it removed. */
const parse = (text: string): Either.Either<unknown, string> => {
  const trimmed = text.trim()
  const fenced = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(trimmed)
  try {
    return Either.right(JSON.parse(fenced === null ? trimmed : fenced[1]!))
  } catch (error) {
    return Either.left(`the answer is not JSON (${error instanceof Error ? error.message : String(error)})`)
  }
}

const decodeWith = (spec: OutputSpec, json: unknown): Either.Either<unknown, string> =>
  Either.mapLeft(
    Schema.decodeUnknownEither(spec.schema, { errors: "all", onExcessProperty: "ignore" })(json),
    (error) => ParseResult.TreeFormatter.formatErrorSync(error)
  )

/** Decodes an answer: the recorded JSON (the decoded value encoded back) and the caller's value. */
export const decodeAnswer = (
  state: RunState,
  spec: OutputSpec,
  text: string
): Either.Either<{ readonly recorded: Json; readonly value: unknown }, string> =>
  Either.flatMap(parse(text), (json) =>
    Either.flatMap(decodeWith(spec, json), (decoded) => {
      const recorded = Either.getOrElse(
        Either.try(() => JSON.parse(JSON.stringify(Schema.encodeUnknownSync(spec.schema)(decoded))) as Json),
        () => json as Json
      )
      const real = restore(state, json as Json)
      const value = real === json ? decoded : Either.getOrElse(decodeWith(spec, real), () => decoded)
      return Either.right({ recorded, value })
    }))

/** The repair request the model is shown after a failed decode. */
export const repairMessage = (spec: OutputSpec, error: string): string =>
  `Your answer does not match the required output schema '${spec.ref.name}':\n${error}\n` +
  "Reply again with only the corrected JSON value."

/**
 * The model answered without tool calls: without an output Schema the run succeeds with the text; with one
 * the text is decoded. A failed decode records `output.invalid` and either asks for a repair (nothing
 * returned: the loop goes on) or ends the run `error`/`output_invalid`.
 */
export const answered = (
  state: RunState,
  text: string,
  correlationId: string,
  iteration: number
): Effect.Effect<Option.Option<RunResult>, RecorderError> => {
  const spec = state.output
  if (spec === undefined) return Effect.asSome(finish(state, "success", text))
  const decoded = decodeAnswer(state, spec, text)
  if (Either.isRight(decoded)) return Effect.asSome(finish(state, "success", text, decoded.right))
  return Effect.gen(function*() {
    const error = decoded.left
    state.outputFailures++
    const repair = state.outputFailures <= spec.repairs
    yield* state.bus.emit(
      { _tag: "OutputInvalid", correlationId, schema: spec.ref, error, attempt: state.outputFailures, repair },
      iteration
    )
    if (repair) {
      yield* appendMessage(state, { _tag: "user", content: repairMessage(spec, error) }, iteration)
      return Option.none()
    }
    const message = `the answer does not decode with the output schema '${spec.ref.name}': ${error}`
    return Option.some(yield* finishFailed(state, { tag: "OutputInvalid", message }, "output_invalid"))
  })
}
