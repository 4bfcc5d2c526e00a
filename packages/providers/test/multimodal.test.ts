import { describe, expect, it } from "@effect/vitest"
import { Agent, type HookEvent, LanguageModel, type ModelRequest, Recorder } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { fakeServer } from "./fakeServer.js"
import { anthropic, chat, openAi } from "./wires.js"

const PNG = Buffer.from("\x89PNG fake image bytes").toString("base64")
const PDF = Buffer.from("%PDF-1.4 fake").toString("base64")

const withImages: HookEvent.Message = {
  _tag: "user",
  content: "What is in these pictures?",
  parts: [
    { _tag: "image", url: "https://example.com/cat.png" },
    { _tag: "image", data: PNG, mediaType: "image/png" }
  ]
}

const request = (message: HookEvent.Message): ModelRequest => ({
  runId: "run-mm",
  iteration: 1,
  system: "",
  messages: [message],
  tools: [],
  reportRetry: () => Effect.void
})

const ask = (layer: Layer.Layer<LanguageModel, unknown>, message: HookEvent.Message) =>
  Effect.flatMap(LanguageModel, (model) => model.generate(request(message))).pipe(Effect.provide(layer))

describe("multimodal user messages on the wire", () => {
  it.scoped("OpenAI Responses: input_text, then input_image by URL and as a data URL", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(openAi.textTurn(false))
      yield* ask(openAi.layer(server.url), withImages)
      const body = server.received[0]!.body as { input: Array<{ role: string; content: Array<unknown> }> }
      const user = body.input.find((m) => m.role === "user")!
      expect(user.content).toEqual([
        { type: "input_text", text: "What is in these pictures?" },
        expect.objectContaining({ type: "input_image", image_url: "https://example.com/cat.png" }),
        expect.objectContaining({ type: "input_image", image_url: `data:image/png;base64,${PNG}` })
      ])
    }))

  it.scoped("Anthropic Messages: a text block, then image blocks by URL and as base64", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(anthropic.textTurn(false))
      yield* ask(anthropic.layer(server.url), {
        ...withImages,
        parts: [...withImages.parts!, { _tag: "file", data: PDF, mediaType: "application/pdf", name: "a.pdf" }]
      })
      const body = server.received[0]!.body as { messages: Array<{ role: string; content: Array<unknown> }> }
      const content = body.messages[0]!.content
      expect(content[0]).toMatchObject({ type: "text", text: "What is in these pictures?" })
      expect(content[1]).toMatchObject({ type: "image", source: { type: "url", url: "https://example.com/cat.png" } })
      expect(content[2]).toMatchObject({
        type: "image",
        source: { type: "base64", media_type: "image/png", data: PNG }
      })
      expect(content[3]).toMatchObject({
        type: "document",
        source: { type: "base64", media_type: "application/pdf", data: PDF }
      })
    }))

  it.scoped("chat completions: content parts with image_url; a file part is refused before any call", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(chat.textTurn(false))
      yield* ask(chat.layer(server.url), withImages)
      const body = server.received[0]!.body as { messages: Array<{ role: string; content: unknown }> }
      expect(body.messages[0]!.content).toEqual([
        { type: "text", text: "What is in these pictures?" },
        { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
        { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } }
      ])
      const refused = yield* Effect.flip(
        ask(chat.layer(server.url), {
          _tag: "user",
          content: "Summarise",
          parts: [{ _tag: "file", data: PDF, mediaType: "application/pdf" }]
        })
      )
      expect(refused).toMatchObject({ _tag: "ModelError", reason: "request" })
      expect((refused as { message: string }).message).toContain(
        "messages[0].parts[0] is a file (application/pdf): chat completions take text and images only"
      )
      expect(server.received).toHaveLength(1)
    }))

  it.scoped("a run with an image part records it with the message; a bad part fails naming it", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(chat.textTurn(false))
      const agent = yield* Agent.make({ name: "vision", instructions: "" })
      const layer = Layer.merge(chat.layer(server.url), Recorder.memory)
      const result = yield* agent.run([withImages]).pipe(Effect.provide(layer))
      expect(result.status).toBe("success")
      const bad = yield* Effect.flip(
        agent.run([{
          _tag: "user",
          content: "x",
          parts: [{ _tag: "image", data: "not base64!", mediaType: "image/png" }]
        }])
          .pipe(Effect.provide(layer))
      )
      expect(bad).toMatchObject({ _tag: "InvalidRunOptions", field: "input[0].parts[0].data" })
      const big = yield* Effect.flip(
        agent.run([{
          _tag: "user",
          content: "x",
          parts: [{ _tag: "image", data: "A".repeat(8 * 1024 * 1024), mediaType: "image/png" }]
        }]).pipe(Effect.provide(layer))
      )
      expect(big.message).toContain("more than 5242880: pass a URL instead")
      const badUrl = yield* Effect.flip(
        agent.run([{ _tag: "user", content: "x", parts: [{ _tag: "image", url: "file:///etc/passwd" }] }]).pipe(
          Effect.provide(layer)
        )
      )
      expect(badUrl).toMatchObject({ field: "input[0].parts[0].url" })
    }))
})
