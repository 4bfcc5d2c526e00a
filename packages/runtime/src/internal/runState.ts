import { Schema } from "effect"
import type { AgentDefinition } from "../Agent.js"
import { Redactions } from "../Guardrails.js"
import { Json, Message, PausedStatus, ToolCallRef, Usage } from "../HookEvent.js"
import type { LanguageModelService } from "../LanguageModel.js"
import type { RunLedgerService } from "../RunLedger.js"
import type { Bus } from "./bus.js"

const opt = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/** How a tool call ended: a JSON result, or a failure with a message the model will see. */
export const ToolOutcome = Schema.Struct({
  success: Schema.Boolean,
  result: Json,
  error: opt(Schema.String),
  durationMs: Schema.Number
})
/** How a tool call ended. */
export type ToolOutcome = typeof ToolOutcome.Type

/** The tool calls of one assistant message, as far as they have been decided. */
export const Batch = Schema.Struct({
  iteration: Schema.Int,
  calls: Schema.Array(ToolCallRef),
  outcomes: Schema.Record({ key: Schema.String, value: ToolOutcome }),
  /** Set once a human approved the batch's gated calls. */
  approved: Schema.Boolean
})
/** The tool calls of one assistant message. */
export type Batch = typeof Batch.Type

/** What a paused run stores to be continued by any process. */
export const PauseState = Schema.Struct({
  version: Schema.Literal(1),
  agentName: Schema.String,
  status: PausedStatus,
  iteration: Schema.Int,
  orderIndex: Schema.Int,
  history: Schema.Array(Message),
  usage: Usage,
  modelCalls: Schema.Int,
  callsPerTool: Schema.Record({ key: Schema.String, value: Schema.Int }),
  budgetFired: Schema.Array(Schema.String),
  budgetExceeded: Schema.Boolean,
  /** The reversible placeholder mapping (raw values: stored only in pause state, never in events). */
  redactions: Redactions,
  delegationLevel: Schema.Int,
  tenantId: opt(Schema.String),
  batch: Batch,
  /** Ids of the calls the run waits on. */
  pending: Schema.Array(Schema.String)
})
/** What a paused run stores. */
export type PauseState = typeof PauseState.Type

/** Mutable state of one run segment. */
export interface RunState {
  readonly bus: Bus
  readonly agent: AgentDefinition
  readonly model: LanguageModelService
  readonly ledger: RunLedgerService | undefined
  readonly streaming: boolean
  readonly tenantId: string | undefined
  readonly delegationLevel: number
  history: Array<Message>
  orderIndex: number
  iterations: number
  usage: Usage
  modelCalls: number
  callsPerTool: Map<string, number>
  budgetFired: Set<string>
  budgetExceeded: boolean
  redactions: Redactions
}
