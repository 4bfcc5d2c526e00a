/**
 * A streamed model call: deltas go to the sinks as they arrive (never recorded), the final response is what
 * the turn records.
 */
import { Clock, Effect, Stream } from "effect"
import { ModelError, type RecorderError } from "../../Errors.js"
import type { StreamStats } from "../../HookEvent.js"
import type { ModelRequest, ModelResponse } from "../../LanguageModel.js"
import type { RunState } from "../runState.js"
import { counter, statsOf, utf8Bytes } from "../streams/stats.js"

/** Streams one model call, passing deltas on; the stream must end with a `Done` part. */
export const collectStream = (
  state: RunState,
  request: ModelRequest,
  correlationId: string,
  /** Receives the aggregate of the call's deltas once the stream is done (for `llm.completed`). */
  onStats?: (stats: StreamStats) => void
): Effect.Effect<ModelResponse, ModelError | RecorderError> =>
  Effect.gen(function*() {
    const { bus, model } = state
    const clock = yield* Effect.clock
    const count = counter(clock.unsafeCurrentTimeMillis())
    // Text and tool-argument deltas share the call's one sequence: their order is the model's.
    const sequenced = (delta: string) => {
      if (count.count === 0) count.firstAt = clock.unsafeCurrentTimeMillis()
      count.bytes += utf8Bytes(delta)
      return count.count++
    }
    let done: ModelResponse | undefined
    yield* Stream.runForEach(model.stream(request), (part) => {
      switch (part._tag) {
        case "TextDelta":
          return bus.delta({
            _tag: "TextDelta",
            iteration: request.iteration,
            correlationId,
            sequence: sequenced(part.delta),
            delta: part.delta
          })
        case "ToolCallDelta":
          return bus.delta({
            _tag: "ToolArgumentsDelta",
            iteration: request.iteration,
            correlationId,
            index: part.index,
            sequence: sequenced(part.argumentsDelta),
            delta: part.argumentsDelta,
            ...(part.name === undefined ? {} : { toolName: part.name })
          })
        case "Done":
          return Effect.map(Clock.currentTimeMillis, (now) => {
            done = part.response
            onStats?.(statsOf(count, now))
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
