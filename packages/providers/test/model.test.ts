import { describe, expect, it } from "@effect/vitest"
import { LanguageModel } from "@sextant/runtime"
import { ConfigProvider, Effect, Either, Layer } from "effect"
import { Model, ProviderConfigError } from "../src/index.js"
import { fakeServer } from "./fakeServer.js"
import { runAgent } from "./support.js"
import { anthropic, API_KEY, chat, openAi } from "./wires.js"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const buildError = (spec: string, env: Record<string, string>) =>
  Layer.build(Model.fromString(spec)).pipe(Effect.flip, withEnv(env), Effect.scoped)

describe("Model.parse", () => {
  it("reads the three forms", () => {
    expect(Model.parse("openai:gpt-4.1-mini")).toEqual(Either.right({ provider: "openai", model: "gpt-4.1-mini" }))
    expect(Model.parse("anthropic:claude-sonnet-4-5")).toEqual(
      Either.right({ provider: "anthropic", model: "claude-sonnet-4-5" })
    )
    expect(Model.parse("openai-compatible:llama3.1@http://127.0.0.1:11434/v1")).toEqual(
      Either.right({ provider: "openai-compatible", model: "llama3.1", baseUrl: "http://127.0.0.1:11434/v1" })
    )
    expect(Model.parse("openai-compatible:meta/llama@3@https://openrouter.ai/api/v1")).toEqual(
      Either.right({ provider: "openai-compatible", model: "meta/llama@3", baseUrl: "https://openrouter.ai/api/v1" })
    )
  })

  it("rejects what it cannot read, saying why", () => {
    const message = (spec: string) =>
      Either.getLeft(Model.parse(spec)).pipe((o) => o._tag === "Some" ? o.value.message : "")
    expect(message("gpt-4.1-mini")).toContain("must look like")
    expect(message("mistral:large")).toContain("unknown provider 'mistral'")
    expect(message("openai-compatible:llama3.1")).toContain("needs the server's base URL")
    expect(message("openai:")).toContain("must look like")
  })
})

describe("Model.fromString", () => {
  it.effect("a missing key fails when the layer is built, naming the variable", () =>
    Effect.gen(function*() {
      const openAiError = yield* buildError("openai:gpt-4.1-mini", {})
      expect(openAiError).toBeInstanceOf(ProviderConfigError)
      expect(openAiError.setting).toBe("OPENAI_API_KEY")
      expect(openAiError.message).toContain("OPENAI_API_KEY is not set")
      const anthropicError = yield* buildError("anthropic:claude-sonnet-4-5", { ANTHROPIC_API_KEY: "  " })
      expect(anthropicError.setting).toBe("ANTHROPIC_API_KEY")
      const badUrl = yield* buildError("openai:gpt-4.1-mini", {
        OPENAI_API_KEY: API_KEY,
        OPENAI_BASE_URL: "localhost:8080"
      })
      expect(badUrl.setting).toBe("OPENAI_BASE_URL")
      const badString = yield* buildError("nope", {})
      expect(badString.setting).toBe("model")
    }))

  it.scoped("openai: reads OPENAI_API_KEY and OPENAI_BASE_URL and runs the agent", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(openAi.toolTurn(false), openAi.textTurn(false))
      const layer = Layer.fresh(Model.fromString("openai:gpt-4.1-mini"))
      const { events } = yield* runAgent(layer).pipe(
        withEnv({ OPENAI_API_KEY: API_KEY, OPENAI_BASE_URL: `${server.url}/v1` })
      )
      expect(events.at(-1)?._tag).toBe("RunCompleted")
      expect(server.received[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`)
      expect((server.received[0]!.body as { model: string }).model).toBe("gpt-4.1-mini")
    }))

  it.scoped("anthropic: reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(anthropic.textTurn(false))
      const model = yield* Effect.provide(LanguageModel, Model.fromString("anthropic:claude-sonnet-4-5")).pipe(
        withEnv({ ANTHROPIC_API_KEY: API_KEY, ANTHROPIC_BASE_URL: server.url })
      )
      expect([model.provider, model.model]).toEqual(["anthropic", "claude-sonnet-4-5"])
      const response = yield* model.generate({
        runId: "r",
        iteration: 1,
        system: "Be brief.",
        messages: [{ _tag: "user", content: "hi" }],
        tools: [],
        reportRetry: () => Effect.void
      })
      expect(response.usage).toStrictEqual(anthropic.usage[1])
      expect(server.received[0]!.headers["x-api-key"]).toBe(API_KEY)
      expect((server.received[0]!.body as { system: unknown }).system).toEqual([{ type: "text", text: "Be brief." }])
    }))

  it.scoped("openai-compatible: needs no key, sends OPENAI_COMPATIBLE_API_KEY when set", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(chat.textTurn(false), chat.textTurn(false))
      const spec = `openai-compatible:llama3.1@${server.url}/v1`
      const ask = (env: Record<string, string>) =>
        Effect.provide(LanguageModel, Model.fromString(spec)).pipe(
          Effect.flatMap((m) =>
            m.generate({
              runId: "r",
              iteration: 1,
              system: "",
              messages: [{ _tag: "user", content: "hi" }],
              tools: [],
              reportRetry: () => Effect.void
            })
          ),
          withEnv(env)
        )
      expect((yield* ask({})).text).toBe("21 °C at noon in Lisbon.")
      expect(server.received[0]!.headers.authorization).toBeUndefined()
      yield* ask({ OPENAI_COMPATIBLE_API_KEY: API_KEY })
      expect(server.received[1]!.headers.authorization).toBe(`Bearer ${API_KEY}`)
    }))
})
