/**
 * The cost of the bus's storage pass (redaction policy and size cap). The events of a recorded 20-step run
 * (one tool call a step, the request's history growing each call) are emitted again through a run's bus, on a
 * no-op recorder with one no-op sink and no guardrails, under four configurations: no storage pass at all (the
 * bus before the policy existed), no policy configured (the default 256 KiB size cap's walk only), a policy of
 * three rules (key names, a pattern, a tool's result path; mask and HMAC), and metadata-only. Throughput in
 * events per second; the ratio is each configuration's cost against no storage pass. Only this section:
 * `node --expose-gc --conditions=@sextant/source --import tsx packages/runtime/bench/redaction.ts`.
 */
import { Effect, Layer, Schema } from "effect"
import { alternate, costRatio, logRound, num, ratioText, roundsFromEnv, spread, table } from "../../../bench/measure.js"
import { type BenchSection, costFigure, type Figure } from "../../../bench/section.js"
import type { HookEvent } from "../src/HookEvent.js"
import { Agent, MemoryRecorder, Recorder, ScriptedModel, Tool } from "../src/index.js"
import { type HookEventInput, makeBus } from "../src/internal/bus.js"
import type { RedactionSpec } from "../src/internal/config/redactionConfig.js"
import { compileRedaction, defaultRedaction, makeStoragePass } from "../src/internal/redaction/policy.js"
import type { RecorderService } from "../src/Recorder.js"

const STEPS = 20
const RUNS = Number(process.env.BENCH_REDACTION_RUNS ?? 200)
const ROUNDS = roundsFromEnv(5)

const lookup = Tool.make("lookup", {
  description: "Looks a customer up",
  parameters: Schema.Struct({ id: Schema.String, password: Schema.String }),
  handler: ({ id }) => ({ id, customer: { name: "Ann Example", account: `acct-${id}`, tier: "gold" }, ok: true })
})

/** The events of one 20-step run, without the fields the bus stamps. */
const template = (): Promise<ReadonlyArray<HookEventInput>> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const agent = yield* Agent.make({
        name: "bench",
        instructions: "Look customers up.",
        tools: [lookup],
        maxIterations: STEPS + 1
      })
      const result = yield* agent.run("Look up customers 1 to 20, order ACME-123456")
      return yield* (yield* MemoryRecorder).events(result.runId)
    }).pipe(
      Effect.provide(Layer.merge(
        ScriptedModel.layer([
          ...Array.from({ length: STEPS }, (_, i) => ({
            text: `Looking up customer ${i} for order ACME-123456.`,
            toolCalls: [{ name: "lookup", arguments: { id: String(i), password: "hunter2-secret" } }],
            usage: { inputTokens: 100 + i, outputTokens: 10 }
          })),
          { text: "All done.", usage: { inputTokens: 200, outputTokens: 5 } }
        ]),
        Recorder.memory
      ))
    )
  ).then((events: ReadonlyArray<HookEvent>) =>
    events.map((e) => {
      const { iteration: _i, runId: _r, sequenceIndex: _s, timestamp: _t, ...rest } = e
      return rest as unknown as HookEventInput
    })
  )

const compiled = (spec: object) => {
  const c = compileRedaction(spec as RedactionSpec, new Set(["lookup"]))
  if (c._tag === "Left") throw c.left
  return c.right
}

const policies = {
  "no storage pass": undefined,
  "no policy (size cap only)": defaultRedaction,
  "policy: 3 rules": compiled({
    hashKey: "a-host-key-of-at-least-16-bytes",
    rules: [
      { keys: ["password", "authorization"], action: "mask" },
      { pattern: "ACME-\\d{6}", action: "hash" },
      { tool: "lookup", result: { deny: ["$.customer.account"] }, action: "hash" }
    ]
  }),
  "metadata-only": compiled({ metadataOnly: true })
} as const

const recorder: RecorderService = { record: () => Effect.void }

/** The template's events through `RUNS` fresh buses with the storage pass of `policy`. */
const replay = (events: ReadonlyArray<HookEventInput>, policy: (typeof policies)[keyof typeof policies]) =>
  Effect.runPromise(Effect.gen(function*() {
    for (let r = 0; r < RUNS; r++) {
      const bus = yield* makeBus({
        runId: `run-${r}`,
        recorder,
        sinks: [() => undefined],
        traceContext: undefined,
        startSequence: 0,
        storage: policy === undefined ? undefined : makeStoragePass(policy)
      })
      for (const e of events) yield* bus.emit(e, 1)
    }
    return RUNS * events.length
  }))

/** The benchmark section: events per second through the bus under each configuration. */
export const redactionSection = async (): Promise<BenchSection> => {
  const events = await template()
  const measured = await alternate(
    Object.entries(policies).map(([name, policy]) => ({ name, run: () => replay(events, policy) })),
    { rounds: ROUNDS, onRound: logRound("redaction") }
  )
  const base = measured["no storage pass"]!
  const rows = Object.keys(policies).map((name) => {
    const m = measured[name]!
    const ratio = costRatio(m, base)
    return [
      name,
      `${num(m.rate.median / 1000, 1)}k`,
      spread(m.rate, 1 / 1000, "k"),
      `${num(m.cpu.median * 1000, 2)} µs`,
      name === "no storage pass" ? "1.00×" : ratioText(ratio.cpu)
    ]
  })
  const figures: Array<Figure> = Object.keys(policies).filter((n) => n !== "no storage pass").map((name) =>
    costFigure(measured[name]!, base, {
      name: `redaction: ${name} / no storage pass (cpu per event)`,
      clock: "cpu",
      scale: 1000,
      unit: "µs/event",
      baseline: "the bus without a storage pass",
      other: false
    })
  )
  return {
    title: "runtime: redaction policy in the bus",
    markdown: [
      `The ${events.length} events of a ${STEPS}-step run (one tool call a step, the model's request carrying the`,
      "growing history) emitted again through a run's bus, no guardrails, a no-op recorder and one no-op sink,",
      `${RUNS} runs a round, ${ROUNDS} rounds. CPU per event against the bus without a storage pass.`,
      "",
      table(["configuration", "events/s (median)", "spread", "CPU per event", "cost vs no pass (CPU)"], rows)
    ].join("\n"),
    figures
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const section = await redactionSection()
  console.log(section.markdown)
}
