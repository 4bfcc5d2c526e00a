import { describe, expect, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Layer, Schema, Stream } from "effect"
import {
  Agent,
  type HookEvent,
  MemoryRecorder,
  Notifier,
  Notifiers,
  Recorder,
  ScriptedModel,
  StreamEvent,
  Tool
} from "../src/index.js"

const N = 10_000

/** A tool that streams `count` chunks in one tight synchronous loop, then answers. */
const burst = (count: number, options?: Tool.ToolStreamOptions) =>
  Tool.make("burst", {
    description: "Streams chunks",
    parameters: Schema.Struct({}),
    ...(options === undefined ? {} : { stream: options }),
    handler: (_args, { stream }) => {
      for (let i = 0; i < count; i++) stream.chunk(`frame ${i}`)
      return { sent: count }
    }
  })

const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  { toolCalls: [{ id: "p1", name: "burst", arguments: {} }], usage: { inputTokens: 3, outputTokens: 2 } },
  { text: "done", usage: { inputTokens: 3, outputTokens: 2 } }
]

const bytesOf = (count: number) =>
  Array.from({ length: count }, (_, i) => `frame ${i}`.length).reduce((a, b) => a + b, 0)

const chunksOf = (events: ReadonlyArray<StreamEvent.StreamEvent>) =>
  events.filter((e): e is StreamEvent.StreamChunk => e._tag === "StreamChunk")

