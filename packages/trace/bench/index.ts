/**
 * The trace package's section of `npm run bench` (`npm run bench -- trace`):
 *
 * 1. The instrumentation API's cost per recorded event, against the runtime's own loop recording the same
 *    events: the 3-turn, 2-tool run of `bench/plainLoop.ts` (18 events) on the kernel with a scripted model,
 *    and the same run reported through `Trace.run` (`llm`, `tool`, `final`), on the memory recorder and on
 *    SQLite; plus a sampled-out run and an `onlyOnError` run that succeeds (both recording nothing).
 * 2. Ingest throughput: 20 concurrent exporters, each sending its run's 1,000 events in batches of 100 over
 *    loopback HTTP (`Remote.send`, each batch answered once durable), against the recorder's own group-commit
 *    rate in the same run: 20 concurrent fibers writing the same batches with `recordAll` in process.
 */
import { SqlRecorder } from "@sextant/recorder"
import { Agent, LanguageModel, Recorder, Tool } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  alternate,
  type Config,
  costRatio,
  logRound,
  num,
  rateRatio,
  ratioText,
  roundsFromEnv,
  table
} from "../../../bench/measure.js"
import { responseOf, threeTurnResults, threeTurnScript } from "../../../bench/plainLoop.js"
import { type BenchSection, costFigure, type Figure } from "../../../bench/section.js"
import { Ingest, Remote, Trace } from "../src/index.js"

/** Events of one 3-turn, 2-tool run (either way). */
const EVENTS_PER_RUN = 18

const model = Layer.succeed(
  LanguageModel,
  LanguageModel.make({
    provider: "bench",
    model: "bench-1",
    generate: (request) => Effect.sync(() => responseOf(threeTurnScript(request.iteration), request.iteration)),
    stream: (request) =>
      Stream.make({
        _tag: "Done" as const,
        response: responseOf(threeTurnScript(request.iteration), request.iteration)
      })
  })
)

const agent = Agent.makeSync({
  name: "bench",
  instructions: "Answer weather questions.",
  maxIterations: 5,
  tools: [
    Tool.make("weather", {
      description: "the weather in a city",
      parameters: Schema.Struct({ city: Schema.String }),
      handler: (args) => threeTurnResults.weather!(args)
    }),
    Tool.make("convert", {
      description: "celsius to fahrenheit",
      parameters: Schema.Struct({ celsius: Schema.Number }),
      handler: (args) => threeTurnResults.convert!(args)
    })
  ]
})

const native = Effect.asVoid(agent.run("What is the weather in Lisbon, in Fahrenheit?"))

/** The same run reported through the instrumentation API: three model calls, two tool calls, the answer. */
const traced = (options: Trace.RunOptions) =>
  Effect.asVoid(
    Trace.run("bench", { input: "What is the weather in Lisbon, in Fahrenheit?", ...options }, (run) =>
      Effect.gen(function*() {
        const call = (iteration: number) => {
          const turn = threeTurnScript(iteration)
          return run.llm({
            model: "bench-1",
            provider: "bench",
            request: { messages: [] },
            text: turn.text,
            toolCalls: turn.toolCalls.map((c) => ({ ...c, id: `${c.id}-${run.runId}` })),
            usage: turn.usage
          })
        }
        yield* call(1)
        yield* run.tool(
          "weather",
          { city: "Lisbon" },
          Effect.sync(() =>
            threeTurnResults.weather!({ city: "Lisbon" })
          ),
          {
            callId: `call_w-${run.runId}`
          }
        )
        yield* call(2)
        yield* run.tool(
          "convert",
          { celsius: 21 },
          Effect.sync(() => threeTurnResults.convert!({ celsius: 21 })),
          {
            callId: `call_c-${run.runId}`
          }
        )
        yield* call(3)
        yield* run.final(threeTurnScript(3).text)
      }))
  )

const config = (
  name: string,
  runtime: ManagedRuntime.ManagedRuntime<Recorder, never>,
  once: Effect.Effect<void, unknown, Recorder>,
  runs: number
): Config<void> => ({
  name,
  run: () => runtime.runPromise(Effect.repeatN(once, runs - 1).pipe(Effect.orDie)).then(() => runs * EVENTS_PER_RUN)
})

