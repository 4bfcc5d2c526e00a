/**
 * @sextant/runtime: the agent loop, its hook events and the ports it records and notifies through.
 */
/** Agents and how to run them. */
export * as Agent from "./Agent.js"
/** A Promise facade for hosts without Effect. */
export * as AgentRuntime from "./AgentRuntime.js"
/** Tagged errors. */
export * from "./Errors.js"
/** The hook bus for runs recorded from outside the agent loop. */
export * as HookBus from "./HookBus.js"
/** The hook events. */
export * as HookEvent from "./HookEvent.js"
/** The run lifecycle: the transition table every recorder applies. */
export * as Lifecycle from "./Lifecycle.js"
/** Time-sortable ids. */
export * as Ids from "./Ids.js"
/** The model port. */
export * from "./LanguageModel.js"
/** Notifier definitions. */
export * as Notifier from "./Notifier.js"
/** The notifier dispatcher. */
export * from "./Notifiers.js"
/** The recorder port. */
export * from "./Recorder.js"
/** The retry vocabulary shared by the recorder, providers and HTTP notifiers. */
export * as RetryPolicy from "./RetryPolicy.js"
/** Run results. */
export type * from "./RunResult.js"
/** The run ledger port (resume, cancel, idempotency). */
export * from "./RunLedger.js"
/** Operations on recorded runs. */
export * as Runs from "./Runs.js"
/** The redaction policy: what is not stored or observed, size caps and blob offload. */
export * as Redaction from "./Redaction.js"
/** Guardrails at the model boundary. */
export * as Guardrails from "./Guardrails.js"
/** Model prices. */
export * as Pricing from "./Pricing.js"
/** The scripted test model. */
export * as ScriptedModel from "./ScriptedModel.js"
/** The Standard Schema interfaces tool parameters may implement. */
export type * from "./StandardSchema.js"
/** Stream-only events. */
export * as StreamEvent from "./StreamEvent.js"
/** Tool definitions. */
export * as Tool from "./Tool.js"
