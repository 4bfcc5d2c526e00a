/**
 * Per-call overhead of each provider client: one `generate` against a loopback server that answers with a
 * minimal valid response, against a bare `fetch` POST of the same request body (same headers) to the same
 * server, reading the same response as JSON. Both sides share the process, the server and keep-alive
 * connections, so the difference is the client: building the vendor body (`@effect/ai` for OpenAI and
 * Anthropic), the instrumented HttpClient (capture, retry bookkeeping, response re-wrap), decoding and
 * mapping the answer.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { LanguageModel, type ModelRequest } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { startClocks, type Stats, stats } from "../../../bench/measure.js"
import type { BenchSection, Figure } from "../../../bench/section.js"
import { Anthropic, OpenAi, OpenAiCompatible, type ProviderConfigError } from "../src/index.js"

const CALLS = Number(process.env.BENCH_CALLS ?? 400)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const WARMUP = 200
const BATCH = 20
const KEY = "sk-bench"

const responses: Record<string, unknown> = {
  "/v1/responses": {
    id: "resp_1",
    object: "response",
    created_at: 1767225600,
    status: "completed",
    error: null,
    incomplete_details: null,
    instructions: null,
    model: "gpt-4.1-mini",
    parallel_tool_calls: true,
    tools: [],
    tool_choice: "auto",
    metadata: {},
    temperature: 1,
    top_p: 1,
    output: [{
      type: "message",
      id: "msg_1",
      role: "assistant",
      status: "completed",
      content: [{ type: "output_text", text: "ok", annotations: [] }]
    }],
    usage: {
      input_tokens: 5,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 1,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 6
    }
  },
  "/v1/messages": {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5",
    content: [{ type: "text", text: "ok" }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 1 }
  },
  "/v1/chat/completions": {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1767225600,
    model: "llama3.1",
    choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
    usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 }
  }
}
const bodies = Object.fromEntries(Object.entries(responses).map(([path, json]) => [path, JSON.stringify(json)]))

/** Captures the last request (body and headers) so the fetch baseline can send exactly the same. */
let lastRequest: { body: string; headers: Record<string, string> } = { body: "", headers: {} }

const startServer = () =>
  new Promise<{ url: string; close: () => void }>((resolve) => {
    const server = createServer((req, res) => {
      let raw = ""
      req.on("data", (c) => (raw += c))
      req.on("end", () => {
        lastRequest = { body: raw, headers: req.headers as Record<string, string> }
        const body = bodies[(req.url ?? "").split("?")[0]!]
        res.writeHead(body === undefined ? 404 : 200, { "content-type": "application/json" })
        res.end(body ?? "{}")
      })
    })
    server.keepAliveTimeout = 60_000
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `http://127.0.0.1:${port}`, close: () => (server.closeAllConnections(), server.close()) })
    })
  })

const request: ModelRequest = {
  runId: "bench",
  iteration: 1,
  system: "You are terse.",
  messages: [{ _tag: "user", content: "Say ok." }],
  tools: [],
  reportRetry: () => Effect.void
}

/** Wall and CPU µs per call of `n` sequential calls. */
const time = async (n: number, f: () => Promise<unknown>) => {
  const clocks = startClocks()
  for (let i = 0; i < n; i++) await f()
  const { wallMs, cpuMs } = clocks.stop()
  return { wall: (wallMs * 1000) / n, cpu: (cpuMs * 1000) / n }
}

interface Row {
  readonly name: string
  readonly client: Stats
  readonly fetch: Stats
  readonly platform: Stats
  readonly clientCpu: Stats
  readonly fetchCpu: Stats
  readonly ratio: Stats
  readonly cpuRatio: Stats
  readonly platformRatio: Stats
}

