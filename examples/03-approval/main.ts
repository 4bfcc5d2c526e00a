/**
 * Human in the loop across two processes: an agent whose `delete_file` tool needs approval runs in a child
 * process, which pauses the run on a SQLite file and exits; this process then approves it from a freshly
 * built runtime on the same file, the run completes here, and the whole record is read back. Scripted model,
 * no API key; the database lives in a temporary directory, removed at the end.
 *
 *   node --conditions=@sextant/source --import tsx examples/03-approval/main.ts
 */
import { SqlRecorder } from "@sextant/recorder"
import { Agent, AgentRuntime, Ids, ScriptedModel, Tool } from "@sextant/runtime"
import { RunStore } from "@sextant/store"
import { Layer, Schema } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const deleteFile = Tool.make("delete_file", {
  description: "Delete a file",
  parameters: Schema.Struct({ path: Schema.String }),
  handler: ({ path }) => ({ deleted: path })
})
// Both processes define the same agent: a resume needs the agent's definition, the record holds the rest.
const agent = Agent.makeSync({
  name: "janitor",
  instructions: "Clean up temporary files.",
  tools: [deleteFile],
  requireApproval: ["delete_file"]
})

// Each process builds its own runtime: model + recorder (which also reads runs back to resume them).
const runtimeFor = (url: string, script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  AgentRuntime.make(Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url)))

/** Process 1: starts the run, which pauses waiting for approval, and exits. */
const pauseRun = async (url: string, runId: string) => {
  const runtime = runtimeFor(url, [{ toolCalls: [{ name: "delete_file", arguments: { path: "/tmp/report.tmp" } }] }])
  const paused = await runtime.run(agent, "Remove /tmp/report.tmp", { runId })
  const waiting = paused.pendingCalls?.map((c) => `${c.name}(${JSON.stringify(c.arguments)})`).join(", ")
  console.log(`process 1 (pid ${process.pid}): ${paused.status}, waiting on ${waiting}`)
  await runtime.dispose()
}

/** Process 2 (this one): runs process 1 as a child, then approves the run from a fresh runtime. */
const approveRun = async () => {
  const dir = mkdtempSync(join(tmpdir(), "sextant-approval-"))
  const url = `sqlite:${join(dir, "approval.db")}`
  const runId = Ids.make()
  try {
    // The same command as this one (`--conditions=@sextant/source --import tsx`), in a process of its own.
    const child = [...process.execArgv, fileURLToPath(import.meta.url), "pause", url, runId]
    execFileSync(process.execPath, child, { stdio: "inherit" })

    const runtime = runtimeFor(url, [{ text: "Deleted /tmp/report.tmp." }])
    const done = await runtime.submitApproval(agent, runId, { approved: true })
    console.log(`process 2 (pid ${process.pid}): ${done.status}: ${done.answer}`)
    await runtime.dispose()

    // The whole record, read back through the RunStore: one gapless sequence across both processes.
    const store = await RunStore.fromDatabaseUrl(url)
    const { items } = await store.getEvents(runId)
    console.log(items.map((e) => `#${e.sequenceIndex} ${e.eventType}`).join("\n"))
    await store.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const [role, url, runId] = process.argv.slice(2)
await (role === "pause" && url !== undefined && runId !== undefined ? pauseRun(url, runId) : approveRun())
