/**
 * The Vercel AI SDK adapter (`@sextant/trace/ai`, with `ai` 6 installed): `middleware(run)` is a language
 * model middleware (`wrapLanguageModel({ model, middleware })`) recording each `generateText` step's model
 * call (prompt, text, tool calls, token usage, the exact request and response bodies when the provider
 * exposes them), and `tools(run, tools)` wraps a tool set so each execution is a recorded tool call paired
 * with the model's call id. Every write is awaited and a failed one raised, so recording stays fail-closed.
 */
import type { LanguageModelMiddleware, Tool } from "ai"
import type { PromiseRun, ToolCallInput } from "./Trace.js"

type Result = Awaited<ReturnType<NonNullable<LanguageModelMiddleware["wrapGenerate"]>>>

const json = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const finishReasons: Record<string, string> = { "tool-calls": "tool_calls", "content-filter": "content_filter" }

/** The recorded end of a model call, from the provider's result. */
const endOf = (result: Result) => {
  const text = result.content.flatMap((part) => part.type === "text" ? [part.text] : []).join("")
  const toolCalls: Array<ToolCallInput> = result.content.flatMap((part) =>
    part.type === "tool-call"
      ? [{ id: part.toolCallId, providerCallId: part.toolCallId, name: part.toolName, arguments: json(part.input) }]
      : []
  )
  const unified = result.finishReason.unified
  return {
    text,
    toolCalls,
    finishReason: finishReasons[unified] ?? unified,
    usage: {
      inputTokens: result.usage.inputTokens.total ?? 0,
      outputTokens: result.usage.outputTokens.total ?? 0
    },
    ...(result.response?.body === undefined ? {} : { response: result.response.body }),
    ...(result.request?.body === undefined ? {} : { providerRequest: result.request.body }),
    ...(result.response?.modelId === undefined ? {} : { responseModel: result.response.modelId }),
    ...(result.response?.id === undefined ? {} : { responseId: result.response.id })
  }
}

/** A middleware recording each model call of the wrapped model into `run` (non-streaming calls). */
export const middleware = (run: PromiseRun): LanguageModelMiddleware => ({
  specificationVersion: "v3",
  wrapGenerate: async ({ doGenerate, model, params }) => {
    const span = await run.llmStart({
      model: model.modelId,
      provider: model.provider,
      request: { messages: params.prompt, tools: params.tools ?? [] },
      messageCount: params.prompt.length
    })
    let result: Result
    try {
      result = await doGenerate()
    } catch (error) {
      await span.fail(error)
      // check-errors: allow the AI SDK's own error passes through unchanged (its retries and callers match on it)
      throw error
    }
    await span.end(endOf(result))
    return result
  }
})

/** Wraps a tool set so each execution is a tool call of `run` (input, result or error, duration). */
export const tools = <T extends Record<string, Tool>>(run: PromiseRun, toolSet: T): T =>
  Object.fromEntries(
    Object.entries(toolSet).map(([name, t]) => {
      const execute = t.execute
      if (execute === undefined) return [name, t]
      return [name, {
        ...t,
        execute: (input: unknown, options: { readonly toolCallId: string }) =>
          run.tool(name, input, () => execute(input, options as never), { callId: options.toolCallId })
      }]
    })
  ) as T
