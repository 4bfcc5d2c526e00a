import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Agent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Database, SqlRecorder, Sweep } from "../src/index.js"
import { dialects, recordedEvents, runRow } from "./support.js"

const child = fileURLToPath(new URL("./fixtures/crash-child.ts", import.meta.url))
const root = fileURLToPath(new URL("../../..", import.meta.url))

/** Starts the crash child, waits until its tool is executing, kills it with SIGKILL. */
const runAndKill = (url: string, runId: string) =>
  Effect.async<void, Error>((resume) => {
    const proc = spawn(process.execPath, ["--conditions=@sextant/source", "--import", "tsx", child, url, runId], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    proc.stderr.on("data", (d) => (stderr += String(d)))
    proc.stdout.on("data", (d) => {
      if (String(d).includes("TOOL_RUNNING")) proc.kill("SIGKILL")
    })
    proc.on("exit", (_code, signal) =>
      resume(
        signal === "SIGKILL" ? Effect.void : Effect.fail(new Error(`child exited without being killed: ${stderr}`))
      ))
  })

describe("sweep", () => {
  for (const dialect of dialects) {
    it.scopedLive(
      `${dialect.name}: a process killed mid-tool leaves tool.started; the sweep interrupts the run`,
      () =>
        Effect.gen(function*() {
          const url = yield* dialect.database
          yield* runAndKill(url, "crashed")
          const { early, result, events, run, toolRows } = yield* Effect.gen(function*() {
            // A recent run is not stale yet.
            const early = yield* Sweep.run({ staleRunningAfter: "1 hour", abandonedWaitingAfter: "1 hour" })
            const result = yield* Sweep.run({ staleRunningAfter: "0 millis", abandonedWaitingAfter: "1 hour" })
            const sql = yield* SqlClient.SqlClient
            const toolRows = yield* sql<{ tool_name: string; completed_at: unknown }>`SELECT tool_name, completed_at
            FROM tool_calls WHERE agent_run_id = 'crashed'`
            return { early, result, events: yield* recordedEvents("crashed"), run: yield* runRow("crashed"), toolRows }
          }).pipe(Effect.provide(Database.layerFromUrl(url)))
          expect(early).toEqual({ interrupted: [], abandoned: [] })
          expect(result).toEqual({ interrupted: ["crashed"], abandoned: [] })
          expect(events.map((e) => e.type)).toEqual([
            "run.started",
            "message.appended",
            "llm.started",
            "llm.completed",
            "message.appended",
            "tool.started",
            "run.interrupted"
          ])
          expect(events.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6])
          expect(toolRows).toEqual([{ tool_name: "slow", completed_at: null }])
          expect(run).toMatchObject({ status: "error", failure_reason: "stale_running", last_sequence_index: 6 })
        }),
      { timeout: 60_000 }
    )

    it.scopedLive(`${dialect.name}: a run waiting too long for a client tool is abandoned`, () =>
      Effect.gen(function*() {
        const url = yield* dialect.database
        const browser = Tool.make("pick_file", {
          description: "client",
          parameters: Schema.Struct({}),
          target: "client"
        })
        const model = ScriptedModel.layer([{ toolCalls: [{ name: "pick_file", arguments: {} }] }])
        const out = yield* Effect.gen(function*() {
          const agent = yield* Agent.make({ name: "waiter", instructions: "", tools: [browser] })
          const paused = yield* agent.run("go", { runId: "waiting" })
          const before = yield* runRow("waiting")
          const swept = yield* Sweep.run({ staleRunningAfter: "0 millis", abandonedWaitingAfter: "0 millis" })
          const again = yield* Sweep.run({ staleRunningAfter: "0 millis", abandonedWaitingAfter: "0 millis" })
          const events = yield* recordedEvents("waiting")
          return { paused, before, swept, again, events, run: yield* runRow("waiting") }
        }).pipe(Effect.provide(Layer.merge(model, SqlRecorder.layerFromUrl(url))))
        expect(out.paused.status).toBe("waiting_client_tool")
        expect(out.before).toMatchObject({ status: "waiting_client_tool" })
        expect(out.swept).toEqual({ interrupted: [], abandoned: ["waiting"] })
        expect(out.again).toEqual({ interrupted: [], abandoned: [] })
        expect(out.events.slice(-2).map((e) => e.type)).toEqual(["run.paused", "run.abandoned"])
        expect(out.run).toMatchObject({ status: "error", failure_reason: "abandoned_waiting" })
      }))
  }
})
