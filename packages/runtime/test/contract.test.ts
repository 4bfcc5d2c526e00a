/**
 * The recorder contract against `Recorder.memory`: the in-memory recorder and ledger must keep runs exactly
 * as the SQL recorder does (and as the runtime's lifecycle table says).
 */
import { recorderContract } from "../../../test-support/recorderContract.js"
import { Recorder } from "../src/index.js"

recorderContract("Recorder.memory", () => Recorder.memory)
