/**
 * A streamed model call: deltas go to the sinks as they arrive (never recorded), the final response is what
 * the turn records.
 */
import { Effect, Stream } from "effect"
import { ModelError, type RecorderError } from "../../Errors.js"
import type { ModelRequest, ModelResponse } from "../../LanguageModel.js"
import type { RunState } from "../runState.js"

/** Streams one model call, passing deltas on; the stream must end with a `Done` part. */
export const collectStream = (
  state: RunState,
  request: ModelRequest,
  correlationId: string
): Effect.Effect<ModelResponse, ModelError | RecorderError> =>
  Effect.gen(function*() {
    const { bus, model } = state
    let done: ModelResponse | undefined
    yield* Stream.runForEach(model.stream(request), (part) => {
      switch (part._tag) {
        case "TextDelta":
          return bus.delta({ _tag: "TextDelta", iteration: request.iteration, correlationId, delta: part.delta })
        case "ToolCallDelta":
          return bus.delta({
            _tag: "ToolArgumentsDelta",
            iteration: request.iteration,
            correlationId,
            index: part.index,
            delta: part.argumentsDelta,
            ...(part.name === undefined ? {} : { toolName: part.name })
          })
        case "Done":
          return Effect.sync(() => {
            done = part.response
          })
      }
    })
    if (done === undefined) {
      return yield* new ModelError({
        provider: model.provider,
        reason: "malformed",
        message: "the model's stream ended without a final response"
      })
    }
    return done
  })
