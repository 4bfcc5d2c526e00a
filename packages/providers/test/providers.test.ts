import { describe, expect, it } from "@effect/vitest"
import { HookEvent, LanguageModel, type ModelRequest, RecorderError } from "@sextant/runtime"
import { Effect, Fiber, Stream, TestClock } from "effect"
import { fakeServer, type Reply } from "./fakeServer.js"
import { drive, eventually, ofTag, pendingSleeps, runAgent, tick, withTestClock } from "./support.js"
import { ANSWER, ANSWER_PIECES, anthropic, API_KEY, CALLS, chat, openAi, wires } from "./wires.js"

const fast = { baseDelay: "1 millis", maxAttempts: 3 } as const

const expectedTypes = [
  "run.started",
  "message.appended",
  "llm.started",
  "llm.completed",
  "message.appended",
  "tool.started",
  "tool.started",
  "tool.completed",
  "tool.completed",
  "message.appended",
  "message.appended",
  "llm.started",
  "llm.completed",
  "message.appended",
  "run.completed"
]

/** A one-message turn with no tools, whose retries are not recorded anywhere. */
const request = (): ModelRequest => ({
  runId: "run-1",
  iteration: 1,
  system: "",
  messages: [{ _tag: "user", content: "hi" }],
  tools: [],
  reportRetry: () => Effect.void
})

/** The token counts of a usage (the kernel adds `costUsd` from its price table when it knows the model). */
const tokens = ({ costUsd: _, ...counts }: HookEvent.Usage) => counts

/** Tool results as the kernel hands them back: JSON text of what each handler returned. */
const toolOutputs = [{ city: "Lisbon", tempC: 21 }, { tz: "Europe/Lisbon", time: "12:00" }]

