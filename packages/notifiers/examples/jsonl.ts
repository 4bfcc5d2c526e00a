/**
 * One JSON line per event appended to a file, then read back and decoded. Run:
 *   node --conditions=@sextant/source --import tsx packages/notifiers/examples/jsonl.ts
 */
import { JsonlFileNotifier } from "@sextant/notifiers"
import { Agent, AgentRuntime, Recorder, ScriptedModel } from "@sextant/runtime"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const path = join(mkdtempSync(join(tmpdir(), "sextant-")), "events.jsonl")
const runtime = AgentRuntime.make(Layer.merge(ScriptedModel.layer([{ text: "Hello!" }]), Recorder.memory), {
  notifiers: [JsonlFileNotifier.make({ path })]
})
await runtime.run(Agent.makeSync({ name: "greeter", instructions: "Greet." }), "Hi")
await runtime.dispose()

for (const line of await Effect.runPromise(JsonlFileNotifier.read(path))) {
  const seq = "sequenceIndex" in line.event ? line.event.sequenceIndex : "-"
  console.log(`${line.type.padEnd(18)} ${line.event.runId} #${seq}`)
}
console.log(`(${path})`)
