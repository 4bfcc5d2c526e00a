/**
 * Shared pieces of the provider tests: the two-tool agent, a run through a provider layer, and a driver
 * that advances the TestClock whenever the program under test sleeps (so retries take no real time).
 */
import {
  Agent,
  type HookEvent,
  type LanguageModel,
  MemoryRecorder,
  Recorder,
  StreamEvent,
  Tool
} from "@sextant/runtime"
import { Chunk, Clock, Effect, Fiber, Layer, Option, Schema, Stream, TestClock } from "effect"

export const weatherTool = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, tempC: 21 })
})

export const timeTool = Tool.make("get_time", {
  description: "Current time in a timezone",
  parameters: Schema.Struct({ tz: Schema.String }),
  handler: async ({ tz }) => ({ tz, time: "12:00" })
})

export const INPUT = "What's the weather and time in Lisbon?"

/** Runs the two-tool agent (whole or streamed) on a model layer with the memory recorder. */
export const runAgent = <E>(model: Layer.Layer<LanguageModel, E>, options?: { readonly stream?: boolean }) =>
  Effect.gen(function*() {
    const agent = yield* Agent.make({
      name: "travel",
      instructions: "Answer with the tools.",
      tools: [weatherTool, timeTool]
    })
    let streamed: ReadonlyArray<StreamEvent.StreamEvent> = []
    if (options?.stream === true) {
      streamed = Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream(INPUT, { runId: "run-1" })))
    } else {
      yield* agent.run(INPUT, { runId: "run-1" })
    }
    const events = yield* (yield* MemoryRecorder).events("run-1")
    return { events, streamed, deltas: streamed.filter(StreamEvent.isDelta) }
  }).pipe(Effect.provide(Layer.merge(model, Recorder.memory)))

/** Events of one tag. */
export const ofTag = <T extends HookEvent.HookEvent["_tag"]>(events: ReadonlyArray<HookEvent.HookEvent>, tag: T) =>
  events.filter((e): e is Extract<HookEvent.HookEvent, { _tag: T }> => e._tag === tag)

/** Lets real time pass (sockets progress while the TestClock stands still). */
export const tick = (ms = 1) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/** Waits in real time until a condition holds. */
export const eventually = <E, R>(condition: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    while (!(yield* condition)) yield* tick()
  })

/** Wake-up times of the sleeps pending on the TestClock, relative to now. */
export const pendingSleeps = Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  return Chunk.toReadonlyArray(yield* TestClock.sleeps()).map((at) => at - now)
})

/**
 * Waits for a fiber, moving the TestClock to each sleep it starts that ends within `limitMs` (backoffs and
 * the Retry-After values the tests use). Longer sleeps (the attempt timeouts of requests in flight) are left
 * alone, so a timeout never fires while a loopback reply is on its way.
 */
export const drive = <A, E>(fiber: Fiber.Fiber<A, E>, limitMs = 2_000) =>
  Effect.gen(function*() {
    for (;;) {
      const exit = yield* Fiber.poll(fiber)
      if (Option.isSome(exit)) return yield* exit.value
      const soon = (yield* pendingSleeps).filter((ms) => ms <= limitMs)
      if (soon.length > 0) yield* TestClock.adjust(Math.max(0, Math.min(...soon)))
      else yield* tick()
    }
  })

/** Runs an effect under `drive`. */
export const withTestClock = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.fork(effect), (f) => drive(f))
