/**
 * The three wire formats as a loopback server speaks them: a two-tool turn and a text turn, whole or as
 * SSE, with vendor-shaped usage and error bodies, plus readers for what the client sent.
 */
import { FetchHttpClient } from "@effect/platform"
import type { HookEvent, LanguageModel } from "@sextant/runtime"
import { Layer, Redacted } from "effect"
import { Anthropic, OpenAi, OpenAiCompatible, type ProviderConfigError, type RetryPolicy } from "../src/index.js"
import type { Reply } from "./fakeServer.js"

/** The secret every test uses; it must never show up in a recorded event. */
export const API_KEY = "sk-test-SECRET-0123456789"

/** The two calls of the tool turn and the final answer. */
export const CALLS = [
  { name: "get_weather", args: { city: "Lisbon" } },
  { name: "get_time", args: { tz: "Europe/Lisbon" } }
] as const
export const ANSWER_PIECES = ["21 °C ", "at noon ", "in Lisbon."] as const
export const ANSWER = ANSWER_PIECES.join("")

const halves = (s: string) => [s.slice(0, Math.ceil(s.length / 2)), s.slice(Math.ceil(s.length / 2))] as const

/** What a test needs to know about one wire format. */
export interface Wire {
  readonly name: string
  readonly provider: string
  readonly path: string
  readonly layer: (url: string, retry?: RetryPolicy.RetryPolicy) => Layer.Layer<LanguageModel, ProviderConfigError>
  readonly toolTurn: (stream: boolean) => Reply
  readonly textTurn: (stream: boolean) => Reply
  readonly callIds: readonly [string, string]
  readonly responseIds: readonly [string, string]
  readonly responseModel: string
  readonly usage: readonly [HookEvent.Usage, HookEvent.Usage]
  readonly errorJson: (message: string) => unknown
  /** The key as the server received it. */
  readonly keyOf: (headers: Record<string, string | Array<string> | undefined>) => string | undefined
  /** Tool results the client sent back: vendor call id and output text. */
  readonly toolResults: (body: any) => Array<{ id: string; output: string }>
  /** Tool definitions the client sent. */
  readonly tools: (body: any) => Array<{ name: string; description: string; parameters: unknown }>
  readonly finishReasons: readonly [string, string]
}

const sse = (events: ReadonlyArray<{ type: string }>, named: boolean): Reply => ({
  sse: events.map((e) => (named ? { event: e.type, data: e } : { data: e }))
})

// ---------------------------------------------------------------- OpenAI Responses

const openAiResponse = (id: string, output: Array<unknown>, usage: unknown, status = "completed") => ({
  id,
  object: "response",
  created_at: 1767225600,
  status,
  error: null,
  incomplete_details: null,
  instructions: null,
  model: "gpt-4.1-mini-2025-04-14",
  output,
  parallel_tool_calls: true,
  tools: [],
  tool_choice: "auto",
  metadata: {},
  temperature: 1,
  top_p: 1,
  usage
})
const openAiUsage = [
  {
    input_tokens: 120,
    input_tokens_details: { cached_tokens: 64 },
    output_tokens: 30,
    output_tokens_details: { reasoning_tokens: 12 },
    total_tokens: 150
  },
  {
    input_tokens: 180,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 12,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 192
  }
]
const openAiCalls = CALLS.map((c, i) => ({
  type: "function_call",
  id: `fc_${i}`,
  call_id: `call_oa_${i}`,
  name: c.name,
  arguments: JSON.stringify(c.args),
  status: "completed"
}))
const openAiMessage = {
  type: "message",
  id: "msg_oa",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text: ANSWER, annotations: [] }]
}

