import { describe, expect, it } from "@effect/vitest"
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import { Agent, type HookEvent, MemoryRecorder, Notifiers, Recorder, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { GenAiAttributes as A, OpenTelemetryNotifier } from "../src/index.js"
import { context, ev, timeTool, weatherTool } from "./fixtures.js"

const setup = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, tracer: provider.getTracer("test") }
}

const ms = (t: readonly [number, number]) => t[0] * 1000 + Math.round(t[1] / 1e6)

const twoToolScript: ReadonlyArray<ScriptedModel.ScriptStep> = [
  {
    toolCalls: [
      { id: "p1", name: "get_weather", arguments: { city: "Lisbon" } },
      { id: "p2", name: "get_time", arguments: { tz: "Mars/Olympus" } }
    ],
    usage: { inputTokens: 40, outputTokens: 12, cacheReadTokens: 30, cacheWriteTokens: 6, reasoningTokens: 4 },
    model: "scripted-2025"
  },
  { text: "21 °C; the time on Mars is unknown.", usage: { inputTokens: 60, outputTokens: 9 } }
]

/** Runs the agent under a host span with the OTel notifier; returns spans and recorded events. */
const runUnderHost = (
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  options: { readonly captureContent?: boolean } = {}
) =>
  Effect.gen(function*() {
    const { exporter, tracer } = setup()
    const host = tracer.startSpan("http.request")
    const traceContext = trace.setSpan(ROOT_CONTEXT, host)
    const otel = OpenTelemetryNotifier.make({ tracer, ...options })
    const agent = yield* Agent.make({
      name: "weather",
      instructions: "secret system prompt",
      tools: [weatherTool, timeTool]
    })
    const { events, result } = yield* Effect.gen(function*() {
      const result = yield* agent.run("What is the weather?", { runId: "run-otel", traceContext })
      return { result, events: yield* (yield* MemoryRecorder).events() }
    }).pipe(Effect.provide(Layer.mergeAll(ScriptedModel.layer(script), Recorder.memory, Notifiers.layer([otel]))))
    host.end()
    return { spans: exporter.getFinishedSpans(), host, events, result }
  })

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string) => {
  const found = spans.filter((s) => s.name === name)
  expect(found, name).toHaveLength(1)
  return found[0]!
}

const contentKeys = [
  A.INPUT_MESSAGES,
  A.OUTPUT_MESSAGES,
  A.SYSTEM_INSTRUCTIONS,
  A.TOOL_DEFINITIONS,
  A.TOOL_CALL_ARGUMENTS,
  A.TOOL_CALL_RESULT
]

