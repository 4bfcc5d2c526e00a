/**
 * Stream chunks: 10,000 chunks sent by one tool in a tight loop, per configuration, alternating rounds in one
 * process (`bench/measure.ts`). Figures are chunks per second and ratios against a bare `Stream` of the same
 * 10,000 chunks (run to an array) measured in the same rounds; plus the run's wall time with and without
 * notifiers, and with every chunk recorded (sampleRate 1 into `stream_chunks` on SQLite) against none.
 *
 *   node --expose-gc --conditions=@sextant/source --import tsx bench/streams.ts
 *
 * Not part of `npm run bench` (it writes nothing; it prints its table).
 */
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Notifier, Notifiers, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { alternate, type Config, logRound, num, rateRatio, ratioText, roundsFromEnv, table } from "./measure.js"

const CHUNKS = 10_000
const frames = Array.from({ length: CHUNKS }, (_, i) => `frame ${i}`)

const tool = (sampleRate: number) =>
  Tool.make("frames", {
    description: "Streams frames",
    parameters: Schema.Struct({}),
    stream: { sampleRate, maxSamples: CHUNKS },
    handler: (_args, { stream }) => {
      for (const f of frames) stream.chunk(f)
      return "sent"
    }
  })

const script: ReadonlyArray<ScriptedModel.ScriptStep> = [
  { toolCalls: [{ name: "frames", arguments: {} }] },
  { text: "done" }
]

let sink = 0
const fast = Notifier.make({ name: "fast", capacity: 2 * CHUNKS, onEvent: () => void sink++ })

const kernel = (
  name: string,
  layer: Layer.Layer<never, unknown, never> | Layer.Layer<any, any, never>,
  options: { readonly sampleRate: number; readonly stream: boolean }
): Config<void> => {
  const runtime = ManagedRuntime.make(layer as Layer.Layer<any, never, never>)
  const agent = Effect.runSync(Agent.make({ name: "bench", instructions: "", tools: [tool(options.sampleRate)] }))
  const once = options.stream
    ? Stream.runForEach(agent.stream("go"), (e) => Effect.sync(() => (e._tag === "StreamChunk" ? sink++ : 0)))
    : Effect.asVoid(agent.run("go"))
  const program = once.pipe(Effect.provide(ScriptedModel.layer(script)))
  return { name, run: () => runtime.runPromise(program as Effect.Effect<void, unknown, never>).then(() => CHUNKS) }
}

const bare: Config<void> = {
  name: "bare Stream",
  run: () =>
    Effect.runPromise(
      Stream.runForEach(Stream.fromIterable(frames), (f) => Effect.sync(() => void (sink += f.length)))
    ).then(() => CHUNKS)
}

const dir = mkdtempSync(join(tmpdir(), "sextant-streams-bench-"))
const sqlite = (file: string) => SqlRecorder.layerFromUrl(`sqlite:${join(dir, file)}`).pipe(Layer.orDie)

const configs = [
  bare,
  kernel("kernel, memory recorder, no notifier", Recorder.memory, { sampleRate: 0, stream: false }),
  kernel(
    "kernel + fast notifier + caller's stream",
    Layer.merge(Recorder.memory, Notifiers.layer([fast])),
    { sampleRate: 0, stream: true }
  ),
  kernel("kernel, SQLite, chunks not recorded", sqlite("a.db"), { sampleRate: 0, stream: false }),
  kernel("kernel, SQLite, every chunk recorded", sqlite("b.db"), { sampleRate: 1, stream: false })
]

const results = await alternate(configs, { rounds: roundsFromEnv(7), onRound: logRound("streams") })
const [b, plain, notified, notRecorded, recorded] = configs.map((c) => results[c.name]!)
const rows = [plain!, notified!, notRecorded!, recorded!].map((m) => [
  m.name,
  num(m.rate.median, 0),
  `${num(m.wall.median * CHUNKS, 1)} ms`,
  `${num(m.cpu.median * CHUNKS, 1)} ms`,
  ratioText(rateRatio(m, b!))
])
console.log(`\n${CHUNKS} chunks per run; bare Stream: ${num(b!.rate.median, 0)} chunks/s\n`)
console.log(table(["configuration", "chunks/s", "run wall", "run CPU", "rate vs bare Stream"], rows))
console.log(`\nrecorded vs not recorded (SQLite, chunks/s): ${ratioText(rateRatio(recorded!, notRecorded!))}`)
console.log(`with notifier + stream vs without (chunks/s): ${ratioText(rateRatio(notified!, plain!))}`)
rmSync(dir, { recursive: true, force: true })
process.exit(0)
