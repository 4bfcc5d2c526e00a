/**
 * The Schema of `Agent.make`'s configuration: each limit declared once, each message naming its field.
 * What needs more than one field (duplicate tool names, deny/approval lists against the tools) is checked
 * when the definition is compiled.
 */
import { Schema, type SchemaAST } from "effect"
import type { Guardrail } from "../../Guardrails.js"
import type { Json } from "../../HookEvent.js"
import type { StandardSchemaV1 } from "../../StandardSchema.js"
import { foreignOf, mismatchMessage } from "../effectCopies.js"
import { isStandardSchema } from "../schemaAdapter.js"
import { explained, hasNul, NUL, optional, PositiveDuration, required, show } from "./fields.js"
import { RedactionSpec } from "./redactionConfig.js"

/** The most iterations an agent may be configured with. */
export const MAX_ITERATIONS_CEILING = 200

const NonEmptyString = explained(
  Schema.String.pipe(Schema.filter((s) => s.trim() !== "")),
  (u) => `must be a non-empty string, got ${show(u)}`
)

const AgentName = NonEmptyString.pipe(Schema.filter((s) => !hasNul(s), { message: () => `must not contain ${NUL}` }))

const MaxIterations = explained(
  Schema.Number.pipe(Schema.int(), Schema.between(1, MAX_ITERATIONS_CEILING)),
  (u) => `must be an integer in 1..${MAX_ITERATIONS_CEILING}, got ${show(u)}`
)

const NonNegativeInt = explained(
  Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  (u) => `must be a non-negative integer, got ${show(u)}`
)

const PositiveInt = explained(
  Schema.Number.pipe(Schema.int(), Schema.positive()),
  (u) => `must be a positive integer, got ${show(u)}`
)

const PositiveNumber = explained(
  Schema.Number.pipe(Schema.finite(), Schema.positive()),
  (u) => `must be a positive number, got ${show(u)}`
)

const Price = explained(
  Schema.Number.pipe(Schema.finite(), Schema.nonNegative()),
  (u) => `must be a non-negative number (USD per million tokens), got ${show(u)}`
)

const Fraction = explained(
  Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
  (u) => `must be a fraction in (0, 1), got ${show(u)}`
)

const ToolName = explained(
  Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/)),
  (u) => `${show(u)} must be 1-64 letters, digits, '_' or '-'`
)

const aFunction = (u: unknown): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function"

/** Whether a Schema describes a JSON object (its encoded side: what the model sends). */
const isObjectAst = (ast: SchemaAST.AST, depth = 0): boolean => {
  if (depth > 32) return false
  switch (ast._tag) {
    case "TypeLiteral":
      return ast.propertySignatures.length > 0 || ast.indexSignatures.length === 0
    case "Refinement":
    case "Transformation":
      return isObjectAst(ast.from, depth + 1)
    case "Suspend":
      return isObjectAst(ast.f(), depth + 1)
    case "Union":
      return ast.types.every((t) => isObjectAst(t, depth + 1))
    default:
      return false
  }
}

/** Why a value is not a tool's parameters: a Schema of another copy of effect says so, with both versions. */
const notParameters = (u: unknown): string => {
  const foreign = foreignOf(u)
  if (foreign === undefined) {
    return "must be a Schema: an Effect Schema (e.g. Schema.Struct({ city: Schema.String })) or a Standard Schema " +
      "(zod, valibot, ArkType)"
  }
  const standard = foreign.kind === "Schema" && foreign.major === 4
    ? " (or pass it as a Standard Schema: Schema.toStandardSchemaV1(Schema.toStandardJSONSchemaV1(schema)) in effect 4)"
    : ""
  return `is ${mismatchMessage(foreign)}${standard}`
}

const ToolParameters = Schema.declare(
  (u): u is Schema.Schema<unknown, unknown> | StandardSchemaV1 => Schema.isSchema(u) || isStandardSchema(u),
  { message: (issue) => notParameters(issue.actual) }
).pipe(
  // Effect Schemas are checked here by their AST; a Standard Schema by its JSON Schema when the tool is compiled.
  Schema.filter((s) => !Schema.isSchema(s) || isObjectAst(s.ast), {
    message: () =>
      "must be an object Schema (Schema.Struct, a Class or a union of structs): a model's tool arguments are a " +
      "JSON object, so a string, array, record or union of non-objects cannot describe them"
  })
)

