import { describe, expect, it } from "@effect/vitest"
import { Agent, HookEvent, MemoryRecorder, Recorder, StreamEvent } from "@sextant/runtime"
import { Chunk, Effect, Layer, Schema, Stream } from "effect"
import { fakeServer, type Reply } from "./fakeServer.js"
import { INPUT, ofTag, timeTool, weatherTool } from "./support.js"
import { ANSWER, ANSWER_PIECES, wires } from "./wires.js"

const Answer = Schema.Struct({ city: Schema.String, tempC: Schema.Number }).annotations({ identifier: "Answer" })
const VALID = { city: "Lisbon", tempC: 21 }

/** The wire's text turn with a valid JSON answer in place of the prose one (Anthropic: the output tool's call). */
const jsonTurn = (wireName: string, textTurn: Reply): Reply => {
  const json = (textTurn as { json: unknown }).json as Record<string, unknown>
  if (wireName.toLowerCase().includes("anthropic")) {
    return {
      json: {
        ...json,
        content: [{ type: "tool_use", id: "toolu_out", name: "final_answer", input: VALID }],
        stop_reason: "tool_use"
      }
    }
  }
  return {
    json: JSON.parse(JSON.stringify(json).replace(JSON.stringify(ANSWER), JSON.stringify(JSON.stringify(VALID))))
  }
}

/** Where each wire carries the output Schema natively. */
const nativeField = (provider: string, body: any): unknown =>
  provider === "openai"
    ? body.text?.format
    : provider === "anthropic"
    ? { tool: body.tools.find((t: any) => t.name === "final_answer")?.input_schema, choice: body.tool_choice }
    : body.response_format

describe.each(wires)("structured output on $name (native)", (wire) => {
  it.scoped("tools, then a prose answer repaired once with the decode error, then a valid Schema-typed answer", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(
        wire.toolTurn(false),
        wire.textTurn(false),
        jsonTurn(wire.name, wire.textTurn(false))
      )
      const { events, result } = yield* Effect.gen(function*() {
        const agent = yield* Agent.make({
          name: "travel",
          instructions: "Use the tools.",
          tools: [weatherTool, timeTool]
        })
        const result = yield* agent.run(INPUT, { runId: "run-1", output: Answer })
        const events = yield* (yield* MemoryRecorder).events("run-1")
        return { events, result }
      }).pipe(Effect.provide(Layer.merge(wire.layer(server.url), Recorder.memory)))

      expect(result.status).toBe("success")
      const output: { readonly city: string; readonly tempC: number } | undefined = result.output
      expect(output).toEqual(VALID)
      // Native mode: the Schema is on the wire and not in the system prompt.
      const first = server.received[0]!.body as any
      const native = nativeField(wire.provider, first) as any
      expect(JSON.stringify(native)).toContain("tempC")
      if (wire.provider === "anthropic") expect(native.choice.type).toBe("any")
      expect(JSON.stringify(first)).not.toContain("conforms to this JSON Schema")
      // Exactly one repair turn; its request carries the decode error.
      expect(server.received).toHaveLength(3)
      expect(JSON.stringify(server.received[2]!.body)).toContain("does not match the required output schema")
      expect(ofTag(events, "OutputInvalid")).toHaveLength(1)
      expect(ofTag(events, "LlmCallStarted").map((e) => e.output?.name)).toEqual(["Answer", "Answer", "Answer"])
      expect(ofTag(events, "RunCompleted")[0]!.output).toEqual(VALID)
      expect(events.map(HookEvent.eventType).at(-1)).toBe("run.completed")
    }))
})

const PIECES = ["{\"city\":\"Lisbon\",", "\"tempC\":21", "}"]

/** The wire's streamed text turn answering valid JSON in three pieces (Anthropic: the output tool's argument deltas). */
const jsonStream = (wireName: string, textTurn: Reply): Reply => {
  const events = (textTurn as { sse: ReadonlyArray<{ event?: string; data: any }> }).sse
  if (wireName.toLowerCase().includes("anthropic")) {
    let piece = 0
    return {
      sse: events.map((e) => {
        const d = e.data
        if (d.type === "content_block_start") {
          return {
            ...e,
            data: { ...d, content_block: { type: "tool_use", id: "toolu_out", name: "final_answer", input: {} } }
          }
        }
        if (d.type === "content_block_delta") {
          return { ...e, data: { ...d, delta: { type: "input_json_delta", partial_json: PIECES[piece++] } } }
        }
        if (d.type === "message_delta") return { ...e, data: { ...d, delta: { ...d.delta, stop_reason: "tool_use" } } }
        return e
      })
    }
  }
  let text = JSON.stringify(events).replaceAll(
    JSON.stringify(ANSWER).slice(1, -1),
    JSON.stringify(PIECES.join("")).slice(1, -1)
  )
  ANSWER_PIECES.forEach((p, i) => {
    text = text.replaceAll(JSON.stringify(p).slice(1, -1), JSON.stringify(PIECES[i]).slice(1, -1))
  })
  return { sse: JSON.parse(text) }
}

describe.each(wires)("structured output on $name (native, streamed)", (wire) => {
  it.scoped("the streamed JSON answer decodes; its pieces arrive as text deltas", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(jsonStream(wire.name, wire.textTurn(true)))
      const streamed = yield* Effect.gen(function*() {
        const agent = yield* Agent.make({ name: "travel", instructions: "" })
        return Chunk.toReadonlyArray(yield* Stream.runCollect(agent.stream(INPUT, { runId: "run-1", output: Answer })))
      }).pipe(Effect.provide(Layer.merge(wire.layer(server.url), Recorder.memory)))
      const deltas = streamed.filter((e): e is StreamEvent.TextDelta => e._tag === "TextDelta")
      expect(deltas.map((d) => d.delta).join("")).toBe(PIECES.join(""))
      const end = streamed.at(-1)!
      expect(end._tag === "RunCompleted" && end.output).toEqual({ city: "Lisbon", tempC: 21 })
    }))
})
