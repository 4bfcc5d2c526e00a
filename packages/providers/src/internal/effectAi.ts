/**
 * The kernel's model port on top of an `@effect/ai` `LanguageModel` (OpenAI Responses, Anthropic Messages).
 * Each call runs inside its own `CurrentCall` capture, so the response carries the exact bodies, the usage
 * read from them and, on failure, the `ModelError` the HTTP layer classified.
 */
import type { LanguageModel as AiLanguageModel, Response } from "@effect/ai"
import {
  type HookEvent,
  type LanguageModelService,
  ModelError,
  type ModelRequest,
  type ModelResponse,
  type ModelStreamPart,
  type ModelToolCall
} from "@sextant/runtime"
import { Effect, Option, Stream } from "effect"
import { fromAiError, malformedError } from "./errors.js"
import { type CallCapture, CurrentCall, makeCapture } from "./http.js"
import { toPrompt, toToolkit } from "./prompt.js"

/** What distinguishes one vendor behind `@effect/ai`. */
export interface EffectAiVendor {
  readonly provider: string
  readonly model: string
  /** Reads usage from the captured body (or stream events). */
  readonly usage: (
    body: HookEvent.Json | undefined,
    events: ReadonlyArray<HookEvent.Json> | undefined
  ) => HookEvent.Usage | undefined
  /** Tool names the `@effect/ai` provider rewrites in responses (its built-in tools), which user tools cannot use. */
  readonly reservedToolNames?: ReadonlySet<string>
}

/** A request whose tools the vendor adapter cannot carry fails before anything is sent. */
const unsupportedTools = (vendor: EffectAiVendor, request: ModelRequest): ModelError | undefined => {
  const reserved = request.tools.filter((t) => vendor.reservedToolNames?.has(t.name) === true).map((t) => t.name)
  return reserved.length === 0 ? undefined : new ModelError({
    provider: vendor.provider,
    reason: "request",
    message: `${vendor.provider}: tool name(s) ${reserved.map((n) => `'${n}'`).join(", ")} are reserved for ` +
      `${vendor.provider}'s built-in tools by @effect/ai (their calls would come back renamed); rename the tool`
  })
}

/** `@effect/ai` finish reasons in the chat-completions vocabulary the other providers and `ScriptedModel` use. */
const finishReason = (reason: Response.FinishReason): string =>
  reason === "tool-calls" ? "tool_calls" : reason === "content-filter" ? "content_filter" : reason

/** What a call has produced so far. */
interface Collected {
  text: string
  readonly toolCalls: Array<ModelToolCall>
  /** Absent until the vendor said how the answer ended. */
  finishReason: string | undefined
  responseId: string | undefined
  model: string | undefined
}

const collected = (): Collected => ({
  text: "",
  toolCalls: [],
  finishReason: undefined,
  responseId: undefined,
  model: undefined
})

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of rules/parts/tools of any type
type AnyPart = Response.AnyPart | Response.StreamPart<any>

/** Folds one part into the collected answer; returns the error a vendor reported inside a stream, if any. */
const collect = (state: Collected, part: AnyPart): unknown => {
  switch (part.type) {
    case "text":
      state.text += part.text
      break
    case "text-delta":
      state.text += part.delta
      break
    case "tool-call":
      if (!part.providerExecuted) {
        state.toolCalls.push({ id: part.id, name: part.name, arguments: part.params as HookEvent.Json })
      }
      break
    case "finish":
      state.finishReason = finishReason(part.reason)
      break
    case "response-metadata":
      if (Option.isSome(part.id)) state.responseId = part.id.value
      if (Option.isSome(part.modelId)) state.model = part.modelId.value
      break
    case "error":
      return part.error
  }
  return undefined
}

const streamedError = (provider: string, error: unknown): ModelError => {
  const inner = error as { error?: { message?: unknown }; message?: unknown } | undefined
  const message = typeof inner?.error?.message === "string"
    ? inner.error.message
    : typeof inner?.message === "string"
    ? inner.message
    : JSON.stringify(error)
  return new ModelError({ provider, reason: "server", message: `${provider}: error event in the stream: ${message}` })
}