describe("OpenTelemetryNotifier", () => {
  it.live("the span tree of a two-tool run under a host span: names, kinds, parents, attributes, recorded times", () =>
    Effect.gen(function*() {
      const { events, host, spans } = yield* runUnderHost(twoToolScript)
      const agent = byName(spans, "invoke_agent weather")
      const chats = spans.filter((s) => s.name === "chat scripted")
      const weather = byName(spans, "execute_tool get_weather")
      const time = byName(spans, "execute_tool get_time")
      expect(spans).toHaveLength(6) // host + agent + 2 chats + 2 tools
      expect(chats).toHaveLength(2)

      expect(agent.kind).toBe(SpanKind.INTERNAL)
      expect(chats.map((c) => c.kind)).toEqual([SpanKind.CLIENT, SpanKind.CLIENT])
      expect([weather.kind, time.kind]).toEqual([SpanKind.INTERNAL, SpanKind.INTERNAL])

      const hostId = host.spanContext().spanId
      expect(agent.parentSpanContext?.spanId).toBe(hostId)
      for (const child of [...chats, weather, time]) {
        expect(child.parentSpanContext?.spanId).toBe(agent.spanContext().spanId)
        expect(child.spanContext().traceId).toBe(host.spanContext().traceId)
      }

      expect(agent.attributes).toMatchObject({
        [A.OPERATION_NAME]: "invoke_agent",
        [A.PROVIDER_NAME]: "scripted",
        [A.AGENT_NAME]: "weather",
        [A.CONVERSATION_ID]: "run-otel",
        [A.REQUEST_MODEL]: "scripted",
        [A.USAGE_INPUT_TOKENS]: 100,
        [A.USAGE_OUTPUT_TOKENS]: 21
      })
      expect(agent.status.code).toBe(SpanStatusCode.UNSET)
      expect(chats[0]!.attributes).toMatchObject({
        [A.OPERATION_NAME]: "chat",
        [A.PROVIDER_NAME]: "scripted",
        [A.REQUEST_MODEL]: "scripted",
        [A.RESPONSE_MODEL]: "scripted-2025",
        [A.RESPONSE_FINISH_REASONS]: ["tool_calls"],
        [A.USAGE_INPUT_TOKENS]: 40,
        [A.USAGE_OUTPUT_TOKENS]: 12,
        [A.USAGE_CACHE_READ_INPUT_TOKENS]: 30,
        [A.USAGE_CACHE_CREATION_INPUT_TOKENS]: 6,
        [A.USAGE_REASONING_OUTPUT_TOKENS]: 4,
        [A.CONVERSATION_ID]: "run-otel"
      })
      expect(weather.attributes).toMatchObject({
        [A.OPERATION_NAME]: "execute_tool",
        [A.TOOL_NAME]: "get_weather",
        [A.TOOL_CALL_ID]: "p1",
        [A.TOOL_TYPE]: "extension"
      })
      expect(weather.status.code).toBe(SpanStatusCode.UNSET)
      // The failing tool: ERROR with its message and an error.type.
      expect(time.status).toMatchObject({ code: SpanStatusCode.ERROR })
      expect(time.status.message).toContain("unknown timezone")
      expect(time.attributes[A.ERROR_TYPE]).toBe("tool_error")

      // Start and end times are the recorded event times.
      const at = (tag: HookEvent.HookEvent["_tag"], correlationId?: string) =>
        events.find((e) =>
          e._tag === tag && (correlationId === undefined || ("correlationId" in e && e.correlationId === correlationId))
        )!.timestamp
      expect(ms(agent.startTime)).toBe(at("RunStarted"))
      expect(ms(agent.endTime)).toBe(at("RunCompleted"))
      const toolStarted = events.filter((e): e is HookEvent.ToolCallStarted => e._tag === "ToolCallStarted")
      const weatherCall = toolStarted.find((e) => e.toolName === "get_weather")!.correlationId
      expect(ms(weather.startTime)).toBe(at("ToolCallStarted", weatherCall))
      expect(ms(weather.endTime)).toBe(at("ToolCallCompleted", weatherCall))
      const llm = events.find((e): e is HookEvent.LlmCallStarted => e._tag === "LlmCallStarted")!
      expect(ms(chats[0]!.startTime)).toBe(llm.timestamp)
      expect(ms(chats[0]!.endTime)).toBe(at("LlmCallCompleted", llm.correlationId))

      // Nothing that captureContent would add is there by default.
      for (const span of spans) {
        for (const key of contentKeys) expect(span.attributes[key], `${span.name} ${key}`).toBeUndefined()
      }
      expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("secret system prompt")
      expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain("Lisbon")
    }))

  it.live("captureContent: true adds prompts, answers, tool arguments and results", () =>
    Effect.gen(function*() {
      const { spans } = yield* runUnderHost(twoToolScript, { captureContent: true })
      const agent = byName(spans, "invoke_agent weather")
      const chat = spans.find((s) => s.name === "chat scripted")!
      const weather = byName(spans, "execute_tool get_weather")
      expect(agent.attributes[A.SYSTEM_INSTRUCTIONS]).toBe("secret system prompt")
      expect(String(agent.attributes[A.INPUT_MESSAGES])).toContain("What is the weather?")
      expect(String(agent.attributes[A.OUTPUT_MESSAGES])).toContain("21 °C")
      expect(String(chat.attributes[A.INPUT_MESSAGES])).toContain("What is the weather?")
      expect(String(chat.attributes[A.OUTPUT_MESSAGES])).toContain("get_weather")
      expect(String(chat.attributes[A.TOOL_DEFINITIONS])).toContain("get_time")
      expect(JSON.parse(String(weather.attributes[A.TOOL_CALL_ARGUMENTS]))).toEqual({ city: "Lisbon" })
      expect(JSON.parse(String(weather.attributes[A.TOOL_CALL_RESULT]))).toEqual({ city: "Lisbon", tempC: 21 })
    }))

  it.live("a failed run: the run span and the model call's span end in ERROR with error.type", () =>
    Effect.gen(function*() {
      const { result, spans } = yield* runUnderHost([{ fail: "upstream 500" }])
      expect(result.status).toBe("error")
      const agent = byName(spans, "invoke_agent weather")
      const chat = byName(spans, "chat scripted")
      expect(agent.status).toMatchObject({ code: SpanStatusCode.ERROR, message: "upstream 500" })
      expect(agent.attributes).toMatchObject({ [A.ERROR_TYPE]: "ModelError", [A.SEXTANT_FAILURE_REASON]: "model" })
      expect(chat.status).toMatchObject({ code: SpanStatusCode.ERROR })
      expect(chat.attributes[A.ERROR_TYPE]).toBe("ModelError")
    }))

  it.effect("spans still open when a run ends are closed with ERROR at the run's end time", () =>
    Effect.gen(function*() {
      const { exporter, tracer } = setup()
      const otel = OpenTelemetryNotifier.make({ tracer })
      const r = "run-orphans"
      for (
        const e of [
          ev.runStarted(r, 0, 1000),
          ev.llmStarted(r, 1, 1100, "llm-1"),
          ev.toolStarted(r, 2, 1200, "deploy", "tool-1"),
          ev.failed(r, 3, 1500)
        ]
      ) yield* otel.handle(e, context())
      const spans = exporter.getFinishedSpans()
      expect(spans.map((s) => s.name).sort()).toEqual(["chat gpt-test", "execute_tool deploy", "invoke_agent ops"])
      for (const s of spans) {
        expect(s.status.code, s.name).toBe(SpanStatusCode.ERROR)
        expect(ms(s.endTime), s.name).toBe(1500)
      }
      const orphan = spans.find((s) => s.name === "execute_tool deploy")!
      expect(orphan.attributes[A.SEXTANT_ORPHAN_CLOSE_REASON]).toContain("run.failed")
      // Without a captured context the run span is a root.
      expect(spans.find((s) => s.name === "invoke_agent ops")!.parentSpanContext).toBeUndefined()
    }))

  it.effect("governance events become span events on the run span; their content only with captureContent", () =>
    Effect.gen(function*() {
      for (const capture of [false, true]) {
        const { exporter, tracer } = setup()
        const otel = OpenTelemetryNotifier.make({ tracer, captureContent: capture })
        const r = "run-gov"
        for (
          const e of [
            ev.runStarted(r, 0, 1000),
            ev.policyDenied(r, 1, 1010),
            ev.approvalRequested(r, 2, 1020),
            ev.budgetThreshold(r, 3, 1030),
            ev.guardrailDetected(r, 4, 1040),
            ev.paused(r, 5, 1050)
          ]
        ) yield* otel.handle(e, context())
        const [run] = exporter.getFinishedSpans()
        expect(run!.attributes[A.SEXTANT_RUN_STATUS]).toBe("waiting_approval")
        expect(run!.events.map((e) => e.name)).toEqual([
          "sextant.policy.denied",
          "sextant.approval.requested",
          "sextant.budget.threshold",
          "sextant.guardrail.detected"
        ])
        expect(run!.events.map((e) => ms(e.time))).toEqual([1010, 1020, 1030, 1040])
        expect(run!.events[0]!.attributes).toMatchObject({
          "sextant.tool_name": "rm_rf",
          "sextant.reason": "denied by policy"
        })
        expect(run!.events[2]!.attributes).toMatchObject({
          "sextant.fraction": 0.75,
          "sextant.used": 750,
          "sextant.limit": 1000
        })
        const approval = run!.events[1]!.attributes!
        if (capture) expect(approval["sextant.arguments"]).toContain("s3cr3t")
        else expect(approval["sextant.arguments"]).toBeUndefined()
      }
    }))

  it.effect("a resumed run gets a new invoke_agent span linked to its paused segment, same conversation id", () =>
    Effect.gen(function*() {
      const { exporter, tracer } = setup()
      const otel = OpenTelemetryNotifier.make({ tracer })
      const r = "run-resume"
      const resumed: HookEvent.RunResumed = {
        _tag: "RunResumed",
        runId: r,
        sequenceIndex: 3,
        iteration: 1,
        timestamp: 9000,
        agentName: "ops",
        resumedFrom: "waiting_approval",
        submission: { approved: true }
      }
      for (const e of [ev.runStarted(r, 0, 1000), ev.paused(r, 2, 1050), resumed, ev.completed(r, 4, 9500)]) {
        yield* otel.handle(e, context())
      }
      const [first, second] = exporter.getFinishedSpans()
      expect([first!.name, second!.name]).toEqual(["invoke_agent ops", "invoke_agent ops"])
      expect(second!.links.map((l) => l.context.spanId)).toEqual([first!.spanContext().spanId])
      expect(second!.attributes).toMatchObject({
        [A.CONVERSATION_ID]: r,
        [A.PROVIDER_NAME]: "openai",
        [A.SEXTANT_RUN_STATUS]: "success"
      })
      expect(first!.attributes[A.SEXTANT_RUN_STATUS]).toBe("waiting_approval")
      expect([ms(second!.startTime), ms(second!.endTime)]).toEqual([9000, 9500])
    }))

  it.effect("without a tracer it uses the host's global TracerProvider (it never registers one itself)", () =>
    Effect.gen(function*() {
      const before = trace.getTracerProvider()
      const otel = OpenTelemetryNotifier.make()
      expect(trace.getTracerProvider()).toBe(before)
      const exporter = new InMemorySpanExporter()
      // The host registers its provider after the notifier was made; the notifier still follows it.
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
      for (const e of [ev.runStarted("run-global", 0, 1000), ev.completed("run-global", 1, 1200)]) {
        yield* otel.handle(e, context())
      }
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(["invoke_agent ops"])
    }))

  it.live("records gen_ai.client.token.usage and gen_ai.client.operation.duration through the given meter", () =>
    Effect.gen(function*() {
      class Reader extends MetricReader {
        constructor() {
          super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
        }
        protected override onForceFlush() {
          return Promise.resolve()
        }
        protected override onShutdown() {
          return Promise.resolve()
        }
      }
      const reader = new Reader()
      const meter = new MeterProvider({ readers: [reader] }).getMeter("test")
      const otel = OpenTelemetryNotifier.make({ tracer: setup().tracer, metrics: meter })
      const r = "run-metrics"
      for (
        const e of [
          ev.runStarted(r, 0, 1000),
          ev.llmStarted(r, 1, 1000, "llm-2"),
          ev.llmCompleted(r, 2, 1100, { inputTokens: 70, outputTokens: 30 }, "llm-2"),
          ev.completed(r, 3, 1200)
        ]
      ) yield* otel.handle(e, context())
      const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
      const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
      const tokens = metrics.find((m) => m.descriptor.name === A.METRIC_TOKEN_USAGE)!
      const duration = metrics.find((m) => m.descriptor.name === A.METRIC_OPERATION_DURATION)!
      const sums = Object.fromEntries(
        tokens.dataPoints.map((p) => [p.attributes[A.TOKEN_TYPE], (p.value as { sum: number }).sum])
      )
      expect(sums).toEqual({ input: 70, output: 30 })
      expect(tokens.dataPoints[0]!.attributes).toMatchObject({
        [A.PROVIDER_NAME]: "openai",
        [A.REQUEST_MODEL]: "gpt-test"
      })
      expect((duration.dataPoints[0]!.value as { sum: number }).sum).toBeCloseTo(0.1)
      expect(duration.descriptor.unit).toBe("s")
    }))
})

