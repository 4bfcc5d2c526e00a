/**
 * The OpenAI-compatible `/chat/completions` wire format (Ollama, vLLM, LM Studio, OpenRouter, …) on
 * `@effect/platform`'s HttpClient, since `@effect/ai-openai` speaks only the Responses API.
 */
import { HttpClient, type HttpClientError, HttpClientRequest } from "@effect/platform"
import {
  type HookEvent,
  type LanguageModelService,
  ModelError,
  type ModelRequest,
  type ModelResponse,
  type ModelStreamPart,
  type ModelToolCall,
  type RecorderError
} from "@sextant/runtime"
import type { RetryPolicy } from "@sextant/runtime"
import { Effect, Either, type ParseResult, Redacted, Schema, Stream } from "effect"
import { malformedError, parseSummary, transportError } from "./errors.js"
import { type CallCapture, CurrentCall, instrument, makeCapture } from "./http.js"
import { jsonOrText } from "./json.js"
import { credentialValues, scrubber } from "./scrub.js"
import { seal } from "./seal.js"
import { SseParser } from "./sse.js"
import * as Usage from "./usage.js"

type Json = HookEvent.Json

/** Settings of a chat-completions client. */
export interface ChatCompletionsSettings {
  readonly provider: string
  readonly model: string
  readonly baseUrl: string
  readonly apiKey: Redacted.Redacted | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly body: Readonly<Record<string, Json>>
  readonly retry: RetryPolicy.Resolved
}

const nullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

const ChatToolCall = Schema.Struct({
  id: nullable(Schema.String),
  function: Schema.Struct({ name: Schema.String, arguments: nullable(Schema.String) })
})
const ChatResponse = Schema.Struct({
  id: nullable(Schema.String),
  model: nullable(Schema.String),
  choices: Schema.NonEmptyArray(Schema.Struct({
    message: Schema.Struct({ content: nullable(Schema.String), tool_calls: nullable(Schema.Array(ChatToolCall)) }),
    finish_reason: nullable(Schema.String)
  })),
  usage: nullable(Usage.ChatUsage)
})
const ChatChunk = Schema.Struct({
  id: nullable(Schema.String),
  model: nullable(Schema.String),
  choices: nullable(Schema.Array(Schema.Struct({
    delta: nullable(Schema.Struct({
      content: nullable(Schema.String),
      tool_calls: nullable(Schema.Array(Schema.Struct({
        index: Schema.Number,
        id: nullable(Schema.String),
        function: nullable(Schema.Struct({ name: nullable(Schema.String), arguments: nullable(Schema.String) }))
      })))
    })),
    finish_reason: nullable(Schema.String)
  }))),
  usage: nullable(Usage.ChatUsage),
  error: nullable(Schema.Struct({ message: Schema.String }))
})
const decodeResponse = Schema.decodeUnknownEither(ChatResponse)
const decodeChunk = Schema.decodeUnknownEither(Schema.parseJson(ChatChunk))

/** The history in chat-completions messages. */
const toMessages = (request: ModelRequest): Array<Json> => {
  const out: Array<Json> = []
  if (request.system !== "") out.push({ role: "system", content: request.system })
  for (const m of request.messages) {
    switch (m._tag) {
      case "user":
        out.push({
          role: "user",
          content: m.parts === undefined ? m.content : [
            ...(m.content === "" ? [] : [{ type: "text", text: m.content }]),
            // Only images reach here (`unsupportedPart` refused files before the call).
            ...m.parts.map((p): Json => ({
              type: "image_url",
              image_url: { url: "url" in p ? p.url : `data:${p.mediaType};base64,${p.data}` }
            }))
          ]
        })
        break
      case "assistant":
        out.push({
          role: "assistant",
          content: m.content === "" && m.toolCalls.length > 0 ? null : m.content,
          ...(m.toolCalls.length === 0 ? {} : {
            tool_calls: m.toolCalls.map((c) => ({
              id: c.providerCallId ?? c.id,
              type: "function",
              function: { name: c.name, arguments: JSON.stringify(c.arguments) }
            }))
          })
        })
        break
      case "tool":
        out.push({ role: "tool", tool_call_id: m.providerCallId ?? m.toolCallId, content: m.content })
        break
    }
  }
  return out
}

/**
 * The refusal of a request carrying what chat completions cannot send (a file part; images by URL or as a data
 * URL are sent), before any call: a typed `ModelError` of reason `request` naming the message.
 */