/** The Schema of one tool definition (`Tool.make`). */
export const ToolSpec = Schema.Struct({
  name: required(ToolName, (u) => `${show(u)} must be 1-64 letters, digits, '_' or '-'`),
  description: required(NonEmptyString, (u) => `a tool needs a non-empty description, got ${show(u)}`),
  parameters: required(ToolParameters, () => "a tool needs a Schema of its arguments"),
  jsonSchema: optional(
    explained(
      Schema.declare((u): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)),
      (u) => `must be a JSON Schema object, got ${show(u)}`
    )
  ),
  handler: optional(explained(Schema.declare(aFunction), (u) => `must be a function, got ${show(u)}`)),
  target: optional(
    explained(Schema.Literal("server", "client"), (u) => `must be "server" or "client", got ${show(u)}`)
  ),
  parallel: optional(explained(Schema.Boolean, (u) => `must be a boolean, got ${show(u)}`)),
  idempotent: optional(explained(Schema.Boolean, (u) => `must be a boolean, got ${show(u)}`)),
  timeout: optional(PositiveDuration),
  maxCallsPerRun: optional(PositiveInt),
  stream: optional(Schema.Struct({
    sampleRate: optional(
      explained(Schema.Number.pipe(Schema.between(0, 1)), (u) => `must be a number in 0..1, got ${show(u)}`)
    ),
    maxSamples: optional(PositiveInt)
  })),
  kind: optional(explained(Schema.Literal("human"), (u) => `must be "human" when set, got ${show(u)}`))
}).pipe(
  Schema.filter((tool) =>
    (tool.target ?? "server") === "server" && tool.handler === undefined
      ? { path: ["handler"], message: `server tool '${tool.name}' needs a handler` }
      : undefined
  )
)
/** A tool definition as validated. */
export type ToolSpec = typeof ToolSpec.Type

const isGuardrail = (u: unknown): u is Guardrail =>
  typeof u === "object" && u !== null && typeof (u as Guardrail).detect === "function" &&
  ["redact", "block", "warn"].includes((u as Guardrail).action) && typeof (u as Guardrail).name === "string"

const GuardrailSpec = explained(
  Schema.declare(isGuardrail),
  () => "must be a Guardrail (see Guardrails.PII, SecretDetection, PromptInjection, custom)"
)

/** The Schema of a run's token and/or cost budget. */
export const BudgetSpec = Schema.Struct({
  maxTokens: optional(PositiveNumber),
  maxCostUsd: optional(PositiveNumber),
  warnAt: optional(Schema.Array(Fraction)),
  onExceeded: optional(
    explained(Schema.Literal("warn", "stop"), (u) => `must be "warn" or "stop", got ${show(u)}`)
  )
}).pipe(
  Schema.filter((b) =>
    b.maxTokens === undefined && b.maxCostUsd === undefined
      ? { path: ["maxTokens"], message: "a budget needs maxTokens or maxCostUsd" }
      : undefined
  )
)

/** The Schema of a thread's history window: last N messages and/or a token budget, and a summary hook. */
export const HistorySpec = Schema.Struct({
  maxMessages: optional(PositiveInt),
  maxTokens: optional(PositiveInt),
  summarize: optional(
    explained(
      Schema.declare((u): u is (...args: ReadonlyArray<never>) => unknown => typeof u === "function"),
      (u) => `must be a function from the dropped messages to an Effect of the summary, got ${show(u)}`
    )
  )
})

/** The Schema of a model's price (USD per million tokens). */
export const PriceSpec = Schema.Struct({
  inputPerMTok: required(Price, (u) => `must be a non-negative number (USD per million tokens), got ${show(u)}`),
  outputPerMTok: required(Price, (u) => `must be a non-negative number (USD per million tokens), got ${show(u)}`),
  cacheReadPerMTok: Schema.optionalWith(Price, { exact: true }),
  cacheWritePerMTok: Schema.optionalWith(Price, { exact: true })
})

const mustBeString = (u: unknown) => `must be a string, got ${show(u)}`

const ToolNameList = Schema.Array(explained(Schema.String, (u) => `must be a tool name, got ${show(u)}`))

/** The Schema of `Agent.make`'s configuration. */
export const AgentConfigSchema = Schema.Struct({
  name: required(AgentName, (u) => `must be a non-empty string, got ${show(u)}`),
  instructions: required(explained(Schema.String, mustBeString), mustBeString),
  tools: optional(Schema.Array(ToolSpec)),
  maxIterations: optional(MaxIterations),
  deny: optional(ToolNameList),
  requireApproval: optional(ToolNameList),
  budget: optional(BudgetSpec),
  guardrails: optional(Schema.Array(GuardrailSpec)),
  prices: optional(Schema.Record({ key: Schema.String, value: PriceSpec })),
  maxDelegationDepth: optional(NonNegativeInt),
  heartbeatInterval: optional(PositiveDuration),
  history: optional(HistorySpec),
  onInterruptedTool: optional(
    explained(Schema.Literal("pause", "fail"), (u) => `must be "pause" or "fail", got ${show(u)}`)
  ),
  redaction: optional(RedactionSpec)
})
/** A configuration as validated. */
export type AgentConfigSpec = typeof AgentConfigSchema.Type
