/**
 * The LangChain.js adapter: a callback handler that records a LangChain agent's model and tool calls into a
 * traced run (`Trace.make(…).run`). Pass it in `callbacks` of `invoke`; it awaits each write (so a call's
 * start is durable before LangChain goes on) and raises a failed write as LangChain's own error.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base"
import type { Serialized } from "@langchain/core/load/serializable"
import type { BaseMessage } from "@langchain/core/messages"
import type { LLMResult } from "@langchain/core/outputs"
import type { HookEvent } from "@sextant/runtime"
import type * as Trace from "./Trace.js"

/** Options of the handler. */
export interface HandlerOptions {
  /** The provider recorded when LangChain's metadata names none (default `langchain`). */
  readonly provider?: string | undefined
}

const nameOf = (serialized: Serialized, runName: string | undefined): string =>
  runName ?? serialized.id.at(-1) ?? "unknown"

const parseInput = (input: string): unknown => {
  try {
    return JSON.parse(input)
  } catch {
    return input
  }
}

const usageOf = (output: LLMResult): HookEvent.Usage | undefined => {
  const tokens = (output.llmOutput as { readonly tokenUsage?: Record<string, unknown> } | undefined)?.tokenUsage
  if (typeof tokens?.promptTokens === "number" && typeof tokens.completionTokens === "number") {
    return { inputTokens: tokens.promptTokens, outputTokens: tokens.completionTokens }
  }
  const message =
    (output.generations[0]?.[0] as { readonly message?: { readonly usage_metadata?: unknown } } | undefined)
      ?.message
  const meta = message?.usage_metadata as
    | { readonly input_tokens?: unknown; readonly output_tokens?: unknown }
    | undefined
  return typeof meta?.input_tokens === "number" && typeof meta.output_tokens === "number"
    ? { inputTokens: meta.input_tokens, outputTokens: meta.output_tokens }
    : undefined
}

const toolCallsOf = (output: LLMResult): ReadonlyArray<Trace.ToolCallInput> => {
  const message = (output.generations[0]?.[0] as { readonly message?: { readonly tool_calls?: unknown } } | undefined)
    ?.message
  const calls = Array.isArray(message?.tool_calls) ? message.tool_calls : []
  return calls.map((c: { readonly id?: string; readonly name: string; readonly args: unknown }) => ({
    ...(c.id === undefined ? {} : { id: c.id }),
    name: c.name,
    arguments: c.args
  }))
}

/** The callback handler recording into `run`. */
export class SextantCallbackHandler extends BaseCallbackHandler {
  /** LangChain's handler name. */
  name = "sextant"
  /** Writes are awaited: LangChain waits until each start is durable. */
  override awaitHandlers = true
  /** A failed write surfaces to the caller (fail-closed). */
  override raiseError = true
  private readonly llms = new Map<string, Trace.PromiseLlmSpan>()
  private readonly tools = new Map<string, Trace.PromiseToolSpan>()

  /** Records into `run`. */
  constructor(private readonly run: Trace.PromiseRun, private readonly options: HandlerOptions = {}) {
    super()
  }

  private async startLlm(
    llm: Serialized,
    request: unknown,
    messageCount: number,
    runId: string,
    metadata: Record<string, unknown> | undefined
  ): Promise<void> {
    const model = typeof metadata?.ls_model_name === "string" ? metadata.ls_model_name : nameOf(llm, undefined)
    const provider = typeof metadata?.ls_provider === "string" ? metadata.ls_provider : this.options.provider
    this.llms.set(runId, await this.run.llmStart({ model, provider: provider ?? "langchain", request, messageCount }))
  }

  /** Records a chat model call's start. */
  override async handleChatModelStart(
    llm: Serialized,
    messages: Array<Array<BaseMessage>>,
    runId: string,
    _parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: Array<string>,
    metadata?: Record<string, unknown>
  ): Promise<void> {
    const batch = messages[0] ?? []
    const request = { messages: batch.map((m) => ({ role: m.getType(), content: m.content as unknown })) }
    await this.startLlm(llm, request, batch.length, runId, metadata)
  }

  /** Records a text model call's start. */
  override async handleLLMStart(
    llm: Serialized,
    prompts: Array<string>,
    runId: string,
    _parentRunId?: string,
    _extraParams?: Record<string, unknown>,
    _tags?: Array<string>,
    metadata?: Record<string, unknown>
  ): Promise<void> {
    await this.startLlm(llm, { prompts }, prompts.length, runId, metadata)
  }

  /** Records a model call's answer, tool calls and token usage. */
  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const span = this.llms.get(runId)
    this.llms.delete(runId)
    await span?.end({
      text: output.generations[0]?.[0]?.text ?? "",
      toolCalls: toolCallsOf(output),
      usage: usageOf(output)
    })
  }

  /** Records a model call's failure. */
  override async handleLLMError(error: Error, runId: string): Promise<void> {
    const span = this.llms.get(runId)
    this.llms.delete(runId)
    await span?.fail(error)
  }

  /** Records a tool call's start (its input parsed as JSON when it is). */
  override async handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    _parentRunId?: string,
    _tags?: Array<string>,
    _metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string
  ): Promise<void> {
    const options = toolCallId === undefined ? {} : { callId: toolCallId }
    this.tools.set(runId, await this.run.toolStart(nameOf(tool, runName), parseInput(input), options))
  }

  /** Records a tool call's result (a ToolMessage's content; a JSON string is parsed). */
  override async handleToolEnd(output: unknown, runId: string): Promise<void> {
    const span = this.tools.get(runId)
    this.tools.delete(runId)
    const content = (output as { readonly content?: unknown } | null)?.content ?? output
    await span?.end(typeof content === "string" ? parseInput(content) : content)
  }

  /** Records a tool call's failure. */
  override async handleToolError(error: Error, runId: string): Promise<void> {
    const span = this.tools.get(runId)
    this.tools.delete(runId)
    await span?.fail(error)
  }
}

/** A LangChain callback handler that records model and tool calls into `run`. */
export const handler = (run: Trace.PromiseRun, options?: HandlerOptions): SextantCallbackHandler =>
  new SextantCallbackHandler(run, options)