const unsupportedPart = (provider: string, request: ModelRequest): ModelError | undefined => {
  for (const [i, m] of request.messages.entries()) {
    if (m._tag !== "user") continue
    const j = (m.parts ?? []).findIndex((p) => p._tag === "file")
    if (j >= 0) {
      return new ModelError({
        provider,
        reason: "request",
        message: `${provider}: messages[${i}].parts[${j}] is a file (${
          (m.parts![j] as { readonly mediaType: string }).mediaType
        }): chat completions take text and images only; send the file's text, or use a provider that takes files`
      })
    }
  }
  return undefined
}

/** The request body; extra body fields never override the ones the kernel owns. */
const toBody = (settings: ChatCompletionsSettings, request: ModelRequest, stream: boolean): Json => ({
  ...settings.body,
  model: settings.model,
  messages: toMessages(request),
  ...(request.tools.length === 0 ? {} : {
    tools: request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.parameters }
    })),
    tool_choice: "auto"
  }),
  ...(request.output === undefined ? {} : {
    response_format: {
      type: "json_schema",
      json_schema: { name: request.output.name, schema: request.output.schema, strict: false }
    }
  }),
  ...(stream ? { stream: true, stream_options: { include_usage: true } } : {})
})

/**
 * Tool arguments as JSON. Arguments that are not JSON are kept as their text: the tool's Schema then
 * rejects them and the model sees that as a failed tool result (small local models do this), instead of
 * the whole run failing.
 */
const toolArguments = (text: string | null | undefined): Json =>
  text == null || text.trim() === "" ? {} : jsonOrText(text)

const withMeta = (
  response: { -readonly [K in keyof ModelResponse]: ModelResponse[K] },
  meta: { readonly id?: string | null | undefined; readonly model?: string | null | undefined },
  call: CallCapture
): ModelResponse => {
  if (meta.model != null) response.model = meta.model
  if (meta.id != null) response.responseId = meta.id
  if (call.request !== undefined) response.providerRequest = call.request
  const body = call.events ?? call.response
  if (body !== undefined) response.providerResponse = body
  return response
}

const describeParse = (error: ParseResult.ParseError) =>
  `the response does not match the chat-completions format: ${parseSummary(error)}`