const toResponse = (
  vendor: EffectAiVendor,
  state: Collected,
  call: CallCapture,
  finishReason: string
): ModelResponse => {
  const response: { -readonly [K in keyof ModelResponse]: ModelResponse[K] } = {
    text: state.text,
    toolCalls: state.toolCalls,
    usage: vendor.usage(call.response, call.events),
    finishReason
  }
  if (state.model !== undefined) response.model = state.model
  if (state.responseId !== undefined) response.responseId = state.responseId
  if (call.request !== undefined) response.providerRequest = call.request
  const body = call.events ?? call.response
  if (body !== undefined) response.providerResponse = body
  return response
}

const options = (request: ModelRequest) => ({
  prompt: toPrompt(request),
  toolkit: toToolkit(request.tools),
  toolChoice: "auto" as const,
  disableToolCallResolution: true as const
})

/** Adapts an `@effect/ai` model to the kernel's `LanguageModel` port. */
export const adapt = (model: AiLanguageModel.Service, vendor: EffectAiVendor): LanguageModelService => ({
  provider: vendor.provider,
  model: vendor.model,
  generate: (request) =>
    Effect.suspend(() => {
      const unsupported = unsupportedTools(vendor, request)
      if (unsupported !== undefined) return Effect.fail(unsupported)
      const call = makeCapture(vendor.provider, request)
      return model.generateText(options(request)).pipe(
        Effect.provideService(CurrentCall, call),
        Effect.mapError((error) => call.failure ?? fromAiError(vendor.provider, error, call)),
        Effect.flatMap((answer) => {
          if (call.failure !== undefined) return Effect.fail(call.failure)
          const state = collected()
          for (const part of answer.content) collect(state, part)
          return Effect.succeed(toResponse(vendor, state, call, state.finishReason ?? "unknown"))
        })
      )
    }),
  stream: (request) =>
    Stream.suspend(() => {
      const unsupported = unsupportedTools(vendor, request)
      if (unsupported !== undefined) return Stream.fail(unsupported)
      const call = makeCapture(vendor.provider, request)
      const state = collected()
      const indexes = new Map<string, number>()
      const deltas = (part: AnyPart): Effect.Effect<ReadonlyArray<ModelStreamPart>, ModelError> => {
        const error = collect(state, part)
        if (error !== undefined) return Effect.fail(streamedError(vendor.provider, error))
        switch (part.type) {
          case "text-delta":
            return Effect.succeed(part.delta === "" ? [] : [{ _tag: "TextDelta", delta: part.delta }])
          case "tool-params-start": {
            if (part.providerExecuted) return Effect.succeed([])
            const index = indexes.size
            indexes.set(part.id, index)
            return Effect.succeed([{
              _tag: "ToolCallDelta",
              index,
              id: part.id,
              name: part.name,
              argumentsDelta: ""
            }])
          }
          case "tool-params-delta": {
            const index = indexes.get(part.id)
            return Effect.succeed(
              index === undefined ? [] : [{ _tag: "ToolCallDelta", index, argumentsDelta: part.delta }]
            )
          }
          case "tool-call": {
            // A call that arrived whole (no argument deltas before it) is passed on as one delta.
            if (part.providerExecuted || indexes.has(part.id)) return Effect.succeed([])
            const index = indexes.size
            indexes.set(part.id, index)
            return Effect.succeed([
              {
                _tag: "ToolCallDelta",
                index,
                id: part.id,
                name: part.name,
                argumentsDelta: JSON.stringify(part.params)
              }
            ])
          }
          default:
            return Effect.succeed([])
        }
      }
      const parts = model.streamText(options(request)).pipe(
        Stream.mapError((error) => call.failure ?? fromAiError(vendor.provider, error, call)),
        Stream.mapConcatEffect(deltas),
        Stream.mapError((error) => call.failure ?? error)
      )
      // A stream that stops before the vendor's final event (`response.completed`, `message_stop`) was cut
      // short: its text and calls may be partial, so it is not passed on as an answer.
      const done = Stream.fromEffect(Effect.suspend(() =>
        call.failure !== undefined
          ? Effect.fail(call.failure)
          : state.finishReason === undefined
          ? Effect.fail(malformedError(vendor.provider, "the stream ended before its final event"))
          : Effect.succeed<ModelStreamPart>({
            _tag: "Done",
            response: toResponse(vendor, state, call, state.finishReason)
          })
      ))
      return Stream.concat(parts, done).pipe(Stream.provideService(CurrentCall, call))
    })
})