describe("tool streams", () => {
  it.live(
    "10,000 chunks in a tight loop: a normal notifier and the caller's stream get every chunk in order; a slow " +
      "and a hanging notifier drop chunks, never a lifecycle event; the record holds one aggregate and no chunk",
    () =>
      Effect.gen(function*() {
        const normal: Array<StreamEvent.StreamEvent> = []
        const slow: Array<StreamEvent.StreamEvent> = []
        const hung: Array<StreamEvent.StreamEvent> = []
        // The hanging notifier is stuck on the stream's first event until the run is over: its mailbox fills
        // while it hangs, so what it ends up with is exactly what the drop policy kept.
        const release = yield* Deferred.make<void>()
        const notifiers = [
          // Sized for the burst: a normal notifier that can hold the whole stream loses nothing.
          Notifier.make({ name: "normal", capacity: 2 * N, onEvent: (e) => void normal.push(e) }),
          Notifier.make({
            name: "slow",
            capacity: 64,
            onEvent: (e) => Effect.as(Effect.sleep("1 millis"), void slow.push(e))
          }),
          Notifier.make({
            name: "hanging",
            capacity: 64,
            timeout: "1 minute",
            onEvent: (e) => {
              hung.push(e)
              return e._tag === "StreamStarted" ? Deferred.await(release) : undefined
            }
          })
        ]
        const { caller, recorded, stats } = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "streams", instructions: "", tools: [burst(N)] })
          const caller = Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream("go", { runId: "run-s" })))
          const recorded = yield* (yield* MemoryRecorder).events("run-s")
          yield* Deferred.succeed(release, undefined)
          return { caller, recorded, stats: (yield* Notifiers).stats }
        }).pipe(
          Effect.provide(
            Layer.mergeAll(
              ScriptedModel.layer(script),
              Recorder.memory,
              Notifiers.layer(notifiers, { drainTimeout: "30 seconds" })
            )
          )
        )

        // The caller's stream and the normal notifier: every chunk, gapless, in order, between the tool's events.
        for (const seen of [caller, normal]) {
          const chunks = chunksOf(seen)
          expect(chunks.map((c) => c.sequence)).toEqual(Array.from({ length: N }, (_, i) => i))
          const callId = seen.find((e) => e._tag === "ToolCallStarted")!.correlationId
          expect(chunks[N - 1]).toMatchObject({ data: `frame ${N - 1}`, toolName: "burst", streamId: callId })
          expect(chunks.every((c) => c.correlationId === callId)).toBe(true)
          const tags = seen.filter((e) => e._tag !== "StreamChunk" && !e._tag.endsWith("Delta")).map((e) => e._tag)
          expect(tags.slice(tags.indexOf("ToolCallStarted"), tags.indexOf("ToolCallCompleted") + 1)).toEqual([
            "ToolCallStarted",
            "StreamStarted",
            "StreamEnded",
            "ToolCallCompleted"
          ])
        }

        // The record: one aggregate, no chunk in the event log (nothing of the chunks' data either).
        const ended = recorded.filter((e): e is HookEvent.StreamEnded => e._tag === "StreamEnded")
        expect(ended).toHaveLength(1)
        expect(ended[0]).toMatchObject({ chunkCount: N, bytes: bytesOf(N), sampledCount: 0, toolName: "burst" })
        expect(ended[0]!.samples).toBeUndefined()
        expect(ended[0]!.timeToFirstChunkMs).toBeGreaterThanOrEqual(0)
        expect(JSON.stringify(recorded)).not.toContain("frame 1")

        // Slow and hanging notifiers: every lifecycle event, in order; chunks dropped and counted apart.
        // Read after the layer was released: every mailbox has drained.
        const byName = Object.fromEntries((yield* stats).map((s) => [s.name, s]))
        for (const [name, seen] of [["slow", slow], ["hanging", hung]] as const) {
          expect(seen.filter((e) => !StreamEvent.isDelta(e))).toEqual(recorded)
          const chunks = chunksOf(seen)
          expect(chunks.length).toBeLessThan(N)
          // What a full mailbox kept is a prefix of the stream, still in order.
          expect(chunks.map((c) => c.sequence)).toEqual(chunks.map((_, i) => i))
          // Model deltas are chunks too: what the normal notifier got and this one did not was dropped, and counted.
          const lost = normal.filter(StreamEvent.isChunk).length - seen.filter(StreamEvent.isChunk).length
          expect(lost).toBeGreaterThanOrEqual(N - chunks.length)
          expect(byName[name]).toMatchObject({ dropped: 0, droppedChunks: lost, failed: 0 })
        }
        expect(byName.normal).toMatchObject({ dropped: 0, droppedChunks: 0 })
      })
  )

  it.effect("sampling keeps ⌊n·rate⌋ evenly spread chunks, bytes as base64; other chunks only count", () =>
    Effect.gen(function*() {
      const binary = Tool.make("mic", {
        description: "Audio frames",
        parameters: Schema.Struct({}),
        stream: { sampleRate: 0.25, maxSamples: 2 },
        handler: (_args, { stream }) => {
          const frame = new Uint8Array([0, 1, 2, 250, 251])
          for (let i = 0; i < 8; i++) {
            frame[0] = i
            stream.chunk(frame)
          }
          return "ok"
        }
      })
      const agent = yield* Agent.make({ name: "mic", instructions: "", tools: [binary] })
      yield* agent.run("go", { runId: "run-b" })
      const ended = (yield* (yield* MemoryRecorder).events("run-b")).find((e) => e._tag === "StreamEnded")
      expect(ended).toMatchObject({ chunkCount: 8, bytes: 40, sampledCount: 2 })
      // Chunks 3 and 7 are the rate's; maxSamples stops at 2. Each is a copy made when it was sent.
      expect(ended?._tag === "StreamEnded" && ended.samples).toEqual([
        { sequence: 3, offsetMs: 0, bytes: 5, encoding: "base64", data: "AwEC+vs=" },
        { sequence: 7, offsetMs: 0, bytes: 5, encoding: "base64", data: "BwEC+vs=" }
      ])
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ toolCalls: [{ id: "m1", name: "mic", arguments: {} }] }, { text: "done" }]),
      Recorder.memory
    ))))

  it.effect("a chunk that is neither JSON nor bytes fails the call with a message the model sees; a chunk after the call is refused", () =>
    Effect.gen(function*() {
      let late: ((data: string) => boolean) | undefined
      const bad = Tool.make("bad", {
        description: "Streams a function",
        parameters: Schema.Struct({}),
        handler: (_args, { stream }) => {
          late = (d) => stream.chunk(d)
          stream.chunk("first")
          stream.chunk((() => 1) as never)
          return "unreachable"
        }
      })
      const agent = yield* Agent.make({ name: "bad", instructions: "", tools: [bad] })
      const result = yield* agent.run("go", { runId: "run-x" })
      expect(result.status).toBe("success")
      const events = yield* (yield* MemoryRecorder).events("run-x")
      const completed = events.find((e) => e._tag === "ToolCallCompleted")
      expect(completed).toMatchObject({ success: false })
      expect(completed?._tag === "ToolCallCompleted" && completed.error).toContain(
        "streamed a chunk that is neither JSON nor a Uint8Array (chunk 1, a function)"
      )
      // The one good chunk is on the record's aggregate, recorded before tool.completed.
      const tags = events.map((e) => e._tag)
      expect(tags.indexOf("StreamEnded")).toBe(tags.indexOf("ToolCallCompleted") - 1)
      expect(events.find((e) => e._tag === "StreamEnded")).toMatchObject({ chunkCount: 1, bytes: 5 })
      expect(late?.("too late")).toBe(false)
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ toolCalls: [{ id: "b1", name: "bad", arguments: {} }] }, { text: "done" }]),
      Recorder.memory
    ))))

  it.effect("a tool that streams nothing records no stream; bad sampling options are refused by Agent.make", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "quiet", instructions: "", tools: [burst(0)] })
      yield* agent.run("go", { runId: "run-q" })
      const events = yield* (yield* MemoryRecorder).events("run-q")
      expect(events.some((e) => e._tag === "StreamEnded")).toBe(false)
      const refused = yield* Effect.flip(
        Agent.make({ name: "x", instructions: "", tools: [burst(1, { sampleRate: 2 })] })
      )
      expect(refused.message).toContain("sampleRate")
      expect(refused.message).toContain("must be a number in 0..1, got 2")
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ toolCalls: [{ id: "q1", name: "burst", arguments: {} }] }, { text: "done" }]),
      Recorder.memory
    ))))

  it.effect("model deltas carry their call's sequence; llm.completed records the stream's aggregate", () =>
    Effect.gen(function*() {
      const agent = yield* Agent.make({ name: "talk", instructions: "" })
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream("go", { runId: "run-t" })))
      const deltas = events.filter((e): e is StreamEvent.TextDelta => e._tag === "TextDelta")
      expect(deltas.map((d) => d.sequence)).toEqual(deltas.map((_, i) => i))
      const completed = (yield* (yield* MemoryRecorder).events("run-t")).find((e) => e._tag === "LlmCallCompleted")
      expect(completed?._tag === "LlmCallCompleted" && completed.stream).toMatchObject({
        chunkCount: deltas.length,
        bytes: Buffer.byteLength(deltas.map((d) => d.delta).join(""))
      })
      // A run that is not streamed has no stream aggregate.
      yield* agent.run("again", { runId: "run-u" })
      const plain = (yield* (yield* MemoryRecorder).events("run-u")).find((e) => e._tag === "LlmCallCompleted")
      expect(plain?._tag === "LlmCallCompleted" && plain.stream).toBeUndefined()
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ text: "naïve café ☕ answer" }, { text: "again" }]),
      Recorder.memory
    ))))
})
