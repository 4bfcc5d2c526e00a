/**
 * The benchmark workload on the kernel: the 3-turn, 2-tool agent of `bench/plainLoop.ts` (weather, then a
 * conversion, then the answer) with a stateless model that answers by iteration, so concurrent runs can share
 * it, and its tools either instant or waiting a fixed time.
 */
import { Agent, LanguageModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema, Stream } from "effect"
import { responseOf, type Script, threeTurnResults, threeTurnScript } from "../../../bench/plainLoop.js"

/** A model answering each request with the script's turn for its iteration. */
export const benchModel = (script: Script = threeTurnScript): Layer.Layer<LanguageModel> =>
  Layer.succeed(
    LanguageModel,
    LanguageModel.make({
      provider: "bench",
      model: "bench-1",
      generate: (request) => Effect.sync(() => responseOf(script(request.iteration), request.iteration)),
      stream: (request) =>
        Stream.make({ _tag: "Done" as const, response: responseOf(script(request.iteration), request.iteration) })
    })
  )

/** The 3-turn agent; its tools answer at once, or after `toolMs` milliseconds. */
export const threeTurnAgent = (toolMs = 0): Agent.Agent => {
  const after = <A>(value: A) => (toolMs === 0 ? value : Effect.as(Effect.sleep(`${toolMs} millis`), value))
  return Agent.makeSync({
    name: "bench",
    instructions: "Answer weather questions.",
    maxIterations: 5,
    tools: [
      Tool.make("weather", {
        description: "the weather in a city",
        parameters: Schema.Struct({ city: Schema.String }),
        handler: (args) => after(threeTurnResults.weather!(args))
      }),
      Tool.make("convert", {
        description: "celsius to fahrenheit",
        parameters: Schema.Struct({ celsius: Schema.Number }),
        handler: (args) => after(threeTurnResults.convert!(args))
      })
    ]
  })
}