export const openAi: Wire = {
  name: "OpenAI Responses",
  provider: "openai",
  path: "/v1/responses",
  layer: (url, retry) =>
    OpenAi.layer({ model: "gpt-4.1-mini", apiKey: Redacted.make(API_KEY), baseUrl: `${url}/v1`, retry }).pipe(
      Layer.provide(FetchHttpClient.layer)
    ),
  toolTurn: (stream) => {
    const done = openAiResponse("resp_1", openAiCalls, openAiUsage[0])
    if (!stream) return { json: done }
    let n = 0
    const events: Array<{ type: string }> = [
      {
        type: "response.created",
        sequence_number: n++,
        response: openAiResponse("resp_1", [], null, "in_progress")
      } as any
    ]
    openAiCalls.forEach((call, i) => {
      events.push(
        {
          type: "response.output_item.added",
          sequence_number: n++,
          output_index: i,
          item: { ...call, arguments: "", status: "in_progress" }
        } as any
      )
      for (const delta of halves(call.arguments)) {
        events.push(
          {
            type: "response.function_call_arguments.delta",
            sequence_number: n++,
            output_index: i,
            item_id: call.id,
            delta
          } as any
        )
      }
      events.push({ type: "response.output_item.done", sequence_number: n++, output_index: i, item: call } as any)
    })
    events.push({ type: "response.completed", sequence_number: n++, response: done } as any)
    return sse(events, true)
  },
  textTurn: (stream) => {
    const done = openAiResponse("resp_2", [openAiMessage], openAiUsage[1])
    if (!stream) return { json: done }
    let n = 0
    const events: Array<any> = [
      { type: "response.created", sequence_number: n++, response: openAiResponse("resp_2", [], null, "in_progress") },
      {
        type: "response.output_item.added",
        sequence_number: n++,
        output_index: 0,
        item: { ...openAiMessage, status: "in_progress", content: [] }
      },
      ...ANSWER_PIECES.map((delta) => ({
        type: "response.output_text.delta",
        sequence_number: n++,
        output_index: 0,
        content_index: 0,
        item_id: "msg_oa",
        delta
      })),
      { type: "response.output_item.done", sequence_number: n++, output_index: 0, item: openAiMessage },
      { type: "response.completed", sequence_number: n++, response: done }
    ]
    return sse(events, true)
  },
  callIds: ["call_oa_0", "call_oa_1"],
  responseIds: ["resp_1", "resp_2"],
  responseModel: "gpt-4.1-mini-2025-04-14",
  usage: [
    { inputTokens: 120, outputTokens: 30, cacheReadTokens: 64, reasoningTokens: 12 },
    { inputTokens: 180, outputTokens: 12, cacheReadTokens: 0, reasoningTokens: 0 }
  ],
  errorJson: (message) => ({ error: { message, type: "invalid_request_error", param: null, code: null } }),
  keyOf: (h) => (h.authorization as string | undefined)?.replace(/^Bearer /, ""),
  toolResults: (body) =>
    body.input.filter((i: any) => i.type === "function_call_output").map((i: any) => ({
      id: i.call_id,
      output: i.output
    })),
  tools: (body) => body.tools.map((t: any) => ({ name: t.name, description: t.description, parameters: t.parameters })),
  finishReasons: ["tool_calls", "stop"]
}

// ---------------------------------------------------------------- Anthropic Messages

const anthropicMessage = (id: string, content: Array<unknown>, stop: string | null, usage: unknown) => ({
  id,
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5-20250929",
  content,
  stop_reason: stop,
  stop_sequence: null,
  usage
})
const anthropicCalls = CALLS.map((c, i) => ({ type: "tool_use", id: `toolu_0${i}`, name: c.name, input: c.args }))
const anthropicUsage = [
  { input_tokens: 40, cache_read_input_tokens: 64, cache_creation_input_tokens: 16, output_tokens: 30 },
  { input_tokens: 180, output_tokens: 12 }
]

export const anthropic: Wire = {
  name: "Anthropic Messages",
  provider: "anthropic",
  path: "/v1/messages?beta=true",
  layer: (url, retry) =>
    Anthropic.layer({ model: "claude-sonnet-4-5", apiKey: Redacted.make(API_KEY), baseUrl: url, retry }).pipe(
      Layer.provide(FetchHttpClient.layer)
    ),
  toolTurn: (stream) => {
    if (!stream) return { json: anthropicMessage("msg_1", anthropicCalls, "tool_use", anthropicUsage[0]) }
    const events: Array<any> = [
      {
        type: "message_start",
        message: anthropicMessage("msg_1", [], null, { ...anthropicUsage[0], output_tokens: 1 })
      }
    ]
    anthropicCalls.forEach((call, index) => {
      events.push({ type: "content_block_start", index, content_block: { ...call, input: {} } })
      for (const partial_json of halves(JSON.stringify(call.input))) {
        events.push({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } })
      }
      events.push({ type: "content_block_stop", index })
    })
    events.push(
      { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 30 } },
      { type: "message_stop" }
    )
    return sse(events, true)
  },
  textTurn: (stream) => {
    if (!stream) {
      return { json: anthropicMessage("msg_2", [{ type: "text", text: ANSWER }], "end_turn", anthropicUsage[1]) }
    }
    const events: Array<any> = [
      { type: "message_start", message: anthropicMessage("msg_2", [], null, { input_tokens: 180, output_tokens: 1 }) },
      { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      { type: "ping" },
      ...ANSWER_PIECES.map((text) => ({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } })),
      { type: "content_block_stop", index: 0 },
      { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 12 } },
      { type: "message_stop" }
    ]
    return sse(events, true)
  },
  callIds: ["toolu_00", "toolu_01"],
  responseIds: ["msg_1", "msg_2"],
  responseModel: "claude-sonnet-4-5-20250929",
  usage: [
    { inputTokens: 120, outputTokens: 30, cacheReadTokens: 64, cacheWriteTokens: 16 },
    { inputTokens: 180, outputTokens: 12 }
  ],
  errorJson: (message) => ({ type: "error", error: { type: "authentication_error", message } }),
  keyOf: (h) => h["x-api-key"] as string | undefined,
  toolResults: (body) =>
    body.messages.flatMap((m: any) =>
      Array.isArray(m.content)
        ? m.content.filter((c: any) => c.type === "tool_result").map((c: any) => ({
          id: c.tool_use_id,
          output: c.content
        }))
        : []
    ),
  tools: (body) =>
    body.tools.map((t: any) => ({ name: t.name, description: t.description, parameters: t.input_schema })),
  finishReasons: ["tool_calls", "stop"]
}

