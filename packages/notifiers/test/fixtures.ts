import { type HookEvent, Notifier, Tool } from "@sextant/runtime"
import { Effect, Schema } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"

/** A weather tool that works and a clock tool that fails when asked for a bad zone. */
export const weatherTool = Tool.make("get_weather", {
  description: "Current weather for a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed({ city, tempC: 21 })
})

export const timeTool = Tool.make("get_time", {
  description: "Current time in a timezone",
  parameters: Schema.Struct({ tz: Schema.String }),
  handler: async ({ tz }) => {
    if (tz === "Mars/Olympus") throw new Error(`unknown timezone ${tz}`)
    return { tz, time: "12:00" }
  }
})

/** A delivery context for calling `handle` directly. */
export const context = (traceContext?: unknown): Notifier.DeliveryContext => ({
  traceContext,
  stats: Effect.succeed([])
})

const base = (runId: string, sequenceIndex: number, timestamp: number, iteration = 1) => ({
  runId,
  sequenceIndex,
  iteration,
  timestamp
})

/** Builders of hand-made events (governance events are not emitted by the loop yet). */
export const ev = {
  runStarted: (runId: string, seq: number, ts: number): HookEvent.RunStarted => ({
    _tag: "RunStarted",
    ...base(runId, seq, ts, 0),
    agentName: "ops",
    instructions: "be careful",
    input: "deploy it",
    model: "gpt-test",
    provider: "openai",
    delegationLevel: 0,
    tools: ["deploy"]
  }),
  llmStarted: (runId: string, seq: number, ts: number, correlationId: string): HookEvent.LlmCallStarted => ({
    _tag: "LlmCallStarted",
    ...base(runId, seq, ts),
    correlationId,
    provider: "openai",
    model: "gpt-test",
    messageCount: 1
  }),
  llmCompleted: (
    runId: string,
    seq: number,
    ts: number,
    usage: HookEvent.Usage,
    correlationId = `llm-${seq}`
  ): HookEvent.LlmCallCompleted => ({
    _tag: "LlmCallCompleted",
    ...base(runId, seq, ts),
    correlationId,
    provider: "openai",
    model: "gpt-test",
    text: "",
    toolCalls: [],
    finishReason: "stop",
    usage,
    durationMs: 100,
    request: { system: "be careful", messages: [] }
  }),
  toolStarted: (
    runId: string,
    seq: number,
    ts: number,
    toolName: string,
    correlationId = `t-${seq}`
  ): HookEvent.ToolCallStarted => ({
    _tag: "ToolCallStarted",
    ...base(runId, seq, ts),
    correlationId,
    toolName,
    target: "server",
    arguments: { env: "prod" }
  }),
  toolCompleted: (
    runId: string,
    seq: number,
    ts: number,
    toolName: string,
    success: boolean,
    correlationId = `t-${seq}`
  ): HookEvent.ToolCallCompleted => ({
    _tag: "ToolCallCompleted",
    ...base(runId, seq, ts),
    correlationId,
    toolName,
    target: "server",
    success,
    result: success ? "ok" : null,
    ...(success ? {} : { error: "connection refused" }),
    durationMs: 5
  }),
  approvalRequested: (
    runId: string,
    seq: number,
    ts: number,
    correlationId = `a-${seq}`
  ): HookEvent.ApprovalRequested => ({
    _tag: "ApprovalRequested",
    ...base(runId, seq, ts),
    correlationId,
    toolName: "deploy",
    arguments: { env: "prod", token: "s3cr3t" }
  }),
  approvalDecided: (runId: string, seq: number, ts: number, approved: boolean): HookEvent.ApprovalDecided => ({
    _tag: "ApprovalDecided",
    ...base(runId, seq, ts),
    approved,
    reason: approved ? "looks fine" : "not today"
  }),
  policyDenied: (runId: string, seq: number, ts: number): HookEvent.PolicyDenied => ({
    _tag: "PolicyDenied",
    ...base(runId, seq, ts),
    correlationId: `d-${seq}`,
    toolName: "rm_rf",
    reason: "denied by policy"
  }),
  budgetThreshold: (runId: string, seq: number, ts: number): HookEvent.BudgetThreshold => ({
    _tag: "BudgetThreshold",
    ...base(runId, seq, ts),
    kind: "tokens",
    fraction: 0.75,
    used: 750,
    limit: 1000
  }),
  budgetExceeded: (runId: string, seq: number, ts: number): HookEvent.BudgetExceeded => ({
    _tag: "BudgetExceeded",
    ...base(runId, seq, ts),
    kind: "cost",
    used: 1.25,
    limit: 1,
    action: "stop"
  }),
  guardrailBlocked: (runId: string, seq: number, ts: number): HookEvent.GuardrailBlocked => ({
    _tag: "GuardrailBlocked",
    ...base(runId, seq, ts),
    guardrail: "pii",
    direction: "input",
    entities: [{ type: "EMAIL", count: 2 }],
    reason: "personal data in the prompt"
  }),
  guardrailDetected: (runId: string, seq: number, ts: number): HookEvent.GuardrailDetected => ({
    _tag: "GuardrailDetected",
    ...base(runId, seq, ts),
    guardrail: "secrets",
    direction: "output",
    action: "redact",
    entities: [{ type: "API_KEY", count: 1 }]
  }),
  paused: (runId: string, seq: number, ts: number): HookEvent.RunPaused => ({
    _tag: "RunPaused",
    ...base(runId, seq, ts),
    status: "waiting_approval",
    pendingCalls: [{ id: "a-1", name: "deploy", arguments: { env: "prod" }, target: "server" }]
  }),
  completed: (
    runId: string,
    seq: number,
    ts: number,
    usage: HookEvent.Usage = { inputTokens: 10, outputTokens: 5 }
  ): HookEvent.RunCompleted => ({
    _tag: "RunCompleted",
    ...base(runId, seq, ts),
    status: "success",
    answer: "done",
    iterations: 1,
    usage
  }),
  failed: (runId: string, seq: number, ts: number): HookEvent.RunFailed => ({
    _tag: "RunFailed",
    ...base(runId, seq, ts),
    error: { tag: "ModelError", message: "upstream exploded" },
    failureReason: "model",
    iterations: 2,
    usage: { inputTokens: 120, outputTokens: 30, costUsd: 0.0042 }
  })
}

/** A request a loopback server received. */
export interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** What the loopback server answers, in order (the last answer repeats). */
export interface Reply {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

/** A real HTTP server on 127.0.0.1, scoped: records requests and answers from a script. */
export const loopback = (replies: ReadonlyArray<Reply>) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly url: string
      readonly received: Array<Received>
      readonly waitFor: (n: number) => Effect.Effect<void>
      readonly close: () => Promise<void>
    }>((resume) => {
      const received: Array<Received> = []
      const waiters: Array<{ readonly n: number; readonly done: () => void }> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
          const reply = replies[Math.min(received.length, replies.length) - 1]!
          res.writeHead(reply.status, reply.headers ?? {})
          res.end(reply.body ?? "")
          for (const w of waiters.filter((w) => received.length >= w.n)) w.done()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({
          url: `http://127.0.0.1:${port}/hook`,
          received,
          waitFor: (n) =>
            Effect.promise(() =>
              received.length >= n ? Promise.resolve() : new Promise<void>((done) => waiters.push({ n, done }))
            ),
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done())
              server.closeAllConnections()
            })
        }))
      })
    }),
    (server) => Effect.promise(() => server.close())
  )

/** Lets real I/O (sockets) make progress while the TestClock stands still. */
export const realPause = (ms = 50) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
