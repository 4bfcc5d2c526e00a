import { describe, expect, it } from "@effect/vitest"
import { toJsonSchema, toStandardJsonSchema } from "@valibot/to-json-schema"
import { type } from "arktype"
import { Effect, Layer, Schema } from "effect"
import * as v from "valibot"
import { z } from "zod"
import {
  Agent,
  type HookEvent,
  MemoryRecorder,
  Recorder,
  ScriptedModel,
  type StandardSchemaV1,
  Tool
} from "../src/index.js"

/** The arguments every library's schema describes: a city (a string) and optional whole days (1..7). */
const schemas: ReadonlyArray<
  readonly [string, Tool.ToolParameters<{ city: string; days?: number | undefined }, unknown>]
> = [
  ["zod", z.object({ city: z.string(), days: z.number().int().min(1).max(7).optional() })],
  [
    "valibot (toStandardJsonSchema)",
    toStandardJsonSchema(
      v.object({ city: v.string(), days: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(7))) })
    )
  ],
  ["arktype", type({ city: "string", "days?": "1 <= number.integer <= 7" })],
  [
    "effect (Schema.standardSchemaV1)",
    Schema.standardSchemaV1(
      Schema.Struct({ city: Schema.String, days: Schema.optional(Schema.Int.pipe(Schema.between(1, 7))) })
    )
  ]
]

/** Runs a weather tool over `parameters`: a good call, a call with a wrong type, one out of range, then an answer. */
const runWith = (
  parameters: Tool.ToolParameters<{ city: string; days?: number | undefined }, unknown>,
  jsonSchema?: HookEvent.Json
) =>
  Effect.gen(function*() {
    const seen: Array<unknown> = []
    const tool = Tool.make("get_weather", {
      description: "Weather for a city",
      parameters,
      ...(jsonSchema === undefined ? {} : { jsonSchema }),
      handler: (args) => {
        seen.push(args)
        return { city: args.city, tempC: 21 }
      }
    })
    const agent = yield* Agent.make({ name: "w", instructions: "", tools: [tool] })
    const result = yield* agent.run("weather?")
    const requests = yield* (yield* ScriptedModel.Requests).requests
    const events = yield* (yield* MemoryRecorder).events(result.runId)
    const completed = events.filter((e): e is HookEvent.ToolCallCompleted => e._tag === "ToolCallCompleted")
    return { result, seen, sent: requests[0]!.tools[0]!.parameters, completed }
  }).pipe(Effect.provide(Layer.merge(
    ScriptedModel.layer([
      { toolCalls: [{ id: "good", name: "get_weather", arguments: { city: "Lisbon", days: 3 } }] },
      { toolCalls: [{ id: "type", name: "get_weather", arguments: { city: 42 } }] },
      { toolCalls: [{ id: "range", name: "get_weather", arguments: { city: "Porto", days: 9 } }] },
      { text: "21 °C." }
    ]),
    Recorder.memory
  )))

const expectWeatherSchema = (sent: HookEvent.Json) => {
  expect(sent).toMatchObject({ type: "object", properties: { city: { type: "string" } }, required: ["city"] })
  const days = (sent as { properties: { days: Record<string, unknown> } }).properties.days
  expect(days).toMatchObject({ minimum: 1, maximum: 7 })
  // Effect names its integer type once in `$defs` and refers to it.
  const integer = days.$ref === "#/$defs/Int" ? (sent as { $defs: { Int: Record<string, unknown> } }).$defs.Int : days
  expect(["integer", "number"]).toContain(integer.type)
}

const byCall = (completed: ReadonlyArray<HookEvent.ToolCallCompleted>, providerCallId: string) =>
  completed.find((e) => e.providerCallId === providerCallId)!

