import { Duration, Either, JSONSchema, Schema } from "effect"
import { AgentConfigError } from "../Errors.js"
import type { Json } from "../HookEvent.js"
import type { Tool, ToolContext, ToolHandlerResult } from "../Tool.js"

/** A validated tool, ready for the loop. */
export interface CompiledTool {
  readonly name: string
  readonly description: string
  readonly target: "server" | "client"
  readonly kind: "tool" | "human"
  readonly parallel: boolean
  readonly timeout: Duration.Duration
  readonly maxCallsPerRun: number | undefined
  readonly jsonSchema: Json
  /** Decodes raw arguments from the model; the error is a readable message. */
  readonly decode: (raw: unknown) => Either.Either<unknown, string>
  readonly handler: ((args: unknown, context: ToolContext) => ToolHandlerResult) | undefined
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Validates a tool definition, naming the bad field. */
export const compileTool = (tool: Tool, index: number): Either.Either<CompiledTool, AgentConfigError> => {
  const fail = (field: string, message: string) =>
    Either.left(new AgentConfigError({ field: `tools[${index}].${field}`, message }))
  if (typeof tool.name !== "string" || !NAME.test(tool.name)) {
    return fail("name", `${JSON.stringify(tool.name)} must be 1-64 letters, digits, '_' or '-'`)
  }
  if (typeof tool.description !== "string" || tool.description.trim() === "") {
    return fail("description", `tool '${tool.name}' needs a non-empty description`)
  }
  const target = tool.target ?? "server"
  if (target !== "server" && target !== "client") return fail("target", `must be "server" or "client"`)
  if (target === "server" && typeof tool.handler !== "function") {
    return fail("handler", `server tool '${tool.name}' needs a handler`)
  }
  const timeout = Duration.decodeUnknown(tool.timeout ?? "120 seconds")
  if (timeout._tag === "None" || !Duration.greaterThan(timeout.value, Duration.zero)) {
    return fail("timeout", `tool '${tool.name}' needs a positive timeout`)
  }
  const max = tool.maxCallsPerRun
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    return fail("maxCallsPerRun", `tool '${tool.name}': must be a positive integer`)
  }
  if (!Schema.isSchema(tool.parameters)) return fail("parameters", `tool '${tool.name}' needs a Schema`)
  let jsonSchema: Json
  try {
    jsonSchema = JSONSchema.make(tool.parameters) as unknown as Json
  } catch (e) {
    return fail("parameters", `tool '${tool.name}': cannot be expressed as JSON Schema: ${String(e)}`)
  }
  const decode = Schema.decodeUnknownEither(tool.parameters, { errors: "all", onExcessProperty: "ignore" })
  return Either.right({
    name: tool.name,
    description: tool.description,
    target,
    kind: tool.kind === "human" ? "human" : "tool",
    parallel: tool.parallel ?? true,
    timeout: timeout.value,
    maxCallsPerRun: max,
    jsonSchema,
    decode: (raw) => Either.mapLeft(decode(raw), (e) => e.message),
    handler: tool.handler
  })
}