describe("OpenTelemetry: a run on a thread", () => {
  it.effect("gen_ai.conversation.id is the thread id on the agent, chat and tool spans (the run id stays sextant's)", () =>
    Effect.gen(function*() {
      const { exporter, tracer } = setup()
      const otel = OpenTelemetryNotifier.make({ tracer })
      const agent = yield* Agent.make({ name: "weather", instructions: "", tools: [weatherTool, timeTool] })
      yield* agent.run("What is the weather?", { runId: "run-thread", threadId: "conversation-7" }).pipe(
        Effect.provide(Layer.mergeAll(ScriptedModel.layer(twoToolScript), Recorder.memory, Notifiers.layer([otel])))
      )
      const spans = exporter.getFinishedSpans()
      expect(spans).toHaveLength(5)
      for (const span of spans) expect(span.attributes[A.CONVERSATION_ID], span.name).toBe("conversation-7")
      expect(byName(spans, "invoke_agent weather").attributes[A.SEXTANT_RUN_ID]).toBe("run-thread")
    }))
  it.effect("a segment resumed in a process that never saw the start names the thread from run.resumed", () =>
    Effect.gen(function*() {
      const { exporter, tracer } = setup()
      // A fresh notifier: this process sees the run from its resume on.
      const otel = OpenTelemetryNotifier.make({ tracer })
      const r = "run-elsewhere"
      const resumed: HookEvent.RunResumed = {
        _tag: "RunResumed",
        runId: r,
        sequenceIndex: 6,
        iteration: 1,
        timestamp: 9000,
        agentName: "ops",
        resumedFrom: "waiting_client_tool",
        threadId: "conversation-9",
        submission: []
      }
      for (const e of [resumed, ev.completed(r, 7, 9500)]) yield* otel.handle(e, context())
      const [span] = exporter.getFinishedSpans()
      expect(span!.attributes[A.CONVERSATION_ID]).toBe("conversation-9")
    }))
})
