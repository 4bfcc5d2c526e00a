/**
 * @sextant/detectors: deterministic failure detectors over recorded runs, their explanations, and the
 * `failure_signals` table they write.
 */
/** The detectors as pure functions, and `detect`. */
export * as Catalogue from "./Catalogue.js"
/** Thresholds, live types, retrieval tools, stall timeout: the validated configuration. */
export * as Config from "./Config.js"
/** Tagged errors. */
export * from "./Errors.js"
/** Deterministic explanations of signals. */
export * as Explain from "./Explain.js"
/** The detectors' input: hook events or stored event rows. */
export * as RunEvents from "./RunEvents.js"
/** Signal types, severities and the stored signal. */
export * as Signal from "./Signal.js"
/** The detection service: live evaluation, stall timers, backfill. */
export * from "./Detectors.js"
/** The stored signals: lists, explanations, labels, precision, insights. */
export * from "./Signals.js"