const perEvent = async (dir: string): Promise<BenchSection> => {
  const memory = ManagedRuntime.make(Recorder.memory)
  const nativeMemory = ManagedRuntime.make(Layer.merge(Recorder.memory, model))
  const sqlite = (file: string) => SqlRecorder.layerFromUrl(`sqlite:${join(dir, file)}`).pipe(Layer.orDie)
  const nativeSqlite = ManagedRuntime.make(Layer.merge(sqlite("native.db"), model))
  const tracedSqlite = ManagedRuntime.make(sqlite("traced.db"))
  const MEMORY_RUNS = 300
  const SQLITE_RUNS = 40
  const configs = [
    config("kernel loop, memory", nativeMemory, native.pipe(Effect.provide(model)), MEMORY_RUNS),
    config("Trace.run, memory", memory, traced({}), MEMORY_RUNS),
    config("Trace.run sampled out (sampleRate 0), memory", memory, traced({ sampleRate: 0 }), MEMORY_RUNS),
    config("Trace.run onlyOnError, succeeds (nothing recorded)", memory, traced({ onlyOnError: true }), MEMORY_RUNS),
    config("kernel loop, SQLite", nativeSqlite, native.pipe(Effect.provide(model)), SQLITE_RUNS),
    config("Trace.run, SQLite", tracedSqlite, traced({}), SQLITE_RUNS)
  ]
  const results = await alternate(configs, { rounds: roundsFromEnv(5), onRound: logRound("trace") })
  const [nm, tm, out, held, ns, ts] = configs.map((c) => results[c.name]!)
  await Promise.all([memory, nativeMemory, nativeSqlite, tracedSqlite].map((r) => r.dispose()))
  const us = (x: number) => `${num(x * 1000, 2)} µs`
  const rows = [nm!, tm!, out!, held!, ns!, ts!].map((m, i) => {
    const base = i < 4 ? nm! : ns!
    const r = costRatio(m, base)
    return [m.name, us(m.wall.median), us(m.cpu.median), ratioText(r.wall), ratioText(r.cpu)]
  })
  const memoryRatio = costRatio(tm!, nm!)
  const sqliteRatio = costRatio(ts!, ns!)
  const outRatio = costRatio(out!, nm!)
  const heldRatio = costRatio(held!, nm!)
  const figures: Array<Figure> = [
    costFigure(tm!, nm!, {
      name: "trace per event vs kernel loop memory",
      scale: 1000,
      unit: "µs/event",
      baseline: "the runtime's own loop recording the same 18-event run on the memory recorder"
    }),
    costFigure(ts!, ns!, {
      name: "trace per event vs kernel loop sqlite",
      scale: 1000,
      unit: "µs/event",
      baseline: "the runtime's own loop recording the same 18-event run on SQLite"
    }),
    costFigure(out!, nm!, {
      name: "trace sampled out vs kernel loop memory",
      scale: 1000,
      unit: "µs/event not recorded",
      baseline: "the runtime's own loop recording the run on the memory recorder",
      other: false
    }),
    costFigure(held!, nm!, {
      name: "trace onlyOnError success vs kernel loop memory",
      scale: 1000,
      unit: "µs/event held",
      baseline: "the runtime's own loop recording the run on the memory recorder",
      other: false
    })
  ]
  const markdown = [
    `The 3-turn, 2-tool run (${EVENTS_PER_RUN} recorded events) on the runtime's loop with a scripted model, ` +
    "and the same run reported through `Trace.run` (`llm` ×3, `tool` ×2, `final`: the same events, field by " +
    `field, as \`test/parity.test.ts\` checks); ${MEMORY_RUNS} runs per round in memory, ${SQLITE_RUNS} on ` +
    "SQLite (WAL, synchronous NORMAL), one after another. Cost per recorded event (per event the run would " +
    "record, for the rows that record nothing); ratios against the loop on the same recorder, same rounds.",
    "",
    table(["configuration", "wall/event", "CPU/event", "wall vs loop", "CPU vs loop"], rows),
    "",
    `Trace.run against the loop: ${ratioText(memoryRatio.wall)} in memory, ${
      ratioText(sqliteRatio.wall)
    } on SQLite (the loop also runs its model and tools, which the traced run only reports). A sampled-out ` +
    `run costs ${ratioText(outRatio.wall)} of a recorded native one; an \`onlyOnError\` run that succeeds ` +
    `(its events held in an array, then dropped) ${ratioText(heldRatio.wall)}.`
  ].join("\n")
  return { title: "Trace: instrumentation cost per event", markdown, figures }
}

const EXPORTERS = 20
const PER_EXPORTER = 1_000
const BATCH = 100

