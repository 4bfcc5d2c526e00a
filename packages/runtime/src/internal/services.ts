/**
 * The services a run reads from its context, each read so that a missing one says which layers provide it
 * (Effect's own defect, `Service not found: @sextant/runtime/LanguageModel`, names only the tag). Effect code
 * gets a type error first; this is for code that cast the requirement away or runs from plain JavaScript.
 */
import { type Context, Effect, Option } from "effect"
import { ServiceNotProvided } from "../Errors.js"
import { LanguageModel, type LanguageModelService } from "../LanguageModel.js"
import { Recorder, type RecorderService } from "../Recorder.js"
import { RunLedger, type RunLedgerService } from "../RunLedger.js"

const needed = <I, S>(
  tag: Context.Tag<I, S>,
  service: string,
  providedBy: ReadonlyArray<string>,
  why: string
): Effect.Effect<S, never, I> =>
  Effect.flatMap(Effect.serviceOption(tag), (found) =>
    Option.isSome(found)
      ? Effect.succeed(found.value)
      : Effect.die(
        new ServiceNotProvided({
          service,
          providedBy,
          message: `no ${service} was provided: ${why}. Provide one of ${
            providedBy.join(", ")
          } (with Effect.provide, or in the layer given to AgentRuntime.make)`
        })
      ))

/** The run's model. */
export const languageModel: Effect.Effect<LanguageModelService, never, LanguageModel> = needed(
  LanguageModel,
  "LanguageModel",
  [
    "ScriptedModel.layer(script) (@sextant/runtime, for tests and examples)",
    "Model.fromString(\"openai:gpt-4.1\") from @sextant/providers",
    "OpenAi.layer / Anthropic.layer / OpenAiCompatible.layer from @sextant/providers"
  ],
  "a run calls the model through the LanguageModel service"
)

/** The run's recorder. */
export const recorder: Effect.Effect<RecorderService, never, Recorder> = needed(
  Recorder,
  "Recorder",
  [
    "Recorder.memory (@sextant/runtime, in memory)",
    "SqlRecorder.layerFromUrl(url) from @sextant/recorder (SQLite or Postgres)"
  ],
  "every run is recorded (fail-closed) through the Recorder service"
)

/** The run ledger (resume, cancel, retry). */
export const runLedger: Effect.Effect<RunLedgerService, never, RunLedger> = needed(
  RunLedger,
  "RunLedger",
  [
    "Recorder.memory (@sextant/runtime)",
    "SqlRecorder.layerFromUrl(url) from @sextant/recorder"
  ],
  "resuming, cancelling and retrying read the run back through the RunLedger service"
)
