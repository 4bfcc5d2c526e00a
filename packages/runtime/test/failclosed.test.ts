import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Ref, Schema } from "effect"
import { Agent, HookEvent, Recorder, RecorderError, ScriptedModel, Tool } from "../src/index.js"
import { timeTool, twoToolScript } from "./fixtures.js"

/** A recorder that accepts writes until the `failAt`-th (0-based) and then fails every write. */
const failingRecorder = (failAt: number, accepted: Ref.Ref<ReadonlyArray<HookEvent.HookEvent>>) =>
  Layer.succeed(Recorder, {
    record: (event) =>
      Ref.modify(accepted, (all) => [all.length, all]).pipe(
        Effect.flatMap((n) =>
          n >= failAt
            ? Effect.fail(
              new RecorderError({
                operation: "record",
                eventType: HookEvent.eventType(event),
                runId: event.runId,
                sequenceIndex: event.sequenceIndex,
                attempts: 5,
                reason: "permanent",
                message: "disk on fire"
              })
            )
            : Ref.update(accepted, (all) => [...all, event])
        )
      )
  })

describe("fail-closed recording", () => {
  for (
    const [failAt, expectedRequests, label] of [
      [2, 0, "llm.started of the first call"],
      [3, 1, "llm.completed (staged: written at the commit point before the first tool)"],
      [5, 1, "tool.started of the first tool"],
      [6, 1, "tool.completed of the first tool (staged: written before the second tool runs)"],
      [11, 1, "llm.started of the second call"]
    ] as const
  ) {
    it.effect(`a failed write of ${label} stops the run there`, () =>
      Effect.gen(function*() {
        const accepted = yield* Ref.make<ReadonlyArray<HookEvent.HookEvent>>([])
        let weatherRuns = 0
        const weather = Tool.make("get_weather", {
          description: "weather",
          parameters: Schema.Struct({ city: Schema.String }),
          parallel: false,
          handler: () => {
            weatherRuns++
            return "sunny"
          }
        })
        const agent = yield* Agent.make({ name: "a", instructions: "", tools: [weather, timeTool] })
        const layer = Layer.merge(ScriptedModel.layer(twoToolScript), failingRecorder(failAt, accepted))
        const { exit, requests } = yield* Effect.gen(function*() {
          const exit = yield* Effect.exit(agent.run("hi"))
          const requests = yield* (yield* ScriptedModel.Requests).requests
          return { exit, requests }
        }).pipe(Effect.provide(layer))

        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          expect(error).toBeInstanceOf(RecorderError)
          expect(error).toMatchObject({ sequenceIndex: failAt, message: "disk on fire" })
        }
        expect(requests).toHaveLength(expectedRequests)
        const recorded = yield* Ref.get(accepted)
        expect(recorded).toHaveLength(failAt)
        // The weather tool is the first tool: it ran only if its tool.started write succeeded.
        expect(weatherRuns).toBe(failAt > 5 ? 1 : 0)
        expect(recorded.some((e) => e._tag === "RunFailed" || e._tag === "RunCompleted")).toBe(false)
      }))
  }
})
