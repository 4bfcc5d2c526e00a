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
import { Anthropic, OpenAi, OpenAiCompatible, type ProviderConfigError } from "../src/index.js"

/** A section of BENCHMARKS.md (the shape `bench/section.ts` declares; not imported, it lies outside this project). */
interface BenchSection {
  readonly title: string
  readonly markdown: string
}

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

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const time = async (n: number, f: () => Promise<unknown>) => {
  const started = performance.now()
  for (let i = 0; i < n; i++) await f()
  return ((performance.now() - started) * 1000) / n
}

interface Row {
  readonly name: string
  readonly client: number
  readonly fetch: number
  readonly platform: number
  readonly ratio: number
  readonly platformRatio: number
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
  const rounds: Array<{ client: number; fetch: number; platform: number }> = []
  const batches = CALLS / BATCH
  for (let r = 0; r < ROUNDS; r++) {
    const sums = { client: 0, fetch: 0, platform: 0 }
    for (let b = 0; b < batches; b++) {
      sums.fetch += (await time(BATCH, bare)) / batches
      sums.platform += (await time(BATCH, viaPlatform)) / batches
      sums.client += (await time(BATCH, client)) / batches
    }
    rounds.push(sums)
  }
  await runtime.dispose()
  await platform.dispose()
  const med = (f: (x: typeof rounds[number]) => number) => median(rounds.map(f))
  return {
    name,
    client: med((x) => x.client),
    fetch: med((x) => x.fetch),
    platform: med((x) => x.platform),
    ratio: med((x) => x.client / x.fetch),
    platformRatio: med((x) => x.platform / x.fetch)
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
    const table = [
      "| provider client | per call | bare `fetch`, same request | **ratio to fetch** | overhead per call | Effect `HttpClient`, same request (ratio to fetch) |",
      "|---|---:|---:|---:|---:|---:|",
      ...rows.map((r) =>
        `| ${r.name} | ${r.client.toFixed(0)} µs | ${r.fetch.toFixed(0)} µs | **${r.ratio.toFixed(2)}×** | ` +
        `${(r.client - r.fetch).toFixed(0)} µs | ${r.platform.toFixed(0)} µs (${r.platformRatio.toFixed(2)}×) |`
      )
    ]
    return [{
      title: "Providers: per-call client overhead against a loopback server",
      markdown: [
        `One \`generate\` (a one-message turn, no tools) against a server on 127.0.0.1 answering with a minimal valid`,
        `response of each wire format, against a bare \`fetch\` POST of the byte-identical request body and auth headers`,
        `to the same server, reading the JSON answer. Sequential calls over keep-alive connections, the two sides`,
        `alternating in batches of ${BATCH} so they share the machine's load; ${ROUNDS} rounds of ${CALLS} calls per side after`,
        `${WARMUP} warm-up calls; medians of the rounds (the ratio is the median of the rounds' ratios). The server runs in the same process, so both sides`,
        `include its cost; the overhead column is the client's own work (request building, the instrumented`,
        `HttpClient's capture and retry bookkeeping, decoding, mapping to the kernel's response). The last column is`,
        "`@effect/platform`'s fetch-based `HttpClient` sending the same bytes and parsing the JSON: the floor every client",
        "built on it starts from.",
        "",
        ...table
      ].join("\n")
    }]
  } finally {
    server.close()
  }
}
