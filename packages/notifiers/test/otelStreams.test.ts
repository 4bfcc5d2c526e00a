import { describe, expect, it } from "@effect/vitest"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Agent, Notifiers, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { GenAiAttributes as A, OpenTelemetryNotifier } from "../src/index.js"

const frames = Tool.make("frames", {
  description: "Streams frames",
  parameters: Schema.Struct({}),
  handler: (_args, { stream }) => {
    for (let i = 0; i < 100; i++) stream.chunk(`frame ${i}`)
    return "sent"
  }
})

const streamed = (chunkEvents?: number) =>
  Effect.gen(function*() {
    const exporter = new InMemorySpanExporter()
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("t")
    const otel = OpenTelemetryNotifier.make({ tracer, ...(chunkEvents === undefined ? {} : { chunkEvents }) })
    const agent = yield* Agent.make({ name: "frames", instructions: "", tools: [frames] })
    yield* Effect.gen(function*() {
      Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream("go", { runId: "run-otel-s" })))
    }).pipe(Effect.provide(Layer.mergeAll(
      ScriptedModel.layer([{ toolCalls: [{ name: "frames", arguments: {} }] }, { text: "all sent" }]),
      Recorder.memory,
      Notifiers.layer([otel])
    )))
    return exporter.getFinishedSpans()
  })

describe("OpenTelemetry: streams", () => {
  it.live("time to first chunk and the stream's aggregate on the chat spans and the tool span; no chunk events by default", () =>
    Effect.gen(function*() {
      const spans = yield* streamed()
      const chats = spans.filter((s) => s.name.startsWith("chat "))
      expect(chats).toHaveLength(2)
      for (const chat of chats) {
        expect(chat.attributes[A.RESPONSE_TIME_TO_FIRST_CHUNK]).toBeGreaterThanOrEqual(0)
        expect(chat.attributes[A.SEXTANT_STREAM_CHUNK_COUNT]).toBeGreaterThan(0)
      }
      const tool = spans.find((s) => s.name === "execute_tool frames")!
      expect(tool.attributes).toMatchObject({
        [A.SEXTANT_STREAM_CHUNK_COUNT]: 100,
        [A.SEXTANT_STREAM_BYTES]: Array.from({ length: 100 }, (_, i) => `frame ${i}`.length).reduce((a, b) => a + b)
      })
      expect(tool.attributes[A.RESPONSE_TIME_TO_FIRST_CHUNK]).toBeGreaterThanOrEqual(0)
      expect(spans.flatMap((s) => s.events).filter((e) => e.name === A.SEXTANT_STREAM_CHUNK_EVENT)).toEqual([])
    }))

  it.live("chunkEvents samples chunks as span events on their call's span; a bad rate is refused", () =>
    Effect.gen(function*() {
      const spans = yield* streamed(0.1)
      const tool = spans.find((s) => s.name === "execute_tool frames")!
      const events = tool.events.filter((e) => e.name === A.SEXTANT_STREAM_CHUNK_EVENT)
      expect(events.map((e) => e.attributes?.[A.SEXTANT_STREAM_SEQUENCE])).toEqual([
        9,
        19,
        29,
        39,
        49,
        59,
        69,
        79,
        89,
        99
      ])
      expect(() => OpenTelemetryNotifier.make({ chunkEvents: 2 })).toThrow(/chunkEvents must be a number in 0..1/)
    }))
})
