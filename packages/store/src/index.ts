/**
 * @sextant/store: the RunStore, typed read-only queries over recorded runs.
 */
/** Tagged errors. */
export * from "./Errors.js"
/** Deterministic explanations of failure signals (every signal record carries one). */
export * as Explain from "./Explain.js"
/** The store's arguments as Schemas (also the read router's parameter schemas). */
export * as Options from "./Options.js"
/** The records the store returns (also the read router's response schemas). */
export * as Records from "./Records.js"
/** The RunStore service, its layer and its Promise facade. */
export * from "./RunStore.js"
/** Records shaped for a UI: run rows, waiting runs, timelines (also the read router's view schemas). */
export * as Views from "./Views.js"
