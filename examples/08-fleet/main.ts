/**
 * A fleet of runners on the local Postgres: three runner processes and this submitter. Twenty runs are
 * submitted, one runner is SIGKILLed mid-way, and every run still finishes: its runs move to the other
 * runners and continue from the record. No API key: the model is a deterministic stand-in.
 *
 *   npm run example:fleet            (or: node --conditions=@sextant/source --import tsx examples/08-fleet/main.ts)
 *
 * `SEXTANT_PG_URL` is the server (default postgres://root@127.0.0.1:5432/test); a fresh database is created
 * on it and dropped at the end.
 */
import { Fleet } from "@sextant/fleet"
import { Agent, LanguageModel, type ModelRequest, type ModelResponse, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import pg from "pg"

const respond = (request: ModelRequest): ModelResponse => {
  const done = request.messages.filter((m) => m._tag === "tool").length
  if (done >= 2) return { text: "all looked up", toolCalls: [], finishReason: "stop" }
  return {
    text: "",
    toolCalls: [{ id: `c${done}`, name: "lookup", arguments: { ms: 100 + 50 * done } }],
    finishReason: "tool_calls"
  }
}

/** The stand-in model: two lookups, then an answer. */
const model = Layer.succeed(
  LanguageModel,
  LanguageModel.make({
    provider: "scripted",
    model: "fleet-example",
    generate: (request) => Effect.sync(() => respond(request)),
    stream: (request) => Stream.make({ _tag: "Done" as const, response: respond(request) })
  })
)

const agent = Agent.makeSync({
  name: "researcher",
  instructions: "Look things up twice, then answer.",
  tools: [
    Tool.make("lookup", {
      description: "Looks something up (safe to repeat).",
      parameters: Schema.Struct({ ms: Schema.Number }),
      idempotent: true,
      handler: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({ found: true }), ms))
    })
  ]
})

const [role, databaseUrl] = process.argv.slice(2)

if (role === "runner") {
  // A runner: executes runs until it is killed.
  Effect.runFork(
    Effect.gen(function*() {
      const f = yield* Fleet.Fleet
      console.log(`runner ${f.address} ready`)
      return yield* Effect.never
    }).pipe(
      Effect.provide(
        Fleet.layer({ databaseUrl: databaseUrl!, runner: { host: "127.0.0.1" }, agents: [agent] })
          .pipe(Layer.provide(model))
      )
    )
  )
} else {
  const server = process.env.SEXTANT_PG_URL ?? "postgres://root@127.0.0.1:5432/test"
  const name = `sextant_fleet_example_${Date.now().toString(36)}`
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: server })
    await client.connect()
    await client.query(sql).finally(() => client.end())
  }
  const url = new URL(server)
  url.pathname = `/${name}`
  await admin(`CREATE DATABASE ${name}`)
  const runners: Array<ChildProcess> = []
  // Each runner without a port: the OS gives it a free one, registered with the cluster.
  const startRunner = () =>
    new Promise<ChildProcess>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--conditions=@sextant/source", "--import", "tsx", fileURLToPath(import.meta.url), "runner", url.href],
        { stdio: ["ignore", "pipe", "inherit"] }
      )
      child.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve(child)
      })
    })
  try {
    // The submitter migrates the database; the runners start on it.
    const fleet = Fleet.layer({ databaseUrl: url.href, agents: [agent], migrate: true }).pipe(Layer.provide(model))
    await Effect.runPromise(
      Effect.gen(function*() {
        const f = yield* Fleet.Fleet
        runners.push(...yield* Effect.promise(() => Promise.all([0, 1, 2].map(() => startRunner()))))
        const ids = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => `question ${i}`),
          (q) => f.submit("researcher", q)
        )
        console.log(`submitted ${ids.length} runs`)
        yield* Effect.sleep("1 second")
        runners[0]!.kill("SIGKILL")
        console.log("killed runner 0 (SIGKILL)")
        const results = yield* Effect.forEach(ids, (id) => f.result(id), { concurrency: "unbounded" })
        for (const r of results) console.log(`${r.runId} ${r.status} ${r.answer ?? ""}`)
        const finished = results.filter((r) => r.status === "success").length
        console.log(`${finished} of ${ids.length} runs finished`)
      }).pipe(Effect.provide(fleet))
    )
  } finally {
    for (const r of runners) r.kill("SIGKILL")
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
}
