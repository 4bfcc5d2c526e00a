/**
 * The kernel's turn as `@effect/ai` input: the history as a `Prompt`, the tool definitions as a toolkit
 * whose parameter schemas are the tools' own JSON Schemas. The toolkit's handlers are never called: the
 * model is asked with `disableToolCallResolution: true` and the kernel executes tools itself.
 */
import { type Prompt, Tool, type Toolkit } from "@effect/ai"
import type { HookEvent, ModelRequest, ToolDefinition } from "@sextant/runtime"
import { Effect, Schema } from "effect"
import { jsonOrText } from "./json.js"

/** The id the vendor gave a call (kernel ids are used only for calls the vendor did not name). */
const vendorId = (call: { readonly id: string; readonly providerCallId?: string | undefined }) =>
  call.providerCallId ?? call.id

/**
 * An image or file of a user message as an `@effect/ai` file part, which the vendor modules put on the wire
 * (OpenAI Responses `input_image` / `input_file`, Anthropic `image` / `document` blocks). An image by URL has
 * the media type `image/*` (the vendors take the URL as it is).
 */
const filePart = (part: HookEvent.UserPart): Prompt.FilePartEncoded =>
  part._tag === "image" && "url" in part
    ? { type: "file", mediaType: "image/*", data: new URL(part.url) }
    : {
      type: "file",
      mediaType: part.mediaType,
      // Bytes, not a string: OpenAI's module reads a string as a file id.
      data: Uint8Array.from(Buffer.from(part.data, "base64")),
      ...(part._tag === "file" && part.name !== undefined ? { fileName: part.name } : {})
    }

/** The kernel's messages as `@effect/ai` messages; consecutive tool results become one tool message. */
export const toPrompt = (request: ModelRequest): ReadonlyArray<Prompt.MessageEncoded> => {
  const out: Array<Prompt.MessageEncoded> = []
  if (request.system !== "") out.push({ role: "system", content: request.system })
  let results: Array<Prompt.ToolResultPartEncoded> | undefined
  for (const message of request.messages) {
    if (message._tag !== "tool") results = undefined
    switch (message._tag) {
      case "user":
        out.push({
          role: "user",
          content: [
            ...(message.content === "" && message.parts !== undefined
              ? []
              : [{ type: "text" as const, text: message.content }]),
            ...(message.parts ?? []).map(filePart)
          ]
        })
        break
      case "assistant": {
        const parts: Array<Prompt.AssistantMessagePartEncoded> = []
        if (message.content !== "") parts.push({ type: "text", text: message.content })
        for (const call of message.toolCalls) {
          parts.push({
            type: "tool-call",
            id: vendorId(call),
            name: call.name,
            params: call.arguments,
            providerExecuted: false
          })
        }
        out.push({ role: "assistant", content: parts })
        break
      }
      case "tool": {
        // Vendors re-serialise the result with JSON.stringify: hand them the parsed JSON so the text is not quoted twice.
        const part: Prompt.ToolResultPartEncoded = {
          type: "tool-result",
          id: message.providerCallId ?? message.toolCallId,
          name: message.toolName,
          result: jsonOrText(message.content),
          isFailure: message.isError,
          providerExecuted: false
        }
        if (results === undefined) {
          results = [part]
          out.push({ role: "tool", content: results })
        } else {
          results.push(part)
        }
        break
      }
    }
  }
  return out
}

/** Parameters that keep every field the model sent; the JSON Schema shown to the model is the tool's own. */
const parametersFrom = (schema: HookEvent.Json) =>
  Schema.Struct({}, Schema.Record({ key: Schema.String, value: Schema.Unknown })).annotations({
    jsonSchema: schema as object
  })

const notExecuted = () => Effect.dieMessage("@sextant/providers: tools are executed by the kernel, not by @effect/ai")

const toolkits = new WeakMap<ReadonlyArray<ToolDefinition>, Toolkit.WithHandler<Record<string, Tool.Any>>>()

/** The tool definitions as a toolkit (cached per definitions array: the loop reuses one per run segment). */
export const toToolkit = (tools: ReadonlyArray<ToolDefinition>): Toolkit.WithHandler<Record<string, Tool.Any>> => {
  const cached = toolkits.get(tools)
  if (cached !== undefined) return cached
  const byName: Record<string, Tool.Any> = {}
  for (const tool of tools) {
    byName[tool.name] = Tool.make(tool.name, { description: tool.description }).setParameters(
      parametersFrom(tool.parameters)
    )
  }
  const toolkit: Toolkit.WithHandler<Record<string, Tool.Any>> = { tools: byName, handle: notExecuted }
  toolkits.set(tools, toolkit)
  return toolkit
}
