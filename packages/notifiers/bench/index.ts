/**
 * Notifier cost on a run: a 20-step scripted run (19 tool calls, then an answer; 120 events) repeated,
 * with the memory recorder so only the notifiers differ, against the same runs with no notifiers. The five
 * notifiers are: a fast counter, one that sleeps 1 s per event, one that throws on every event, the console
 * notifier (writing to a discarding stream) and the OpenTelemetry notifier (an SDK tracer without exporter).
 * Wall time covers the runs only (not the shutdown drain), rounds alternate, medians are reported. Two scenarios:
 * an instant tool, and a tool doing 5 ms of I/O per call.
 */
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base"
import { Agent, Notifier, Notifiers, Recorder, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Logger, LogLevel, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AlertNotifier, AlertRules, ConsoleNotifier, JsonlFileNotifier, OpenTelemetryNotifier } from "../src/index.js"

const STEPS = 20
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11)

/** A scenario: the tool a step calls, and how many runs one measurement makes. */
interface Scenario {
  readonly title: string
  readonly runs: number
  readonly tool: Tool.Tool
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    title: "instant tool (the kernel's own cost per step is all there is to compare with)",
    runs: Number(process.env.BENCH_RUNS ?? 20),
    tool: Tool.make("noop", {
      description: "does nothing",
      parameters: Schema.Struct({ i: Schema.Number }),
      handler: ({ i }) => i
    })
  },
  {
    title: "a tool doing 5 ms of I/O per call (closer to a real run; the model is still instant)",
    runs: 4,
    tool: Tool.make("noop", {
      description: "waits 5 ms",
      parameters: Schema.Struct({ i: Schema.Number }),
      handler: ({ i }) => Effect.as(Effect.sleep("5 millis"), i)
    })
  }
]

const scriptFor = (runs: number): ReadonlyArray<ScriptedModel.ScriptStep> =>
  Array.from(
    { length: runs * STEPS },
    (_, k) => (k + 1) % STEPS === 0 ? { text: "done" } : { toolCalls: [{ name: "noop", arguments: { i: k } }] }
  )

interface Counter {
  count: number
  first: number
  last: number
}

const fastCounter = (counter: Counter) =>
  Notifier.make({
    name: "fast",
    onEvent: () => {
      const now = performance.now()
      if (counter.count === 0) counter.first = now
      counter.count++
      counter.last = now
    }
  })

const slowAndBroken = () => [
  Notifier.make({ name: "sleeps-1s", onEvent: () => Effect.sleep("1 second") }),
  Notifier.make({
    name: "throws",
    onEvent: () => {
      throw new Error("notifier bug")
    }
  })
]

const sink = { write: () => true, isTTY: false, columns: 120 }
const tracer = new BasicTracerProvider().getTracer("bench")

/** Runs a scenario's runs in one runtime; returns the wall time of the runs (not the drain at shutdown). */
const measure = async (scenario: Scenario, notifiers: ReadonlyArray<Notifier.Notifier>): Promise<{ ms: number }> => {
  const agent = Agent.makeSync({ name: "bench", instructions: "", tools: [scenario.tool], maxIterations: STEPS })
  const layer = Layer.mergeAll(
    ScriptedModel.layer(scriptFor(scenario.runs)),
    Recorder.memory,
    Notifiers.layer(notifiers, { drainTimeout: "200 millis" })
  )
  let ms = 0
  await Effect.runPromise(
    Effect.gen(function*() {
      const started = performance.now()
      for (let r = 0; r < scenario.runs; r++) yield* agent.run("go")
      ms = performance.now() - started
    }).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.None))
  )
  return { ms }
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (n: number, d = 2) => n.toFixed(d)

/** A benchmark section (the shape `bench/section.ts` describes). */
interface BenchSection {
  readonly title: string
  readonly markdown: string
}

const noops = (c: Counter) => [
  fastCounter(c),
  ...[1, 2, 3, 4].map((i) => Notifier.make({ name: `noop${i}`, onEvent: () => undefined }))
]