describe.each(wires)("$name", (wire) => {
  it.scoped("a two-tool run completes with provider ids, usage, finish reasons and the exact payloads", () =>
    Effect.gen(function*() {
      const toolTurn = wire.toolTurn(false)
      const textTurn = wire.textTurn(false)
      const server = yield* fakeServer(toolTurn, textTurn)
      const { events } = yield* runAgent(wire.layer(server.url, fast))

      expect(events.map(HookEvent.eventType).filter((t) => t !== "tool.started" && t !== "tool.completed")).toEqual(
        expectedTypes.filter((t) => t !== "tool.started" && t !== "tool.completed")
      )
      expect(ofTag(events, "ToolCallStarted")).toHaveLength(2)
      const run = ofTag(events, "RunCompleted")[0]!
      expect(run.status).toBe("success")
      expect(run.answer).toBe(ANSWER)

      const [first, second] = ofTag(events, "LlmCallCompleted")
      expect(first!.provider).toBe(wire.provider)
      expect(first!.toolCalls.map((c) => [c.providerCallId, c.name, c.arguments])).toEqual(
        CALLS.map((c, i) => [wire.callIds[i], c.name, c.args])
      )
      expect(ofTag(events, "ToolCallStarted").map((e) => e.providerCallId).sort()).toEqual([...wire.callIds].sort())
      expect(tokens(first!.usage!)).toStrictEqual(wire.usage[0])
      expect(tokens(second!.usage!)).toStrictEqual(wire.usage[1])
      expect([first!.finishReason, second!.finishReason]).toEqual(wire.finishReasons)
      expect([first!.responseModel, second!.responseModel]).toEqual([wire.responseModel, wire.responseModel])
      expect([first!.responseId, second!.responseId]).toEqual(wire.responseIds)
      expect(second!.text).toBe(ANSWER)

      // The exact bodies: what the server received and what it sent.
      expect(server.received.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${wire.path}`, `POST ${wire.path}`])
      expect(first!.providerRequest).toEqual(server.received[0]!.body)
      expect(second!.providerRequest).toEqual(server.received[1]!.body)
      expect(first!.providerResponse).toEqual((toolTurn as { json: unknown }).json)
      expect(second!.providerResponse).toEqual((textTurn as { json: unknown }).json)

      // Tools were described with the tools' JSON Schemas; results went back under the vendor's call ids.
      const kernelTools =
        (first!.request as { tools: Array<{ name: string; description: string; parameters: unknown }> }).tools
      expect(wire.tools(server.received[0]!.body)).toEqual(kernelTools)
      const results = wire.toolResults(server.received[1]!.body)
      expect(results.map((r) => r.id)).toEqual([...wire.callIds])
      expect(results.map((r) => JSON.parse(r.output))).toEqual(toolOutputs)

      // The key was sent, and never recorded.
      expect(wire.keyOf(server.received[0]!.headers)).toBe(API_KEY)
      expect(JSON.stringify(events)).not.toContain(API_KEY)
    }))

  it.scoped("streaming yields tool-argument and text deltas in order and records the streamed events", () =>
    Effect.gen(function*() {
      const toolTurn = wire.toolTurn(true) as Extract<Reply, { sse: unknown }>
      const textTurn = wire.textTurn(true) as Extract<Reply, { sse: unknown }>
      const server = yield* fakeServer(toolTurn, textTurn)
      const { deltas, events, streamed } = yield* runAgent(wire.layer(server.url, fast), { stream: true })

      const args = deltas.filter((d) => d._tag === "ToolArgumentsDelta")
      expect(args.every((d) => d.iteration === 1)).toBe(true)
      CALLS.forEach((call, index) => {
        const mine = args.filter((d) => d.index === index)
        expect(mine[0]!.toolName).toBe(call.name)
        expect(JSON.parse(mine.map((d) => d.delta).join(""))).toEqual(call.args)
      })
      const text = deltas.filter((d) => d._tag === "TextDelta")
      expect(text.map((d) => d.delta)).toEqual([...ANSWER_PIECES])
      expect(text.every((d) => d.iteration === 2)).toBe(true)

      // Deltas come before the llm.completed of their call.
      const completedAt = streamed.findIndex((e) => e._tag === "LlmCallCompleted" && e.iteration === 2)
      expect(streamed.findIndex((e) => e._tag === "TextDelta")).toBeLessThan(completedAt)

      const [first, second] = ofTag(events, "LlmCallCompleted")
      expect(first!.toolCalls.map((c) => c.providerCallId)).toEqual([...wire.callIds])
      expect(tokens(first!.usage!)).toStrictEqual(wire.usage[0])
      expect(tokens(second!.usage!)).toStrictEqual(wire.usage[1])
      expect(second!.text).toBe(ANSWER)
      expect([first!.finishReason, second!.finishReason]).toEqual(wire.finishReasons)
      expect(second!.responseModel).toBe(wire.responseModel)
      expect(first!.providerRequest).toEqual(server.received[0]!.body)
      expect((server.received[0]!.body as { stream?: unknown }).stream).toBe(true)
      expect(first!.providerResponse).toEqual(toolTurn.sse.map((e) => e.data))
      expect(second!.providerResponse).toEqual(textTurn.sse.map((e) => e.data))
      expect(ofTag(events, "RunCompleted")[0]!.answer).toBe(ANSWER)
      expect(JSON.stringify(streamed)).not.toContain(API_KEY)
    }))

  it.scoped("a streamed call retries a 429 before its first byte, then streams", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(
        { status: 429, headers: { "retry-after": "1" }, json: wire.errorJson("Rate limit reached") },
        wire.toolTurn(true),
        wire.textTurn(true)
      )
      const { deltas, events } = yield* withTestClock(runAgent(wire.layer(server.url, fast), { stream: true }))

      expect(ofTag(events, "ProviderRetry").map((r) => [r.statusCode, r.retryAfterMs])).toEqual([[429, 1000]])
      expect(deltas.filter((d) => d._tag === "TextDelta").map((d) => d.delta)).toEqual([...ANSWER_PIECES])
      expect(ofTag(events, "RunCompleted")[0]!.answer).toBe(ANSWER)
    }))

  it.scoped("a stream cut off before its final event ends the run with a malformed-response error", () =>
    Effect.gen(function*() {
      const full = wire.toolTurn(true) as Extract<Reply, { sse: unknown }>
      const server = yield* fakeServer({ sse: full.sse.slice(0, 2) })
      const { events } = yield* runAgent(wire.layer(server.url, fast), { stream: true })

      expect(ofTag(events, "LlmCallCompleted")).toHaveLength(0)
      const run = ofTag(events, "RunFailed")[0]!
      expect(run.error.message).toContain("malformed response: the stream ended before")
      expect(ofTag(events, "ToolCallStarted")).toHaveLength(0)
    }))

  it.scoped("a 429 waits out Retry-After, is recorded as provider.retry, then succeeds", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(
        { status: 429, headers: { "retry-after": "2" }, json: wire.errorJson("Rate limit reached for requests") },
        wire.toolTurn(false),
        wire.textTurn(false)
      )
      const fiber = yield* Effect.fork(runAgent(wire.layer(server.url)))
      yield* eventually(Effect.map(pendingSleeps, (sleeps) => sleeps.includes(2000)))
      yield* tick(20)
      expect(server.received).toHaveLength(1) // nothing is re-sent before Retry-After has passed
      yield* TestClock.adjust("1999 millis")
      yield* tick(20)
      expect(server.received).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      const { events } = yield* Fiber.join(fiber)

      expect(server.received).toHaveLength(3)
      const [retry] = ofTag(events, "ProviderRetry")
      expect(retry).toMatchObject({
        provider: wire.provider,
        attempt: 1,
        statusCode: 429,
        retryAfterMs: 2000,
        endpoint: wire.path.split("?")[0],
        iteration: 1
      })
      expect(retry!.reason).toContain("Rate limit reached for requests")
      const started = ofTag(events, "LlmCallStarted")[0]!
      expect(retry!.correlationId).toBe(started.correlationId)
      const types = events.map(HookEvent.eventType)
      expect(types.slice(2, 5)).toEqual(["llm.started", "provider.retry", "llm.completed"])
      expect(ofTag(events, "RunCompleted")[0]!.status).toBe("success")
    }))

  it.scoped("a 500 on every attempt exhausts the bounded retries and ends the run with error", () =>
    Effect.gen(function*() {
      const fail: Reply = { status: 500, json: wire.errorJson("The server had an error processing your request") }
      const server = yield* fakeServer(fail, fail, fail, fail)
      const { events } = yield* withTestClock(runAgent(wire.layer(server.url, fast)))

      expect(server.received).toHaveLength(3)
      expect(ofTag(events, "ProviderRetry").map((r) => [r.attempt, r.statusCode])).toEqual([[1, 500], [2, 500]])
      const failed = ofTag(events, "LlmCallFailed")[0]!
      expect(failed.error.tag).toBe("ModelError")
      expect(failed.error.message).toContain("The server had an error processing your request")
      expect(failed.error.message).toContain("after 3 attempts")
      const run = ofTag(events, "RunFailed")[0]!
      expect(run.failureReason).toBe("model")
      expect(run.error.message).toContain("HTTP 500")
    }))

  it.scoped("a 401 is not retried: the run ends with error carrying the vendor's message", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({
        status: 401,
        json: wire.errorJson("Incorrect API key provided: sk-te****6789")
      })
      const { events } = yield* runAgent(wire.layer(server.url, fast))

      expect(server.received).toHaveLength(1)
      expect(ofTag(events, "ProviderRetry")).toHaveLength(0)
      const run = ofTag(events, "RunFailed")[0]!
      expect(run.error.message).toBe(`${wire.provider} HTTP 401: Incorrect API key provided: sk-te****6789`)
      expect(events.map(HookEvent.eventType).at(-1)).toBe("run.failed")
      expect(JSON.stringify(events)).not.toContain(API_KEY)
    }))

  it.scoped("a key the vendor echoes in an error body is recorded as [redacted]", () =>
    Effect.gen(function*() {
      const echo: Reply = { status: 503, json: wire.errorJson(`upstream rejected key ${API_KEY}`) }
      const server = yield* fakeServer(echo, {
        status: 401,
        json: wire.errorJson(`Incorrect API key provided: ${API_KEY}`)
      })
      const { events } = yield* withTestClock(runAgent(wire.layer(server.url, fast)))

      expect(ofTag(events, "ProviderRetry")[0]!.reason).toBe("HTTP 503: upstream rejected key [redacted]")
      expect(ofTag(events, "RunFailed")[0]!.error.message).toBe(
        `${wire.provider} HTTP 401: Incorrect API key provided: [redacted] (after 2 attempts)`
      )
      expect(JSON.stringify(events)).not.toContain(API_KEY)
    }))

  it.scoped("a malformed body ends the run with a malformed-response error, not retried", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({
        status: 200,
        headers: { "content-type": "application/json" },
        text: "{\"id\": \"x\", \"outp"
      })
      const { events } = yield* runAgent(wire.layer(server.url, fast))

      expect(server.received).toHaveLength(1)
      const run = ofTag(events, "RunFailed")[0]!
      expect(run.error.tag).toBe("ModelError")
      expect(run.error.message).toContain("malformed response")
    }))

  it.scoped("a dropped connection is retried and recorded without a status code", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({ drop: true }, wire.toolTurn(false), wire.textTurn(false))
      const { events } = yield* withTestClock(runAgent(wire.layer(server.url, fast)))

      const [retry] = ofTag(events, "ProviderRetry")
      expect(retry!.statusCode).toBeUndefined()
      expect(retry!.reason).toMatch(/^connection error/)
      expect(ofTag(events, "RunCompleted")[0]!.answer).toBe(ANSWER)
    }))

  it.scoped("an attempt that gets no response times out and is retried", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({ hang: true }, wire.toolTurn(false), wire.textTurn(false))
      const fiber = yield* Effect.fork(runAgent(wire.layer(server.url, { ...fast, attemptTimeout: "5 seconds" })))
      yield* eventually(Effect.sync(() => server.received.length === 1))
      yield* eventually(Effect.map(pendingSleeps, (sleeps) => sleeps.includes(5000)))
      yield* TestClock.adjust("5 seconds")
      const { events } = yield* drive(fiber)

      const [retry] = ofTag(events, "ProviderRetry")
      expect(retry!.statusCode).toBeUndefined()
      expect(retry!.reason).toContain("no response within 5000 ms")
      expect(server.received).toHaveLength(3)
      expect(ofTag(events, "RunCompleted")[0]!.answer).toBe(ANSWER)
    }))

  it.scoped("a stream that stalls past the attempt timeout fails the call as a transport error", () =>
    Effect.gen(function*() {
      const { sse } = wire.textTurn(true) as Extract<Reply, { sse: unknown }>
      const upToFirstDelta = sse.slice(0, sse.findIndex((e) => JSON.stringify(e.data).includes(ANSWER_PIECES[0])) + 1)
      const server = yield* fakeServer({ sse: upToFirstDelta, hold: true })
      const model = yield* Effect.provide(
        LanguageModel,
        wire.layer(server.url, { ...fast, attemptTimeout: "5 seconds" })
      )
      const parts: Array<unknown> = []
      const fiber = yield* Effect.fork(
        Stream.runForEach(model.stream(request()), (part) => Effect.sync(() => parts.push(part)))
      )
      yield* eventually(Effect.sync(() => parts.length > 0))
      yield* eventually(Effect.map(pendingSleeps, (sleeps) => sleeps.includes(5000)))
      yield* TestClock.adjust("5 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))

      expect(parts).toEqual([{ _tag: "TextDelta", delta: ANSWER_PIECES[0] }])
      expect(error).toMatchObject({ _tag: "ModelError", reason: "transport" })
      expect(error.message).toContain("the response body stalled for 5000 ms")
    }))

  it.scoped("a provider.retry that cannot be recorded stops the call with the RecorderError", () =>
    Effect.gen(function*() {
      const overloaded: Reply = { status: 503, json: wire.errorJson("overloaded") }
      const server = yield* fakeServer(overloaded, overloaded)
      const model = yield* Effect.provide(LanguageModel, wire.layer(server.url, fast))
      const failing = new RecorderError({
        operation: "record",
        eventType: "provider.retry",
        runId: "run-1",
        attempts: 3,
        reason: "transient",
        message: "database is locked"
      })
      const failingRequest = { ...request(), reportRetry: () => Effect.fail(failing) }
      const recorded = { _tag: "RecorderError", eventType: "provider.retry", message: "database is locked" }
      expect(yield* Effect.flip(model.generate(failingRequest))).toMatchObject(recorded)
      expect(server.received).toHaveLength(1)
      expect(yield* Effect.flip(Stream.runDrain(model.stream(failingRequest)))).toMatchObject(recorded)
      expect(server.received).toHaveLength(2)
    }))
})

describe("Anthropic reserved tool names", () => {
  it.scoped("a tool named like a built-in tool fails the call before sending, asking to rename it", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(anthropic.textTurn(false))
      const model = yield* Effect.provide(LanguageModel, anthropic.layer(server.url, fast))
      const tool = { name: "web_search", description: "Search the web", parameters: { type: "object" } }
      const error = yield* Effect.flip(model.generate({ ...request(), tools: [tool] }))

      expect(error).toMatchObject({ _tag: "ModelError", reason: "request" })
      expect(error.message).toContain("'web_search' are reserved")
      expect(yield* Effect.flip(Stream.runDrain(model.stream({ ...request(), tools: [tool] })))).toMatchObject({
        reason: "request"
      })
      expect(server.received).toHaveLength(0)
    }))
})

/** A reply with every `usage` field removed, as a vendor that reports no token counts sends it. */
const withoutUsage = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(withoutUsage)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(Object.entries(value).filter(([k]) => k !== "usage").map(([k, v]) => [k, withoutUsage(v)]))
    : value

// Anthropic's Messages API always sends `usage` (its client's wire schema requires it), so only the two wires
// where a vendor or a compatible server may leave it out are tried.
describe.each([openAi, chat])("$name without usage", (wire) => {
  it.scoped("a response that reports no token counts has no usage (never invented zeros)", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(withoutUsage(wire.textTurn(false)) as Reply)
      const model = yield* Effect.provide(LanguageModel, wire.layer(server.url, fast))
      const response = yield* model.generate(request())
      expect(response.text).toBe(ANSWER)
      expect(response.usage).toBeUndefined()
    }))

  it.scoped("a stream that reports no token counts ends with no usage", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer(withoutUsage(wire.textTurn(true)) as Reply)
      const model = yield* Effect.provide(LanguageModel, wire.layer(server.url, fast))
      const parts = yield* Stream.runCollect(model.stream(request()))
      const done = [...parts].find((p) => p._tag === "Done")
      expect(done?._tag === "Done" && done.response.text).toBe(ANSWER)
      expect(done?._tag === "Done" ? done.response.usage : "no Done part").toBeUndefined()
    }))
})
