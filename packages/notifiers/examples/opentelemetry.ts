/**
 * OpenTelemetry spans of a run under a host span, printed as a tree. The host owns the provider (here an
 * in-memory one); the notifier only uses `@opentelemetry/api`. Run:
 *   node --conditions=@sextant/source --import tsx packages/notifiers/examples/opentelemetry.ts
 */
import { ROOT_CONTEXT, trace } from "@opentelemetry/api"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { OpenTelemetryNotifier } from "@sextant/notifiers"
import { Agent, AgentRuntime, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Layer, Schema } from "effect"

const exporter = new InMemorySpanExporter()
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("host")

const lookup = Tool.make("lookup", {
  description: "Looks up an order",
  parameters: Schema.Struct({ id: Schema.String }),
  handler: ({ id }) => (id === "missing" ? Promise.reject(new Error("no such order")) : { id, status: "shipped" })
})
const model = ScriptedModel.layer([
  { toolCalls: [{ name: "lookup", arguments: { id: "A-1" } }, { name: "lookup", arguments: { id: "missing" } }] },
  { text: "A-1 has shipped; the other order does not exist.", usage: { inputTokens: 90, outputTokens: 14 } }
])

const runtime = AgentRuntime.make(Layer.merge(model, Recorder.memory), {
  notifiers: [OpenTelemetryNotifier.make({ tracer })]
})
const agent = Agent.makeSync({ name: "orders", instructions: "Answer order questions.", tools: [lookup] })

// The host's request span; the run's spans become its children.
const request = tracer.startSpan("POST /chat")
await runtime.run(agent, "Where are my orders?", { traceContext: trace.setSpan(ROOT_CONTEXT, request) })
request.end()
await runtime.dispose()

const spans = exporter.getFinishedSpans()
const print = (parentId: string | undefined, depth: number) => {
  for (const s of spans.filter((x) => x.parentSpanContext?.spanId === parentId)) {
    const status = s.status.code === 2 ? `  ERROR ${s.status.message ?? ""}` : ""
    const attrs = Object.entries(s.attributes)
      .filter(([k]) => k.startsWith("gen_ai."))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    console.log(`${"  ".repeat(depth)}${s.name}${status}\n${"  ".repeat(depth + 2)}${attrs.join(" ")}`)
    print(s.spanContext().spanId, depth + 1)
  }
}
print(undefined, 0)
