import { Effect, Either } from "effect"
import { describe, expect, it } from "vitest"
import { Catalogue, Config } from "../src/index.js"
import { run } from "./builder.js"

const fail = (input: unknown) => {
  const out = Config.decode(input)
  if (Either.isRight(out)) throw new Error("expected a failure")
  return out.left
}

describe("detector configuration", () => {
  it("rejects an unknown key with its path", () => {
    expect(fail({ agents: { search: { TOOL_LOOP: { windw: 4 } } } })).toMatchObject({
      _tag: "DetectorConfigError",
      path: "agents.search.TOOL_LOOP.windw"
    })
    expect(fail({ defaults: { NOT_A_DETECTOR: {} } }).path).toBe("defaults.NOT_A_DETECTOR")
    expect(fail({ polling: true }).path).toBe("polling")
  })
  it("rejects an out-of-range value with its path and says where the ranges are", () => {
    const e = fail({ defaults: { RAG_EMPTY_RETRIEVAL: { minScore: 1.5 } } })
    expect(e.path).toBe("defaults.RAG_EMPTY_RETRIEVAL.minScore")
    expect(e.message).toContain("Config.ThresholdFields")
    expect(fail({ live: ["NOPE"] }).path).toBe("live.0")
    expect(fail({ stallTimeoutMs: 0 }).path).toBe("stallTimeoutMs")
  })
  it("fails startup through `resolve`", () => {
    const exit = Effect.runSyncExit(Config.resolve({ defaults: { TOOL_LOOP: { threshold: 0 } } }))
    expect(exit._tag).toBe("Failure")
  })
  it("applies per-agent overrides over defaults over Dunetrace's values", () => {
    const config = Either.getOrThrow(Config.decode({
      defaults: { TOOL_LOOP: { threshold: 4 } },
      agents: { strict: { TOOL_LOOP: { window: 3, threshold: 3 } } }
    }))
    expect(config.thresholdsFor("any").TOOL_LOOP).toEqual({ window: 5, threshold: 4 })
    expect(config.thresholdsFor("strict").TOOL_LOOP).toEqual({ window: 3, threshold: 3 })
    expect(config.thresholdsFor("any").RETRY_STORM).toEqual(Config.defaults.RETRY_STORM)
    const three = (agentName: string) => run("r", { agentName }).tool("s").tool("s").tool("s").complete().events
    expect(Catalogue.detect("r", three("strict"), { config }).findings.map((f) => f.type)).toContain("TOOL_LOOP")
    expect(Catalogue.detect("r", three("any"), { config }).findings.map((f) => f.type)).not.toContain("TOOL_LOOP")
  })
})