let sequence = 0
/** One run's events as a remote agent sends them: started, 998 custom events, completed. */
const runEvents = (runId: string): ReadonlyArray<any> => {
  const t = Date.now()
  const base = { runId, iteration: 0, timestamp: t }
  return [
    {
      ...base,
      _tag: "RunStarted",
      sequenceIndex: 0,
      agentName: "remote",
      instructions: "",
      input: "go",
      delegationLevel: 0,
      tools: [],
      tenantId: "acme"
    },
    ...Array.from({ length: PER_EXPORTER - 2 }, (_, i) => ({
      ...base,
      _tag: "CustomEvent",
      sequenceIndex: i + 1,
      name: "custom.step",
      data: { i }
    })),
    {
      ...base,
      _tag: "RunCompleted",
      sequenceIndex: PER_EXPORTER - 1,
      status: "success",
      answer: "done",
      iterations: 0,
      usage: { inputTokens: 0, outputTokens: 0 }
    }
  ]
}

const batchesOf = <A>(events: ReadonlyArray<A>): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(events.length / BATCH) }, (_, i) => events.slice(i * BATCH, (i + 1) * BATCH))

const ingestThroughput = async (dir: string): Promise<BenchSection> => {
  const url = `sqlite:${join(dir, "ingest.db")}`
  const ingest = await Ingest.fromLayer(SqlRecorder.layerFromUrl(url, { haltRuns: false }), {
    authorize: Ingest.apiKeys({ "bench-key": "acme" })
  })
  const server: Server = createServer(ingest.node)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const send = Remote.send({ url: base, apiKey: "bench-key" })
  const direct = ManagedRuntime.make(SqlRecorder.layerFromUrl(`sqlite:${join(dir, "direct.db")}`).pipe(Layer.orDie))
  const recorder = await direct.runPromise(Recorder)
  const fresh = () =>
    Array.from({ length: EXPORTERS }, () => batchesOf(runEvents(`ingest-${String(sequence++).padStart(8, "0")}`)))
  const configs: Array<Config<ReturnType<typeof fresh>>> = [
    {
      name: `ingest over HTTP, ${EXPORTERS} exporters`,
      prepare: fresh,
      run: async (runs) => {
        await Promise.all(runs.map(async (batches) => {
          for (const b of batches) await Effect.runPromise(send(b))
        }))
        return EXPORTERS * PER_EXPORTER
      }
    },
    {
      name: `recorder recordAll in process, ${EXPORTERS} writers`,
      prepare: fresh,
      run: async (runs) => {
        await Promise.all(runs.map(async (batches) => {
          for (const b of batches) await direct.runPromise(recorder.recordAll!(b))
        }))
        return EXPORTERS * PER_EXPORTER
      }
    }
  ]
  const results = await alternate(configs, { rounds: roundsFromEnv(4), onRound: logRound("trace ingest") })
  const [viaHttp, inProcess] = configs.map((c) => results[c.name]!)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await ingest.close()
  await direct.dispose()
  const ratio = rateRatio(viaHttp!, inProcess!)
  const rows = [viaHttp!, inProcess!].map((m) => [
    m.name,
    num(m.rate.median, 0),
    `${num(m.rate.min, 0)}–${num(m.rate.max, 0)}`,
    `${num(m.cpu.median * 1000, 2)} µs`
  ])
  const figures: Array<Figure> = [{
    name: "ingest throughput vs recorder group commit sqlite",
    value: viaHttp!.rate.median,
    unit: "events/s durable",
    ratio: ratio.value,
    baseline: `the SQL recorder's own recordAll from ${EXPORTERS} concurrent writers, same batches, same run`,
    spread: [ratio.min, ratio.max]
  }]
  const markdown = [
    `${EXPORTERS} concurrent exporters, each sending one run's ${PER_EXPORTER.toLocaleString("en")} events ` +
    `in batches of ${BATCH} over loopback HTTP (\`Remote.send\`; the next batch goes once the last is ` +
    "acknowledged, i.e. durable), to `Ingest` on SQLite (WAL, NORMAL), against the same batches written by " +
    `${EXPORTERS} concurrent fibers through the recorder's \`recordAll\` in process (its group commit), ` +
    "alternating rounds in one process. The client and the server share this process's CPU.",
    "",
    table(["configuration", "events/s durable", "range", "CPU/event (both sides)"], rows),
    "",
    `Ingest reaches ${ratioText(ratio)} of the recorder's own group-commit rate: the difference is JSON ` +
    "encoding and decoding each event, HTTP, planning each batch (a ledger read per run) and the digests kept " +
    "to tell a resend from a changed event."
  ].join("\n")
  return { title: "Trace: ingest throughput", markdown, figures }
}

/** The trace package's sections. */
export default async (): Promise<ReadonlyArray<BenchSection>> => {
  const dir = mkdtempSync(join(tmpdir(), "sextant-trace-bench-"))
  try {
    return [await perEvent(dir), await ingestThroughput(dir)]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