/** A chat-completions model behind the kernel's `LanguageModel` port. */
export const make = (settings: ChatCompletionsSettings) =>
  Effect.map(HttpClient.HttpClient, (base): LanguageModelService => {
    const scrub = scrubber([settings.apiKey, ...credentialValues(settings.headers)])
    const client = instrument({ retry: settings.retry, scrub })(base)
    const { provider } = settings
    const post = (request: ModelRequest, stream: boolean) =>
      HttpClientRequest.post(`${settings.baseUrl.replace(/\/+$/, "")}/chat/completions`).pipe(
        HttpClientRequest.setHeaders(settings.headers),
        settings.apiKey === undefined ? (r) => r : HttpClientRequest.bearerToken(settings.apiKey),
        HttpClientRequest.bodyUnsafeJson(toBody(settings, request, stream)),
        HttpClientRequest.acceptJson
      )
    // Errors the HTTP layer classified win; what is left is a connection lost while the body was read.
    const failed =
      (call: CallCapture) =>
      (error: ModelError | RecorderError | HttpClientError.HttpClientError): ModelError | RecorderError =>
        call.failure ??
          (error._tag === "ModelError" || error._tag === "RecorderError"
            ? error
            : transportError(provider, error.description ?? error.reason, 1))

    const generate = (request: ModelRequest) =>
      Effect.suspend(() => {
        const refused = unsupportedPart(provider, request)
        if (refused !== undefined) return Effect.fail(refused)
        const call = makeCapture(provider, request)
        return Effect.gen(function*() {
          yield* client.execute(post(request, false))
          if (call.failure !== undefined) return yield* call.failure
          const decoded = decodeResponse(call.response)
          if (Either.isLeft(decoded)) return yield* malformedError(provider, describeParse(decoded.left))
          const body = decoded.right
          const choice = body.choices[0]
          const toolCalls: Array<ModelToolCall> = (choice.message.tool_calls ?? []).map((c, i) => ({
            id: c.id ?? `call_${i}`,
            name: c.function.name,
            arguments: toolArguments(c.function.arguments)
          }))
          return withMeta(
            {
              text: choice.message.content ?? "",
              toolCalls,
              usage: Usage.chat(body.usage),
              finishReason: choice.finish_reason ?? "unknown"
            },
            body,
            call
          )
        }).pipe(Effect.mapError(failed(call)), Effect.provideService(CurrentCall, call), Effect.scoped)
      })

    const stream = (request: ModelRequest) =>
      Stream.suspend(() => {
        const refused = unsupportedPart(provider, request)
        if (refused !== undefined) return Stream.fail(refused)
        const call = makeCapture(provider, request)
        const parser = new SseParser()
        let text = ""
        let finishReason: string | undefined
        let usage: HookEvent.Usage | undefined
        const meta: { id?: string; model?: string } = {}
        const calls = new Map<number, { id: string; name: string; args: string }>()

        const onEvent = (data: string): Either.Either<ReadonlyArray<ModelStreamPart>, ModelError> => {
          if (data.trim() === "[DONE]") return Either.right([])
          const decoded = decodeChunk(data)
          if (Either.isLeft(decoded)) return Either.left(malformedError(provider, describeParse(decoded.left)))
          const chunk = decoded.right
          if (chunk.error != null) {
            return Either.left(
              new ModelError({
                provider,
                reason: "server",
                message: `${provider}: error in the stream: ${chunk.error.message}`
              })
            )
          }
          if (chunk.id != null) meta.id = chunk.id
          if (chunk.model != null) meta.model = chunk.model
          if (chunk.usage != null) usage = Usage.chat(chunk.usage)
          const out: Array<ModelStreamPart> = []
          for (const choice of chunk.choices ?? []) {
            if (choice.finish_reason != null) finishReason = choice.finish_reason
            const delta = choice.delta
            if (delta?.content != null && delta.content !== "") {
              text += delta.content
              out.push({ _tag: "TextDelta", delta: delta.content })
            }
            for (const tc of delta?.tool_calls ?? []) {
              const known = calls.get(tc.index)
              const args = tc.function?.arguments ?? ""
              if (known === undefined) {
                const fresh = { id: tc.id ?? `call_${tc.index}`, name: tc.function?.name ?? "", args }
                calls.set(tc.index, fresh)
                out.push({
                  _tag: "ToolCallDelta",
                  index: tc.index,
                  id: fresh.id,
                  name: fresh.name,
                  argumentsDelta: args
                })
              } else {
                known.args += args
                if (args !== "") out.push({ _tag: "ToolCallDelta", index: tc.index, argumentsDelta: args })
              }
            }
          }
          return Either.right(out)
        }
        const onEvents = (events: ReadonlyArray<{ readonly data: string }>) =>
          Effect.forEach(events, (e) => onEvent(e.data)).pipe(Effect.map((parts) => parts.flat()))

        const textDecoder = new TextDecoder()
        const body = Effect.map(client.execute(post(request, true)), (response): Stream.Stream<
          ModelStreamPart,
          ModelError | RecorderError | HttpClientError.HttpClientError
        > =>
          call.failure !== undefined
            ? Stream.fail(call.failure)
            : response.stream.pipe(
              Stream.mapConcatEffect((chunk) => onEvents(parser.feed(textDecoder.decode(chunk, { stream: true })))),
              Stream.concat(Stream.fromIterableEffect(Effect.suspend(() => onEvents(parser.end()))))
            ))
        const done = Stream.fromEffect(Effect.suspend(() => {
          if (call.failure !== undefined) return Effect.fail(call.failure)
          // Every chat-completions server ends a choice with a finish_reason; without one the stream was cut short.
          if (finishReason === undefined) {
            return Effect.fail(malformedError(provider, "the stream ended before a finish_reason"))
          }
          const toolCalls = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({
            id: c.id,
            name: c.name,
            arguments: toolArguments(c.args)
          }))
          return Effect.succeed<ModelStreamPart>({
            _tag: "Done",
            response: withMeta({ text, toolCalls, usage, finishReason }, meta, call)
          })
        }))
        return Stream.unwrapScoped(body).pipe(
          Stream.concat(done),
          Stream.mapError(failed(call)),
          Stream.provideService(CurrentCall, call)
        )
      })

    return seal({ provider, model: settings.model, structuredOutput: "native", generate, stream }, scrub)
  })
