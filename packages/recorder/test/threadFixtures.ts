/**
 * Fixtures of the thread tests: a client tool and a server tool, a freshly built "process" (its own scripted
 * model and recorder over a shared database), and message builders.
 */
import { type HookEvent, ScriptedModel, Tool } from "@sextant/runtime"
import { Effect, Layer, Schema } from "effect"
import { SqlRecorder } from "../src/index.js"

/** A client tool: the run pauses for the user to pick a file. */
export const pick = Tool.make("pick_file", {
  description: "Let the user pick a file (runs in the client)",
  parameters: Schema.Struct({ kind: Schema.String }),
  target: "client"
})
/** A server tool that answers at once. */
export const weather = Tool.make("weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => ({ city, sky: "clear" })
})

/** A freshly built "process": its own model script and its own recorder over the same database. */
export const processOn = (url: string, script: ReadonlyArray<ScriptedModel.ScriptStep>) =>
  Layer.merge(ScriptedModel.layer(script), SqlRecorder.layerFromUrl(url))

/** A user message. */
export const user = (content: string): HookEvent.Message => ({ _tag: "user", content })
/** An assistant message without tool calls. */
export const assistant = (content: string): HookEvent.Message => ({ _tag: "assistant", content, toolCalls: [] })

/** The requests the scripted model of the current "process" received. */
export const sent = Effect.flatMap(ScriptedModel.Requests, (r) => r.requests)
