/**
 * The recorder and ledger contract, written once (as `@effect/sql`'s `SqlPersistedQueueTest.ts` is): every
 * backend's test file calls `recorderContract` with its own layer, and the same suite runs against it —
 * event order and gaplessness, what each event writes to the six tables (SQL backends), usage and totals on
 * every terminal path, the compare-and-swap claim, idempotency keys, call ids unique across runs, cancel
 * flags, the heartbeat (progress times through `RunLedger.get`, on every backend) and the sweep (backends
 * that have one). The oracle is the runtime's own transition table (`Lifecycle.apply`): after every step the
 * backend's stored run (`RunLedger.get`) must be what the fold says. Sequences are fed both by hand (to
 * reach the refusals the loop never provokes) and through the agent loop with a `ScriptedModel`.
 *
 * Runs are isolated by unique ids, so one backend instance (one database) serves the whole suite. A new
 * recorder (ingest, fleet, …) runs it from its own test file:
 *
 *   recorderContract("MyRecorder", () => MyRecorder.layer(options), { tables: readMyTables, sweep: MySweep.run })
 */
import { layer } from "@effect/vitest"
import type { Recorder, RunLedger } from "@sextant/runtime"
import type { Duration, Effect, Layer } from "effect"
import { groupTests } from "./contract/groups.js"
import type { Capabilities, SweepResult, Test } from "./contract/harness.js"
import { ledgerTests } from "./contract/ledger.js"
import { loopTests } from "./contract/loop.js"
import type { Tables } from "./contract/rows.js"
import { sequenceTests } from "./contract/sequences.js"

export type { SweepResult } from "./contract/harness.js"
export type { Row, TableName, Tables } from "./contract/rows.js"
export { tableNames } from "./contract/rows.js"

/** What a backend offers beyond the `Recorder` and `RunLedger` ports, for the parts of the suite that need it. */
export interface ContractOptions<R> {
  /**
   * Every row of the six tables for one run, decoded so that every dialect yields the same values (JSON
   * parsed, booleans as booleans, BIGINTs as numbers, timestamps as ISO-8601 strings in the `toISOString`
   * form — what `@sextant/recorder`'s `Tables` decodes). Given, the suite checks what each event writes to each
   * table.
   */
  readonly tables?: ((runId: string) => Effect.Effect<Tables, unknown, R>) | undefined
  /** The backend's sweep of stale runs. Given, the suite checks that it interrupts, abandons and spares the right runs. */
  readonly sweep?:
    | ((options: {
      readonly staleRunningAfter: Duration.DurationInput
      readonly abandonedWaitingAfter: Duration.DurationInput
    }) => Effect.Effect<
      SweepResult,
      unknown,
      R
    >)
    | undefined
}

/**
 * Registers the contract suite for one backend. `makeLayer` builds it (once for the suite: a fresh store,
 * e.g. a new database); `options` add the table and sweep checks a backend supports.
 */
export const recorderContract = <R, E>(
  name: string,
  makeLayer: () => Layer.Layer<Recorder | RunLedger | R, E>,
  options: ContractOptions<R> = {}
): void => {
  // The suite's layer provides R, so the capabilities can be typed against the two ports only.
  const caps = {
    tables: options.tables,
    sweep: options.sweep
  } as unknown as Capabilities
  layer(makeLayer(), { excludeTestServices: true, timeout: "60 seconds" })(`${name}: recorder contract`, (it) => {
    const test: Test = (testName, self) => it.effect(testName, self)
    sequenceTests(test, caps)
    groupTests(test, caps)
    ledgerTests(test, caps)
    loopTests(test, caps)
  })
}
