/**
 * The Vercel AI SDK adapter (`@sextant/trace/ai`, with `ai` 6 installed): `middleware(run)` is a language
 * model middleware (`wrapLanguageModel({ model, middleware })`) recording each `generateText` or `streamText`
 * step's model call (prompt, text, tool calls, token usage, the exact request and response bodies when the
 * provider exposes them), and `tools(run, tools)` wraps a tool set so each execution is a recorded tool call
 * paired with the model's call id. Every write is awaited and a failed one raised, so recording stays
 * fail-closed.
 */
import type { LanguageModelMiddleware, Tool } from "ai"
import type { LlmEnd, PromiseRun, ToolCallInput } from "./Trace.js"

type Result = Awaited<ReturnType<NonNullable<LanguageModelMiddleware["wrapGenerate"]>>>
type StreamResult = Awaited<ReturnType<NonNullable<LanguageModelMiddleware["wrapStream"]>>>
type StreamPart = StreamResult["stream"] extends ReadableStream<infer P> ? P : never
type Usage = Result["usage"]

const json = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const finishReasons: Record<string, string> = { "tool-calls": "tool_calls", "content-filter": "content_filter" }

const usageOf = (usage: Usage) => ({
  inputTokens: usage.inputTokens.total ?? 0,
  outputTokens: usage.outputTokens.total ?? 0
})

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
    usage: usageOf(result.usage),
    ...(result.response?.body === undefined ? {} : { response: result.response.body }),
    ...(result.request?.body === undefined ? {} : { providerRequest: result.request.body }),
    ...(result.response?.modelId === undefined ? {} : { responseModel: result.response.modelId }),
    ...(result.response?.id === undefined ? {} : { responseId: result.response.id })
  }
}

/**
 * A stream recording one model call as it goes by: text deltas pass straight through; the call's end (text,
 * tool calls, usage, finish reason) is recorded at the provider's `finish`, before that part and the tool
 * calls held until then are passed on, so the call is durable before its tools run (as with `generateText`).
 * An `error` part or a failed stream records the call's failure.
 */
const recording = (
  span: Awaited<ReturnType<PromiseRun["llmStart"]>>,
  result: StreamResult
): ReadableStream<StreamPart> => {
  const text: Array<string> = []
  const toolCalls: Array<ToolCallInput> = []
  const held: Array<StreamPart> = []
  let meta: { responseId?: string; responseModel?: string } = {}
  let ended = false
  const end = async (result: LlmEnd) => {
    if (ended) return
    ended = true
    await span.end(result)
  }
  const fail = async (error: unknown) => {
    if (ended) return
    ended = true
    await span.fail(error)
  }
  return result.stream.pipeThrough(
    new TransformStream<StreamPart, StreamPart>({
      transform: async (part, controller) => {
        switch (part.type) {
          case "text-delta":
            text.push(part.delta)
            break
          case "tool-call":
            if (part.providerExecuted !== true) {
              toolCalls.push({
                id: part.toolCallId,
                providerCallId: part.toolCallId,
                name: part.toolName,
                arguments: json(part.input)
              })
              held.push(part)
              return
            }
            break
          case "response-metadata":
            meta = {
              ...(part.id === undefined ? {} : { responseId: part.id }),
              ...(part.modelId === undefined ? {} : { responseModel: part.modelId })
            }
            break
          case "error":
            await fail(part.error)
            break
          case "finish": {
            const unified = part.finishReason.unified
            await end({
              text: text.join(""),
              toolCalls,
              finishReason: finishReasons[unified] ?? unified,
              usage: usageOf(part.usage),
              ...(result.request?.body === undefined ? {} : { providerRequest: result.request.body }),
              ...meta
            })
            for (const call of held.splice(0)) controller.enqueue(call)
            break
          }
        }
        controller.enqueue(part)
      },
      flush: async (controller) => {
        // A stream that ended without `finish`: what it said is recorded, its held tool calls passed on.
        if (!ended) await end({ text: text.join(""), toolCalls, finishReason: "unknown", ...meta })
        for (const call of held.splice(0)) controller.enqueue(call)
      }
    })
  )
}

/** A middleware recording each model call of the wrapped model into `run` (`generateText` and `streamText`). */
export const middleware = (run: PromiseRun): LanguageModelMiddleware => ({
  specificationVersion: "v3",
  wrapStream: async ({ doStream, model, params }) => {
    const span = await run.llmStart({
      model: model.modelId,
      provider: model.provider,
      request: { messages: params.prompt, tools: params.tools ?? [] },
      messageCount: params.prompt.length
    })
    let result: StreamResult
    try {
      result = await doStream()
    } catch (error) {
      await span.fail(error)
      // check-errors: allow the AI SDK's own error passes through unchanged (its retries and callers match on it)
      throw error
    }
    return { ...result, stream: recording(span, result) }
  },
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
