import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { Agent, AgentRuntime, type LanguageModel, Recorder, ScriptedModel, ServiceNotProvided } from "../src/index.js"

const agent = Agent.makeSync({ name: "a", instructions: "" })

/** The defect a program died with, run as plain JavaScript would (its requirements cast away). */
const defectOf = async (program: Effect.Effect<unknown, unknown, never>): Promise<unknown> => {
  const exit = await Effect.runPromiseExit(program)
  if (Exit.isSuccess(exit)) throw new Error("expected the program to die")
  return Cause.squash(exit.cause)
}

type Provided = Effect.Effect<unknown, unknown, never>

describe("a run without a service it needs names the layers that provide it", () => {
  it("no LanguageModel: ScriptedModel.layer and Model.fromString", async () => {
    const program = agent.run("hi").pipe(Effect.provide(Recorder.memory)) as Provided
    const defect = await defectOf(program)
    expect(defect).toBeInstanceOf(ServiceNotProvided)
    expect(defect).toMatchObject({ _tag: "ServiceNotProvided", service: "LanguageModel" })
    const message = (defect as ServiceNotProvided).message
    expect(message).toMatch(/^no LanguageModel was provided/)
    expect(message).toContain("ScriptedModel.layer")
    expect(message).toContain("Model.fromString")
    expect(message).not.toContain("Service not found")
  })

  it("no Recorder: Recorder.memory and SqlRecorder.layerFromUrl", async () => {
    const program = agent.run("hi").pipe(Effect.provide(ScriptedModel.layer([{ text: "ok" }]))) as Provided
    const defect = await defectOf(program)
    expect(defect).toMatchObject({ _tag: "ServiceNotProvided", service: "Recorder" })
    expect((defect as ServiceNotProvided).message).toContain("Recorder.memory")
    expect((defect as ServiceNotProvided).message).toContain("SqlRecorder.layerFromUrl")
  })

  it("no RunLedger for a resume: the recorders that serve one", async () => {
    const program = agent.submitInput("r", "yes").pipe(
      Effect.provide(ScriptedModel.layer([])),
      Effect.provideService(Recorder, { record: () => Effect.void })
    ) as Provided
    const defect = await defectOf(program)
    expect(defect).toMatchObject({ _tag: "ServiceNotProvided", service: "RunLedger" })
    expect((defect as ServiceNotProvided).message).toContain("SqlRecorder.layerFromUrl")
  })

  it("AgentRuntime over a layer that lacks the recorder rejects with the same error", async () => {
    // As plain JavaScript would pass it: the layer provides the model only.
    const layer = ScriptedModel.layer([{ text: "ok" }]) as unknown as Layer.Layer<LanguageModel | Recorder>
    const runtime = AgentRuntime.make(layer)
    try {
      const error = await runtime.run(agent, "hi").then(() => expect.unreachable(), (e: unknown) => e)
      expect(error).toBeInstanceOf(ServiceNotProvided)
      expect(error).toMatchObject({ service: "Recorder" })
    } finally {
      await runtime.dispose()
    }
  })
})