const measure = async (
  name: string,
  url: string,
  path: string,
  model: Layer.Layer<LanguageModel, ProviderConfigError>
): Promise<Row> => {
  const runtime = ManagedRuntime.make(model)
  const service = await runtime.runPromise(LanguageModel)
  const client = () => runtime.runPromise(service.generate(request))
  await client()
  // The baseline sends the provider's own request body with its content headers and auth.
  const { body, headers } = lastRequest
  const sent: Record<string, string> = { "content-type": "application/json" }
  for (const h of ["authorization", "x-api-key", "anthropic-version", "accept"]) {
    if (headers[h] !== undefined) sent[h] = headers[h]
  }
  const bare = () => fetch(`${url}${path}`, { method: "POST", headers: sent, body }).then((r) => r.json())
  // Effect's own fetch-based HttpClient sending the same bytes: the floor any client on it starts from.
  const platform = ManagedRuntime.make(FetchHttpClient.layer)
  const effectRequest = HttpClientRequest.post(`${url}${path}`).pipe(
    HttpClientRequest.setHeaders(sent),
    HttpClientRequest.bodyText(body, "application/json")
  )
  const viaPlatform = () => platform.runPromise(Effect.flatMap(HttpClient.execute(effectRequest), (r) => r.json))
  await time(WARMUP, client)
  await time(WARMUP, bare)
  await time(WARMUP, viaPlatform)
  // Small alternating batches, so both sides see the same machine load; a round's ratio is of its sums.
  const rounds: Array<{ client: number; fetch: number; platform: number; clientCpu: number; fetchCpu: number }> = []
  const batches = CALLS / BATCH
  for (let r = 0; r < ROUNDS; r++) {
    const sums = { client: 0, fetch: 0, platform: 0, clientCpu: 0, fetchCpu: 0 }
    for (let b = 0; b < batches; b++) {
      const f = await time(BATCH, bare)
      sums.fetch += f.wall / batches
      sums.fetchCpu += f.cpu / batches
      sums.platform += (await time(BATCH, viaPlatform)).wall / batches
      const c = await time(BATCH, client)
      sums.client += c.wall / batches
      sums.clientCpu += c.cpu / batches
    }
    rounds.push(sums)
  }
  await runtime.dispose()
  await platform.dispose()
  const of = (f: (x: typeof rounds[number]) => number) => stats(rounds.map(f))
  return {
    name,
    client: of((x) => x.client),
    fetch: of((x) => x.fetch),
    platform: of((x) => x.platform),
    clientCpu: of((x) => x.clientCpu),
    fetchCpu: of((x) => x.fetchCpu),
    ratio: of((x) => x.client / x.fetch),
    cpuRatio: of((x) => x.clientCpu / x.fetchCpu),
    platformRatio: of((x) => x.platform / x.fetch)
  }
}

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const server = await startServer()
  const fetchLayer = FetchHttpClient.layer
  const key = Redacted.make(KEY)
  try {
    const rows = [
      await measure(
        "OpenAI Responses (`@effect/ai-openai`)",
        server.url,
        "/v1/responses",
        OpenAi.layer({ model: "gpt-4.1-mini", apiKey: key, baseUrl: `${server.url}/v1` }).pipe(
          Layer.provide(fetchLayer)
        )
      ),
      await measure(
        "Anthropic Messages (`@effect/ai-anthropic`)",
        server.url,
        "/v1/messages?beta=true",
        Anthropic.layer({ model: "claude-sonnet-4-5", apiKey: key, baseUrl: server.url }).pipe(
          Layer.provide(fetchLayer)
        )
      ),
      await measure(
        "OpenAI-compatible chat completions",
        server.url,
        "/v1/chat/completions",
        OpenAiCompatible.layer({ model: "llama3.1", baseUrl: `${server.url}/v1`, apiKey: key }).pipe(
          Layer.provide(fetchLayer)
        )
      )
    ]
    const us = (s: Stats) => `${s.median.toFixed(0)} µs (${s.min.toFixed(0)}–${s.max.toFixed(0)})`
    const x = (s: Stats) => `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`
    const table = [
      "| provider client | wall per call | bare `fetch`, same request | **wall ratio to fetch** | CPU per call client / fetch | CPU ratio | overhead per call (wall) | Effect `HttpClient`, same request (ratio to fetch) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...rows.map((r) =>
        `| ${r.name} | ${us(r.client)} | ${us(r.fetch)} | **${x(r.ratio)}** | ` +
        `${r.clientCpu.median.toFixed(0)} / ${r.fetchCpu.median.toFixed(0)} µs | ${x(r.cpuRatio)} | ` +
        `${(r.client.median - r.fetch.median).toFixed(0)} µs | ${r.platform.median.toFixed(0)} µs (${
          r.platformRatio.median.toFixed(2)
        }×) |`
      )
    ]
    const keys = ["openai responses", "anthropic messages", "openai-compatible chat completions"]
    const figures = rows.map((r, i): Figure => ({
      name: `provider ${keys[i]} vs fetch`,
      value: r.client.median,
      unit: "µs wall per generate call",
      ratio: r.ratio.median,
      cpuRatio: r.cpuRatio.median,
      baseline: "a bare fetch POST of the byte-identical request to the same loopback server",
      spread: [r.ratio.min, r.ratio.max]
    }))
    return [{
      title: "Providers: per-call client overhead against a loopback server",
      markdown: [
        `One \`generate\` (a one-message turn, no tools) against a server on 127.0.0.1 answering with a minimal valid`,
        `response of each wire format, against a bare \`fetch\` POST of the byte-identical request body and auth headers`,
        `to the same server, reading the JSON answer. Sequential calls over keep-alive connections, the two sides`,
        `alternating in batches of ${BATCH} so they share the machine's load; ${ROUNDS} rounds of ${CALLS} calls per side after`,
        `${WARMUP} warm-up calls; medians of the rounds (min–max; the ratio is the median of the rounds' ratios). CPU is \`process.cpuUsage\` per call. The server runs in the same process, so both sides`,
        `include its cost; the overhead column is the client's own work (request building, the instrumented`,
        `HttpClient's capture and retry bookkeeping, decoding, mapping to the kernel's response). The last column is`,
        "`@effect/platform`'s fetch-based `HttpClient` sending the same bytes and parsing the JSON: the floor every client",
        "built on it starts from.",
        "",
        ...table
      ].join("\n"),
      figures
    }]
  } finally {
    server.close()
  }
}
