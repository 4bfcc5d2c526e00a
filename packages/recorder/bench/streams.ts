/**
 * Stream chunks (a section of the recorder's `npm run bench`): 10,000 chunks sent by one tool in a tight loop,
 * per configuration, alternating rounds in one process (`bench/measure.ts`). Figures are chunks per second and
 * ratios against a bare `Stream` of the same 10,000 chunks measured in the same rounds; plus the run's time with
 * and without notifiers, and with every chunk recorded (sampleRate 1 into `stream_chunks` on SQLite) against none.
 */
import { Agent, Notifier, Notifiers, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  alternate,
  type Config,
  logRound,
  num,
  rateRatio,
  ratioText,
  roundsFromEnv,
  table
} from "../../../bench/measure.js"
import { type BenchSection, type Figure, rateFigure } from "../../../bench/section.js"
import * as SqlRecorder from "../src/SqlRecorder.js"

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

/** The stream-chunk section: chunks/s per configuration, recorded against not recorded. */
export const streamChunks = async (): Promise<ReadonlyArray<BenchSection>> => {
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
  rmSync(dir, { recursive: true, force: true })
  const recordedRatio = rateRatio(recorded!, notRecorded!)
  const notifiedRatio = rateRatio(notified!, plain!)
  const figures: Array<Figure> = [
    rateFigure(recorded!, notRecorded!, {
      name: "stream chunks recorded vs not recorded sqlite",
      unit: "chunks/s",
      baseline: "the same run on SQLite with chunks not recorded (sampleRate 0)",
      cpu: false
    }),
    rateFigure(notified!, plain!, {
      name: "stream chunks with notifier and stream vs without",
      unit: "chunks/s",
      baseline: "the same run on the memory recorder with no notifier and no caller stream",
      cpu: false
    })
  ]
  const markdown = [
    `${
      CHUNKS.toLocaleString("en")
    } chunks per run from one tool in a tight loop; a bare \`Stream\` of the same chunks: ` +
    `${num(b!.rate.median, 0)} chunks/s. "Run wall/CPU" is one whole run (two model turns around the tool call).`,
    "",
    table(["configuration", "chunks/s", "run wall", "run CPU", "rate vs bare Stream"], rows),
    "",
    `Every chunk recorded (into \`stream_chunks\`, in the \`stream.ended\` commit) against none, SQLite: ` +
    `${ratioText(recordedRatio)}; a fast notifier plus the caller's stream against neither: ${
      ratioText(notifiedRatio)
    }.`,
    "Chunks never cost a commit of their own: a tool stream adds one event (`stream.ended`) to the record."
  ].join("\n")
  return [{ title: "Recorder: stream chunks", markdown, figures }]
}