const table = async (
  scenario: Scenario,
  configs: ReadonlyArray<{ readonly label: string; readonly make: (c: Counter) => ReadonlyArray<Notifier.Notifier> }>
): Promise<string> => {
  await measure(scenario, []) // warm-up
  // Each round measures every configuration back to back and keeps its ratio to that round's baseline, so a
  // machine busy with other work slows both sides of a ratio alike; the median ratio is reported.
  const ratios = configs.map(() => [] as Array<number>)
  const perRun = configs.map(() => [] as Array<number>)
  const rates = configs.map(() => [] as Array<number>)
  const lags = configs.map(() => [] as Array<number>)
  for (let round = 0; round < ROUNDS; round++) {
    let base = 0
    for (const [i, config] of configs.entries()) {
      const counter: Counter = { count: 0, first: 0, last: 0 }
      const started = performance.now()
      const { ms } = await measure(scenario, config.make(counter))
      if (i === 0) base = ms
      ratios[i]!.push(ms / base)
      perRun[i]!.push(ms / scenario.runs)
      if (counter.count > 0) {
        rates[i]!.push(counter.count / ((counter.last - started) / 1000))
        // How long after the last run returned the fast notifier had seen its last event.
        lags[i]!.push(Math.max(0, counter.last - started - ms))
      }
    }
  }
  const rows = configs.map((c, i) => {
    const rate = rates[i]!.length === 0 ? "—" : `${Math.round(median(rates[i]!)).toLocaleString("en-US")}`
    const lag = lags[i]!.length === 0 ? "—" : `${fmt(median(lags[i]!), 1)} ms`
    return `| ${c.label} | ${fmt(median(ratios[i]!), 3)} (best ${fmt(Math.min(...ratios[i]!), 3)}) | ` +
      `${fmt(median(perRun[i]!), 2)} ms | ${rate} | ${lag} |`
  })
  return [
    `**${scenario.title}**: ${scenario.runs} sequential runs per measurement.`,
    "",
    "| notifiers | wall time vs none | per run | events/s delivered to the fast notifier " +
    "| fast notifier done after the runs |",
    "|---|---|---|---|---|",
    ...rows
  ].join("\n")
}

/** A benchmark section (the shape `bench/section.ts` describes). */
interface BenchSection {
  readonly title: string
  readonly markdown: string
}

export default async function(): Promise<ReadonlyArray<BenchSection>> {
  const dir = mkdtempSync(join(tmpdir(), "sextant-bench-"))
  try {
    const five = (c: Counter) => [
      fastCounter(c),
      ...slowAndBroken(),
      ConsoleNotifier.make({ output: sink }),
      OpenTelemetryNotifier.make({ tracer })
    ]
    const configs = [
      { label: "none (baseline)", make: () => [] },
      { label: "five no-op notifiers (the dispatcher's own cost)", make: noops },
      { label: "**five: fast, sleeps 1 s/event, throws, console, OpenTelemetry**", make: five },
      {
        label: "the five + JSONL file + alert rules (7)",
        make: (c: Counter) => [
          ...five(c),
          JsonlFileNotifier.make({ path: join(dir, `events-${Math.random()}.jsonl`) }),
          AlertNotifier.make({
            rules: [AlertRules.runFailed(), AlertRules.tokensAbove(1e9), AlertRules.sameToolInARow(50)],
            deliver: () => undefined
          })
        ]
      }
    ]
    const tables: Array<string> = []
    for (const scenario of scenarios) tables.push(await table(scenario, configs))
    const eventsPerRun = 2 + (STEPS - 1) * 6 + 4
    const markdown = [
      `A ${STEPS}-step scripted run (${STEPS - 1} tool calls then an answer, ${eventsPerRun} events) on the memory`,
      `recorder, with and without notifiers. ${ROUNDS} rounds; each round measures every row back to back and`,
      "divides by that round's baseline; medians (and the best round). Target: wall-time ratio ≤ 1.05 with the five.",
      "",
      ...tables.flatMap((t) => [t, ""]),
      "The sleeping notifier's mailbox (1024) fills and drops (counted); the throwing one fails every event (counted,",
      "logging filtered out). Nothing waits for a notifier, but notifiers run on the same JavaScript thread as the",
      "run: the CPU each delivery costs (the dispatcher's fiber hand-off, then the handler: formatting, spans) is",
      "part of the ratio, which is why it is far above 1 when a step costs the kernel well under a millisecond and",
      "approaches 1 as soon as steps wait on I/O. The fast notifier keeps pace with the run (it finishes within a",
      "few ms of the last run), so its events/s is bounded by how fast the run emits events."
    ].join("\n")
    return [{ title: "Notifiers: five notifiers (one sleeping 1 s/event, one throwing) on a 20-step run", markdown }]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
