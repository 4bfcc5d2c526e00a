/**
 * A model that returns scripted turns in order and records every request it received. It stands in for a
 * vendor in tests and examples; when the script runs out it fails with a clear `ModelError`.
 *
 * A step is a turn or a function of the request that computes one (to answer from what the model was sent).
 * The script belongs to the layer: every run of one runtime (or one `Effect.provide`) takes the next step of
 * the same script, so two runs of a two-turn agent need four steps.
 */
import { Context, Effect, Layer, Stream } from "effect"
import { ModelError } from "./Errors.js"
import type { Json, Usage } from "./HookEvent.js"
import { LanguageModel, type ModelRequest, type ModelResponse, type ModelStreamPart } from "./LanguageModel.js"

/** One scripted answer. */
export interface ScriptedTurn {
  readonly text?: string
  readonly toolCalls?: ReadonlyArray<{ readonly id?: string; readonly name: string; readonly arguments: Json }>
  /**
   * The token counts the turn reports. Absent means the model reported none: the call records no counts
   * and no billing row, and the run's cost is unknown. Give counts where a test or example needs them.
   */
  readonly usage?: Usage
  readonly finishReason?: string
  /** The response model name (defaults to the scripted model's name). */
  readonly model?: string
  /** Makes this turn fail with a `ModelError` carrying this message. */
  readonly fail?: string
}

/** A turn, or a function of the request that computes one (called when the request arrives). */
export type ScriptStep = ScriptedTurn | ((request: ModelRequest) => ScriptedTurn)

/** Requests a scripted model received, in order. */
export class Requests extends Context.Tag("@sextant/runtime/ScriptedModel/Requests")<
  Requests,
  { readonly requests: Effect.Effect<ReadonlyArray<ModelRequest>> }
>() {}

/** Options of `ScriptedModel.layer`. */
export interface ScriptedModelOptions {
  readonly model?: string
}

const toResponse = (turn: ScriptedTurn, index: number, model: string): ModelResponse => {
  const toolCalls = (turn.toolCalls ?? []).map((c, i) => ({
    id: c.id ?? `call_${index + 1}_${i + 1}`,
    name: c.name,
    arguments: c.arguments
  }))
  const response = {
    text: turn.text ?? "",
    toolCalls,
    ...(turn.usage === undefined ? {} : { usage: turn.usage }),
    finishReason: turn.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
    model: turn.model ?? model,
    responseId: `scripted_${index + 1}`
  }
  return { ...response, providerResponse: response }
}

const streamParts = (response: ModelResponse): ReadonlyArray<ModelStreamPart> => {
  const parts: Array<ModelStreamPart> = []
  for (const piece of response.text.match(/\S+\s*|\s+/g) ?? []) parts.push({ _tag: "TextDelta", delta: piece })
  response.toolCalls.forEach((call, index) => {
    const json = JSON.stringify(call.arguments)
    const half = Math.ceil(json.length / 2)
    parts.push({ _tag: "ToolCallDelta", index, id: call.id, name: call.name, argumentsDelta: json.slice(0, half) })
    parts.push({ _tag: "ToolCallDelta", index, argumentsDelta: json.slice(half) })
  })
  parts.push({ _tag: "Done", response })
  return parts
}

const make = (script: ReadonlyArray<ScriptStep>, options?: ScriptedModelOptions) =>
  Effect.gen(function*() {
    const model = options?.model ?? "scripted"
    const seen: Array<ModelRequest> = []
    const next = (request: ModelRequest) =>
      Effect.flatMap(Effect.sync(() => seen.push(request) - 1), (index) => {
        const step = script[index]
        if (step === undefined) {
          return Effect.fail(
            new ModelError({
              provider: "scripted",
              reason: "exhausted",
              message: `ScriptedModel: script exhausted: it has ${script.length} turn(s) and got request ${index + 1}`
            })
          )
        }
        const turn = typeof step === "function" ? step(request) : step
        if (turn.fail !== undefined) {
          return Effect.fail(new ModelError({ provider: "scripted", reason: "server", message: turn.fail }))
        }
        return Effect.succeed(toResponse(turn, index, model))
      })
    const service = LanguageModel.make({
      provider: "scripted",
      model,
      generate: next,
      stream: (request) => Stream.unwrap(Effect.map(next(request), (r) => Stream.fromIterable(streamParts(r))))
    })
    return Context.make(LanguageModel, service).pipe(
      Context.add(Requests, { requests: Effect.sync(() => [...seen]) })
    )
  })

/**
 * A model answering with `script`, one step per request across every run that uses the layer, the requests
 * readable through `Requests`.
 */
export const layer = (
  script: ReadonlyArray<ScriptStep>,
  options?: ScriptedModelOptions
): Layer.Layer<LanguageModel | Requests> => Layer.effectContext(make(script, options))
