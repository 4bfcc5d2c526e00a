/**
 * Token usage read from the vendors' own bodies, so that counts `@effect/ai` does not map (Anthropic's
 * cache writes) are kept and counts a vendor did not report stay absent. `inputTokens` is every input
 * token, cached ones included, for all vendors (Anthropic reports cache reads and writes apart from
 * `input_tokens`; they are added back), so `cacheReadTokens` is always a part of `inputTokens`. A response
 * that reports neither input nor output tokens has no usage at all (`undefined`): invented zeros would
 * become billing rows.
 */
import type { HookEvent } from "@sextant/runtime"
import { Option, Schema } from "effect"

type Usage = HookEvent.Usage
const Count = Schema.optional(Schema.NullOr(Schema.Number))

const usage = (
  input: number | null | undefined,
  output: number | null | undefined,
  extra: {
    readonly cacheRead?: number | null | undefined
    readonly cacheWrite?: number | null | undefined
    readonly reasoning?: number | null | undefined
  }
): Usage | undefined => {
  if (input == null && output == null) return undefined
  const out: { -readonly [K in keyof Usage]: Usage[K] } = { inputTokens: input ?? 0, outputTokens: output ?? 0 }
  if (typeof extra.cacheRead === "number") out.cacheReadTokens = extra.cacheRead
  if (typeof extra.cacheWrite === "number") out.cacheWriteTokens = extra.cacheWrite
  if (typeof extra.reasoning === "number") out.reasoningTokens = extra.reasoning
  return out
}

const OpenAiUsage = Schema.Struct({
  input_tokens: Count,
  output_tokens: Count,
  input_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: Count }))),
  output_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: Count })))
})
const OpenAiBody = Schema.Struct({ usage: Schema.optional(Schema.NullOr(OpenAiUsage)) })
const OpenAiEvent = Schema.Struct({
  type: Schema.Literal("response.completed", "response.incomplete", "response.failed"),
  response: OpenAiBody
})

const fromOpenAi = (u: typeof OpenAiUsage.Type | null | undefined): Usage | undefined =>
  usage(u?.input_tokens, u?.output_tokens, {
    cacheRead: u?.input_tokens_details?.cached_tokens,
    reasoning: u?.output_tokens_details?.reasoning_tokens
  })

/** Usage of an OpenAI Responses body, or of the final event of its stream. */
export const openAi = (
  body: HookEvent.Json | undefined,
  events: ReadonlyArray<HookEvent.Json> | undefined
): Usage | undefined => {
  if (events !== undefined) {
    for (let i = events.length - 1; i >= 0; i--) {
      const final = Schema.decodeUnknownOption(OpenAiEvent)(events[i])
      if (Option.isSome(final)) return fromOpenAi(final.value.response.usage)
    }
    return fromOpenAi(undefined)
  }
  return fromOpenAi(Option.getOrUndefined(Schema.decodeUnknownOption(OpenAiBody)(body))?.usage)
}

const AnthropicUsage = Schema.Struct({
  input_tokens: Count,
  output_tokens: Count,
  cache_read_input_tokens: Count,
  cache_creation_input_tokens: Count
})
const AnthropicBody = Schema.Struct({ usage: Schema.optional(Schema.NullOr(AnthropicUsage)) })
const AnthropicStart = Schema.Struct({ type: Schema.Literal("message_start"), message: AnthropicBody })
const AnthropicDelta = Schema.Struct({
  type: Schema.Literal("message_delta"),
  usage: Schema.optional(Schema.NullOr(AnthropicUsage))
})

const fromAnthropic = (u: typeof AnthropicUsage.Type | null | undefined): Usage | undefined => {
  const parts = [u?.input_tokens, u?.cache_read_input_tokens, u?.cache_creation_input_tokens]
  const input = parts.every((n) => n == null) ? undefined : parts.reduce<number>((sum, n) => sum + (n ?? 0), 0)
  return usage(input, u?.output_tokens, {
    cacheRead: u?.cache_read_input_tokens,
    cacheWrite: u?.cache_creation_input_tokens
  })
}

/** Usage of an Anthropic Messages body, or of its stream (`message_start`, updated by each `message_delta`). */
export const anthropic = (
  body: HookEvent.Json | undefined,
  events: ReadonlyArray<HookEvent.Json> | undefined
): Usage | undefined => {
  if (events === undefined) {
    return fromAnthropic(Option.getOrUndefined(Schema.decodeUnknownOption(AnthropicBody)(body))?.usage)
  }
  let merged: { -readonly [K in keyof typeof AnthropicUsage.Type]: (typeof AnthropicUsage.Type)[K] } = {}
  for (const event of events) {
    const start = Schema.decodeUnknownOption(AnthropicStart)(event)
    if (Option.isSome(start)) merged = { ...start.value.message.usage }
    const delta = Schema.decodeUnknownOption(AnthropicDelta)(event)
    if (Option.isSome(delta)) {
      for (const [k, v] of Object.entries(delta.value.usage ?? {})) {
        if (v != null) merged[k as keyof typeof merged] = v
      }
    }
  }
  return fromAnthropic(merged)
}

/** Chat-completions usage (`prompt_tokens` includes cached tokens), from a body or a stream's usage chunk. */
export const ChatUsage = Schema.Struct({
  prompt_tokens: Count,
  completion_tokens: Count,
  prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ cached_tokens: Count }))),
  completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({ reasoning_tokens: Count })))
})

/** Usage of a chat-completions response. */
export const chat = (u: typeof ChatUsage.Type | null | undefined): Usage | undefined =>
  usage(u?.prompt_tokens, u?.completion_tokens, {
    cacheRead: u?.prompt_tokens_details?.cached_tokens,
    reasoning: u?.completion_tokens_details?.reasoning_tokens
  })
