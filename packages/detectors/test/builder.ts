/**
 * A builder of hook-event sequences for detector tests: each call appends correctly paired start/end
 * events (fresh correlation ids, gapless sequence indexes, timestamps 10 ms apart unless `wait` is used).
 */
import type { HookEvent } from "@sextant/runtime"

type E = HookEvent.HookEvent

/** Options of one model call. */
export interface LlmOptions {
  readonly text?: string
  readonly finishReason?: string
  readonly toolCalls?: number
  readonly usage?: HookEvent.Usage
  readonly omitText?: boolean
}

/** Builds one run's events. */
export const run = (runId = "run_1", start?: { agentName?: string; input?: string; tools?: ReadonlyArray<string> }) => {
  const events: Array<E> = []
  let seq = 0
  let now = 1_000_000
  let cid = 0
  const base = () => ({ runId, sequenceIndex: seq++, iteration: 0, timestamp: (now += 10) })
  events.push({
    _tag: "RunStarted",
    ...base(),
    agentName: start?.agentName ?? "agent",
    instructions: "be useful",
    input: start?.input ?? "What is the weather?",
    delegationLevel: 0,
    tools: [...(start?.tools ?? ["search", "fetch"])]
  })
  const api = {
    events,
    /** Advances the clock before the next event. */
    wait(ms: number) {
      now += ms
      return api
    },
    tool(
      name: string,
      ok = true,
      options?: { args?: HookEvent.Json; error?: string; result?: HookEvent.Json; ms?: number }
    ) {
      const correlationId = `t${++cid}`
      events.push({
        _tag: "ToolCallStarted",
        ...base(),
        correlationId,
        toolName: name,
        target: "server",
        arguments: options?.args ?? { q: "x" }
      })
      if (options?.ms !== undefined) now += options.ms
      events.push({
        _tag: "ToolCallCompleted",
        ...base(),
        correlationId,
        toolName: name,
        target: "server",
        success: ok,
        result: options?.result ?? (ok ? { ok: true } : null),
        ...(ok ? {} : { error: options?.error ?? "boom" }),
        durationMs: options?.ms ?? 5
      })
      return api
    },
    /** A tool call that started and never ended. */
    toolStart(name: string) {
      events.push({
        _tag: "ToolCallStarted",
        ...base(),
        correlationId: `t${++cid}`,
        toolName: name,
        target: "server",
        arguments: {}
      })
      return api
    },
    llm(options: LlmOptions = {}) {
      const correlationId = `l${++cid}`
      events.push({
        _tag: "LlmCallStarted",
        ...base(),
        correlationId,
        provider: "scripted",
        model: "m-1",
        messageCount: 1
      })
      const toolCalls = Array.from({ length: options.toolCalls ?? 0 }, (_, i) => ({
        id: `c${cid}_${i}`,
        name: "search",
        arguments: {}
      }))
      const completed = {
        _tag: "LlmCallCompleted" as const,
        ...base(),
        correlationId,
        provider: "scripted",
        model: "m-1",
        text: options.text ?? "thinking",
        toolCalls,
        finishReason: options.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
        ...(options.usage === undefined ? {} : { usage: options.usage }),
        durationMs: 5,
        request: {}
      }
      if (options.omitText === true) {
        const { text: _text, ...rest } = completed
        events.push(rest as unknown as E)
      } else events.push(completed)
      return api
    },
    complete(status: "success" | "max_iterations" = "success") {
      events.push({
        _tag: "RunCompleted",
        ...base(),
        status,
        answer: "done",
        iterations: 1,
        usage: { inputTokens: 0, outputTokens: 0 }
      })
      return api
    },
    fail() {
      events.push({
        _tag: "RunFailed",
        ...base(),
        error: { tag: "ModelError", message: "down" },
        failureReason: "model",
        iterations: 1,
        usage: { inputTokens: 0, outputTokens: 0 }
      })
      return api
    }
  }
  return api
}