describe("tool parameters from any Standard Schema", () => {
  for (const [library, parameters] of schemas) {
    it.effect(`${library}: the model gets its JSON Schema, good arguments decode, bad ones are failed results`, () =>
      Effect.gen(function*() {
        const { completed, result, seen, sent } = yield* runWith(parameters)
        expect(result.status).toBe("success")
        expectWeatherSchema(sent)
        expect(seen).toEqual([{ city: "Lisbon", days: 3 }])
        expect(byCall(completed, "good")).toMatchObject({ success: true, result: { city: "Lisbon", tempC: 21 } })
        for (const id of ["type", "range"]) {
          const failed = byCall(completed, id)
          expect(failed.success, id).toBe(false)
          expect(failed.error, id).toMatch(/^Invalid arguments for tool 'get_weather': /)
        }
        expect(byCall(completed, "type").error).toMatch(/city/)
        expect(byCall(completed, "range").error).toMatch(/days/)
      }))
  }

  it.effect("valibot without a JSON Schema converter: Agent.make says to give `jsonSchema`", () =>
    Effect.gen(function*() {
      const parameters = v.object({ city: v.string() })
      const tool = Tool.make("get_weather", { description: "d", parameters, handler: () => 1 })
      const error = yield* Effect.flip(Agent.make({ name: "w", instructions: "", tools: [tool] }))
      expect(error).toMatchObject({ _tag: "AgentConfigError", field: "tools[0].parameters" })
      expect(error.message).toMatch(/^tools\[0\]\.parameters: tool 'get_weather' has no JSON Schema for the model/)
      expect(error.message).toContain("`jsonSchema` option")
      expect(error.message).toContain("@valibot/to-json-schema")
    }))

  it.effect("valibot with an explicit `jsonSchema`: sent as given, arguments decoded by valibot", () =>
    Effect.gen(function*() {
      const parameters = v.object({
        city: v.string(),
        days: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(7)))
      })
      const jsonSchema = toJsonSchema(parameters) as HookEvent.Json
      const { completed, seen, sent } = yield* runWith(parameters, jsonSchema)
      expect(sent).toEqual(jsonSchema)
      expectWeatherSchema(sent)
      expect(seen).toEqual([{ city: "Lisbon", days: 3 }])
      expect(byCall(completed, "type")).toMatchObject({ success: false })
      expect(byCall(completed, "range").error).toMatch(/days/)
    }))

  it.effect("a Standard Schema that is not an object, or an explicit JSON Schema that is not one, is refused", () =>
    Effect.gen(function*() {
      const notObject = Tool.make("t", { description: "d", parameters: z.string(), handler: () => 1 })
      const a = yield* Effect.flip(Agent.make({ name: "w", instructions: "", tools: [notObject] }))
      expect(a).toMatchObject({ field: "tools[0].parameters" })
      expect(a.message).toContain("must describe a JSON object")
      const badExplicit = Tool.make("t", {
        description: "d",
        parameters: v.object({}),
        jsonSchema: { type: "array" },
        handler: () => 1
      })
      const b = yield* Effect.flip(Agent.make({ name: "w", instructions: "", tools: [badExplicit] }))
      expect(b).toMatchObject({ field: "tools[0].jsonSchema" })
      const notJson = Tool.make("t", {
        description: "d",
        parameters: v.object({}),
        jsonSchema: { type: "object", default: 1n } as unknown as HookEvent.Json,
        handler: () => 1
      })
      const c = yield* Effect.flip(Agent.make({ name: "w", instructions: "", tools: [notJson] }))
      expect(c.message).toMatch(/^tools\[0\]\.jsonSchema: tool 't' the JSON Schema is not JSON-serialisable/)
    }))

  it.effect("an asynchronous Standard Schema (zod's async refine) decodes before the handler runs", () =>
    Effect.gen(function*() {
      const parameters = z.object({ city: z.string(), days: z.number().optional() }).refine(
        async (args) => args.city !== "Porto",
        { message: "no such city", path: ["city"] }
      )
      const { completed, seen } = yield* runWith(parameters)
      expect(seen).toEqual([{ city: "Lisbon", days: 3 }])
      expect(byCall(completed, "type")).toMatchObject({ success: false })
      expect(byCall(completed, "range").error).toBe("Invalid arguments for tool 'get_weather': city: no such city")
    }))

  it.effect("a Standard Schema whose validate throws is a failed result, not a crashed run", () =>
    Effect.gen(function*() {
      const throwing: StandardSchemaV1<{ city: string }> = {
        "~standard": {
          version: 1,
          vendor: "custom",
          validate: () => {
            throw new Error("validator bug")
          }
        }
      }
      const { completed, result } = yield* runWith(throwing as never, { type: "object", properties: {} })
      expect(result.status).toBe("success")
      expect(byCall(completed, "good").error).toBe(
        "Invalid arguments for tool 'get_weather': the custom schema threw: validator bug"
      )
    }))

  it.effect("the handler gets the schema's output (a zod transform), typed as such", () =>
    Effect.gen(function*() {
      const tool = Tool.make("count", {
        description: "Counts letters",
        parameters: z.object({ word: z.string().transform((s) => s.length) }),
        handler: ({ word }) => {
          const letters: number = word // a type error unless the handler gets the output type
          return { letters }
        }
      })
      const agent = yield* Agent.make({ name: "c", instructions: "", tools: [tool] })
      const result = yield* agent.run("count")
      const events = yield* (yield* MemoryRecorder).events(result.runId)
      expect(events.find((e) => e._tag === "ToolCallCompleted")).toMatchObject({ result: { letters: 6 } })
    }).pipe(Effect.provide(Layer.merge(
      ScriptedModel.layer([{ toolCalls: [{ name: "count", arguments: { word: "Lisbon" } }] }, { text: "6" }]),
      Recorder.memory
    ))))
})