// ---------------------------------------------------------------- OpenAI-compatible chat completions

const chatUsage = [
  { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150, prompt_tokens_details: { cached_tokens: 64 } },
  { prompt_tokens: 180, completion_tokens: 12, total_tokens: 192 }
]
const chatCalls = CALLS.map((c, i) => ({
  id: `call_ll_${i}`,
  type: "function",
  function: { name: c.name, arguments: JSON.stringify(c.args) }
}))
const chunk = (id: string, choices: Array<unknown>, usage?: unknown) => ({
  id,
  object: "chat.completion.chunk",
  created: 1767225600,
  model: "llama3.1:8b",
  choices,
  ...(usage === undefined ? {} : { usage })
})

export const chat: Wire = {
  name: "OpenAI-compatible chat completions",
  provider: "openai-compatible",
  path: "/v1/chat/completions",
  layer: (url, retry) =>
    OpenAiCompatible.layer({ model: "llama3.1", baseUrl: `${url}/v1`, apiKey: Redacted.make(API_KEY), retry }).pipe(
      Layer.provide(FetchHttpClient.layer)
    ),
  toolTurn: (stream) => {
    if (!stream) {
      return {
        json: {
          id: "chatcmpl-1",
          object: "chat.completion",
          created: 1767225600,
          model: "llama3.1:8b",
          choices: [{
            index: 0,
            message: { role: "assistant", content: null, tool_calls: chatCalls },
            finish_reason: "tool_calls"
          }],
          usage: chatUsage[0]
        }
      }
    }
    const events: Array<unknown> = []
    chatCalls.forEach((call, index) => {
      const [a, b] = halves(call.function.arguments)
      events.push(
        chunk("chatcmpl-1", [{
          index: 0,
          delta: {
            role: "assistant",
            tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: a } }]
          },
          finish_reason: null
        }])
      )
      events.push(
        chunk("chatcmpl-1", [{
          index: 0,
          delta: { tool_calls: [{ index, function: { arguments: b } }] },
          finish_reason: null
        }])
      )
    })
    events.push(chunk("chatcmpl-1", [{ index: 0, delta: {}, finish_reason: "tool_calls" }]))
    events.push(chunk("chatcmpl-1", [], chatUsage[0]))
    return { sse: [...events.map((data) => ({ data })), { data: "[DONE]" }] }
  },
  textTurn: (stream) => {
    if (!stream) {
      return {
        json: {
          id: "chatcmpl-2",
          object: "chat.completion",
          created: 1767225600,
          model: "llama3.1:8b",
          choices: [{ index: 0, message: { role: "assistant", content: ANSWER }, finish_reason: "stop" }],
          usage: chatUsage[1]
        }
      }
    }
    const events = [
      ...ANSWER_PIECES.map((content, i) =>
        chunk("chatcmpl-2", [{
          index: 0,
          delta: i === 0 ? { role: "assistant", content } : { content },
          finish_reason: null
        }])
      ),
      chunk("chatcmpl-2", [{ index: 0, delta: {}, finish_reason: "stop" }]),
      chunk("chatcmpl-2", [], chatUsage[1])
    ]
    return { sse: [...events.map((data) => ({ data })), { data: "[DONE]" }] }
  },
  callIds: ["call_ll_0", "call_ll_1"],
  responseIds: ["chatcmpl-1", "chatcmpl-2"],
  responseModel: "llama3.1:8b",
  usage: [
    { inputTokens: 120, outputTokens: 30, cacheReadTokens: 64 },
    { inputTokens: 180, outputTokens: 12 }
  ],
  errorJson: (message) => ({ error: { message, type: "invalid_request_error" } }),
  keyOf: (h) => (h.authorization as string | undefined)?.replace(/^Bearer /, ""),
  toolResults: (body) =>
    body.messages.filter((m: any) => m.role === "tool").map((m: any) => ({ id: m.tool_call_id, output: m.content })),
  tools: (body) =>
    body.tools.map((t: any) => ({
      name: t.function.name,
      description: t.function.description,
      parameters: t.function.parameters
    })),
  finishReasons: ["tool_calls", "stop"]
}

/** All three wire formats. */
export const wires: ReadonlyArray<Wire> = [openAi, anthropic, chat]
