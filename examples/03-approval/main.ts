/**
 * Human in the loop across processes: an agent whose `delete_file` tool needs approval pauses; a second,
 * freshly built runtime on the same SQLite database approves, and the run completes there. Scripted model,
 * no API key.
 */
import { SqlRecorder } from "@sextant/recorder"
import { Agent, AgentRuntime, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Layer, Schema } from "effect"
import { rmSync } from "node:fs"

const url = "sqlite:./.sextant/approval-demo.db"
rmSync("./.sextant/approval-demo.db", { force: true })

const deleteFile = Tool.make("delete_file", {
  description: "Delete a file",
  parameters: Schema.Struct({ path: Schema.String }),
  handler: ({ path }) => ({ deleted: path })
})
const agent = Agent.makeSync({
  name: "janitor",
  instructions: "Clean up temporary files.",
  tools: [deleteFile],
  requireApproval: ["delete_file"]
})

// Each "process" builds its own runtime: model + recorder (which also reads runs back to resume them).
const runtimeFor = (script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  AgentRuntime.make(Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url)))

const first = runtimeFor([{ toolCalls: [{ name: "delete_file", arguments: { path: "/tmp/report.tmp" } }] }])
const paused = await first.run(agent, "Remove /tmp/report.tmp")
console.log(
  `process 1: ${paused.status}, waiting on ${
    paused.pendingCalls?.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(", ")
  }`
)
await first.dispose()

const second = runtimeFor([{ text: "Deleted /tmp/report.tmp." }])
const done = await second.submitApproval(agent, paused.runId, { approved: true })
console.log(`process 2: ${done.status}: ${done.answer}`)
await second.dispose()

// The whole record, read back through the RunStore: one gapless sequence across both processes.
const store = await RunStore.fromDatabaseUrl(url)
const { items } = await store.getEvents(paused.runId)
console.log(items.map((e) => `#${e.sequenceIndex} ${e.eventType}`).join("\n"))
await store.close()
