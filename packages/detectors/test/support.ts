/**
 * Fixtures for the detectors' database tests: both dialects as fresh real databases, runs recorded by the
 * real agent loop (scripted model, SqlRecorder), the detection service and its notifier beside them.
 */
import { SqlRecorder } from "@sextant/recorder"
import { Agent, Notifiers, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { type Config, Detectors, type DetectorsOptions, Signals } from "../src/index.js"

export { dialects } from "../../recorder/test/databases.js"

/** A search tool that answers, and one that always fails. */
export const searchTool = Tool.make("search", {
  description: "Searches",
  parameters: Schema.Struct({ q: Schema.String }),
  handler: ({ q }) => ({ hits: [q] })
})
export const payTool = Tool.make("pay", {
  description: "Pays",
  parameters: Schema.Struct({ amount: Schema.Number }),
  handler: () => Effect.fail("card declined")
})

/** Scripted turns: `n` calls of one tool, then an answer. */
export const loop = (
  tool: string,
  n: number,
  args: object = { q: "same" }
): ReadonlyArray<ScriptedModel.ScriptStep> => [
  ...Array.from({ length: n }, () => ({
    toolCalls: [{ name: tool, arguments: args as never }],
    usage: { inputTokens: 100, outputTokens: 5, costUsd: 0.001 }
  })),
  { text: "done", usage: { inputTokens: 100, outputTokens: 5, costUsd: 0.001 } }
]

/** The recorder, its SqlClient, the detection service and the signal store on a fresh database. */
export const stack = (url: string, config: Config.DetectorConfig = {}, options?: DetectorsOptions) =>
  Layer.mergeAll(Detectors.layer(config, options), Signals.layer).pipe(
    Layer.provideMerge(SqlRecorder.layerFromUrl(url)),
    Layer.orDie
  )

/**
 * Runs an agent once with the detectors' notifier attached; returns when the notifiers have drained and
 * the evaluation the run triggered has finished.
 */
export const runAgent = (
  name: string,
  script: ReadonlyArray<ScriptedModel.ScriptStep>,
  input = "find it"
) =>
  Effect.gen(function*() {
    const detectors = yield* Detectors
    const agent = yield* Agent.make({ name, instructions: "", tools: [searchTool, payTool] })
    const result = yield* agent.run(input).pipe(
      Effect.provide(Layer.merge(ScriptedModel.layer(script), Notifiers.layer([detectors.notifier])))
    )
    yield* detectors.idle
    return result
  })

const detectSource = fileURLToPath(new URL("../src/bin/detect.ts", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url))

/**
 * `sextant-detect ARGS` from its source in a child process, with no `DATABASE_URL` or encryption keys from
 * the environment unless `env` sets them.
 */
export const detectCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", detectSource, ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: "", SEXTANT_ENCRYPTION_KEYS: "", ...env }
  })

/** The arguments of a backfill of every run of `url`. */
export const backfillArgs = (url: string) => [url, "--since", "2000-01-01T00:00:00Z"]
