/**
 * A second, real copy of effect (4.x, npm's `latest`) installed into a temporary app directory, as an app on
 * effect 4 that installs Sextant has: its values must be refused with both versions named, not misread.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import {
  Agent,
  AgentConfigError,
  AgentRuntime,
  EffectVersionMismatch,
  type HookEvent,
  MemoryRecorder,
  Recorder,
  ScriptedModel,
  Tool
} from "../src/index.js"

const OTHER = "4.1.0"
const root = fileURLToPath(new URL("../../../", import.meta.url))
const ours = (JSON.parse(readFileSync(join(root, "node_modules/effect/package.json"), "utf8")) as { version: string })
  .version

// The other copy's modules, loaded by path (typed loosely: they are another library's types).
type Effect4 = {
  readonly Schema: {
    readonly Struct: (fields: Record<string, unknown>) => unknown
    readonly String: unknown
    readonly toStandardSchemaV1: (schema: unknown) => unknown
    readonly toStandardJSONSchemaV1: (schema: unknown) => unknown
  }
  readonly Effect: { readonly succeed: (a: unknown) => unknown }
  readonly Layer: { readonly empty: unknown }
}

let app: string
let effect4: Effect4

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), "sextant-effect4-"))
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", `effect@${OTHER}`], {
    cwd: app,
    stdio: "ignore"
  })
  effect4 = await import(pathToFileURL(join(app, "node_modules/effect/dist/index.js")).href) as Effect4
}, 180_000)

afterAll(() => rmSync(app, { recursive: true, force: true }))

const weatherOf = (parameters: unknown, handler: () => unknown = () => ({ tempC: 21 })) =>
  Tool.make("get_weather", { description: "Weather", parameters: parameters as never, handler })

describe("values from a second copy of effect", () => {
  it.effect("a Schema from effect 4 in Tool.make: AgentConfigError naming both versions and how to dedupe", () =>
    Effect.gen(function*() {
      const parameters = effect4.Schema.Struct({ city: effect4.Schema.String })
      const error = yield* Effect.flip(Agent.make({ name: "w", instructions: "", tools: [weatherOf(parameters)] }))
      expect(error).toBeInstanceOf(AgentConfigError)
      expect(error.field).toBe("tools[0].parameters")
      expect(error.message).toContain(`is a Schema from effect 4.x, but @sextant/runtime runs on effect ${ours}`)
      expect(error.message).toContain("npm ls effect")
      expect(error.message).toContain("peer dependency (effect ^3.22.4)")
      expect(error.message).not.toContain("needs a Schema")
    }))

  it.effect("an Effect from effect 4 returned by a handler: a failed tool result naming both versions", () =>
    Effect.gen(function*() {
      const tool = weatherOf(Schema.Struct({}), () => effect4.Effect.succeed({ tempC: 21 }))
      const agent = yield* Agent.make({ name: "w", instructions: "", tools: [tool] })
      const result = yield* agent.run("weather?")
      expect(result.status).toBe("success")
      const events = yield* (yield* MemoryRecorder).events(result.runId)
      const completed = events.find((e): e is HookEvent.ToolCallCompleted => e._tag === "ToolCallCompleted")!
      expect(completed.success).toBe(false)
      expect(completed.error).toMatch(
        new RegExp(`^Tool 'get_weather' failed: its handler returned an Effect from effect 4\\.x, but .* ${ours}`)
      )
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ toolCalls: [{ name: "get_weather", arguments: {} }] }, { text: "ok" }]),
      Recorder.memory
    ))))

  it("a Layer from effect 4 given to AgentRuntime.make: EffectVersionMismatch at once", () => {
    let thrown: unknown
    try {
      AgentRuntime.make(effect4.Layer.empty as never)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(EffectVersionMismatch)
    expect(thrown).toMatchObject({ _tag: "EffectVersionMismatch", runtime: ours, found: "4.x" })
  })

  it.effect("effect 4's own Standard Schema of the same Struct works as tool parameters", () =>
    Effect.gen(function*() {
      const struct = effect4.Schema.Struct({ city: effect4.Schema.String })
      const parameters = effect4.Schema.toStandardSchemaV1(effect4.Schema.toStandardJSONSchemaV1(struct))
      const agent = yield* Agent.make({ name: "w", instructions: "", tools: [weatherOf(parameters)] })
      const result = yield* agent.run("weather?")
      const requests = yield* (yield* ScriptedModel.Requests).requests
      expect(requests[0]!.tools[0]!.parameters).toMatchObject({
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"]
      })
      const events = yield* (yield* MemoryRecorder).events(result.runId)
      const completed = events.filter((e): e is HookEvent.ToolCallCompleted => e._tag === "ToolCallCompleted")
      expect(completed.map((e) => [e.providerCallId, e.success])).toEqual([["good", true], ["bad", false]])
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([
        { toolCalls: [{ id: "good", name: "get_weather", arguments: { city: "Lisbon" } }] },
        { toolCalls: [{ id: "bad", name: "get_weather", arguments: { city: 1 } }] },
        { text: "ok" }
      ]),
      Recorder.memory
    ))))

  it("in an app whose own effect is 4.1.0, the message names 4.1.0 and the runtime's version", () => {
    // The app's script imports its effect 4 and the runtime (from this repository, with its own effect 3).
    const script = join(app, "main.mjs")
    writeFileSync(
      script,
      [
        "import { Schema } from \"effect\"",
        `const { Agent, Tool } = await import(${
          JSON.stringify(pathToFileURL(join(root, "packages/runtime/src/index.ts")).href)
        })`,
        "const parameters = Schema.Struct({ city: Schema.String })",
        "const tool = Tool.make(\"get_weather\", { description: \"d\", parameters, handler: () => 1 })",
        "try { Agent.makeSync({ name: \"w\", instructions: \"\", tools: [tool] }) }",
        "catch (e) { console.log(JSON.stringify({ tag: e._tag, field: e.field, message: e.message })) }"
      ].join("\n")
    )
    const tsx = pathToFileURL(join(root, "node_modules/tsx/dist/loader.mjs")).href
    const out = execFileSync(process.execPath, ["--import", tsx, script], { cwd: app, encoding: "utf8" })
    const error = JSON.parse(out.trim()) as { tag: string; field: string; message: string }
    expect(error).toMatchObject({ tag: "AgentConfigError", field: "tools[0].parameters" })
    expect(error.message).toContain(`is a Schema from effect ${OTHER}, but @sextant/runtime runs on effect ${ours}`)
  })
})
