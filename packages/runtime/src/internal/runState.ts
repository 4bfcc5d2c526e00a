/**
 * A run's execution state, built in one place: `fresh` for a new run, `fromPause` for a resumed one, and
 * `toPause` for what a paused run stores. The stored form is one Schema (`PauseState`), so what is written
 * is exactly what is read back.
 */
import { Either, type ParseResult, Schema } from "effect"
import { emptyRedactions, Redactions } from "../Guardrails.js"
import { Json, Message, OutputSchemaRef, PausedStatus, ToolCallRef, Usage } from "../HookEvent.js"
import type { LanguageModelService } from "../LanguageModel.js"
import * as Lifecycle from "../Lifecycle.js"
import type { RunLedgerService } from "../RunLedger.js"
import type { Bus } from "./bus.js"
import type { AgentDefinition } from "./definition.js"
import type { OutputSpec } from "./run/output.js"

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

const Totals = Schema.Struct({
  usage: Usage,
  modelCalls: Schema.Int,
  unpricedCalls: Schema.Int,
  costNanos: Schema.Int
})

const common = {
  agentName: Schema.String,
  status: PausedStatus,
  iteration: Schema.Int,
  orderIndex: Schema.Int,
  history: Schema.Array(Message),
  callsPerTool: Schema.Record({ key: Schema.String, value: Schema.Int }),
  budgetFired: Schema.Array(Schema.String),
  budgetExceeded: Schema.Boolean,
  /** The reversible placeholder mapping (raw values: stored only in pause state, never in events). */
  redactions: Redactions,
  delegationLevel: Schema.Int,
  tenantId: opt(Schema.String),
  batch: Batch,
  /** Ids of the calls the run waits on. */
  pending: Schema.Array(Schema.String),
  /** The run's output Schema (name and hash) and its failed decodes so far: a resume needs the same Schema. */
  output: opt(OutputSchemaRef),
  outputFailures: opt(Schema.Int)
}

const PauseStateV2 = Schema.Struct({ version: Schema.Literal(2), ...common, totals: Totals })

/** Version 1 kept the total usage and the call count only; a run paused by it resumes with its cost intact. */
const PauseStateV1 = Schema.Struct({ version: Schema.Literal(1), ...common, usage: Usage, modelCalls: Schema.Int })

const fromV1 = Schema.transform(PauseStateV1, Schema.typeSchema(PauseStateV2), {
  strict: true,
  decode: ({ modelCalls, usage, version: _, ...rest }) => ({
    ...rest,
    version: 2 as const,
    totals: {
      usage,
      modelCalls,
      // An unknown total cost stays unknown: one unpriced call is enough to say so.
      unpricedCalls: usage.costUsd === undefined && modelCalls > 0 ? 1 : 0,
      costNanos: Lifecycle.toNanos(usage.costUsd ?? 0)
    }
  }),
  encode: ({ totals, version: _, ...rest }) => ({
    ...rest,
    version: 1 as const,
    usage: totals.usage,
    modelCalls: totals.modelCalls
  })
})

/** What a paused run stores to be continued by any process (older versions are read and upgraded). */
export const PauseState = Schema.Union(PauseStateV2, fromV1)
/** What a paused run stores. */
export type PauseState = typeof PauseState.Type

const encodePause = Schema.encodeSync(PauseState)
const decodePauseEither = Schema.decodeUnknownEither(PauseState)

/** Reads a stored pause state. */
export const decodePause = (stored: unknown): Either.Either<PauseState, ParseResult.ParseError> =>
  decodePauseEither(stored)

/** What one segment runs with: its bus, the model and ledger of this process, and whether it streams. */
export interface Segment {
  readonly bus: Bus
  readonly model: LanguageModelService
  readonly ledger: RunLedgerService | undefined
  readonly streaming: boolean
}

/** Mutable state of one run segment. */
export interface RunState extends Segment {
  readonly agent: AgentDefinition
  readonly tenantId: string | undefined
  readonly delegationLevel: number
  history: Array<Message>
  orderIndex: number
  iterations: number
  /** Usage totals as every recorder keeps them (costs in nano-dollars). */
  totals: Lifecycle.Totals
  callsPerTool: Map<string, number>
  budgetFired: Set<string>
  budgetExceeded: boolean
  redactions: Redactions
  /** Model and tool calls under way: while there are any, the run's heartbeat refreshes its progress. */
  inFlight: number
  /** The run's structured output Schema (set by start and resume, see `run/output.ts`). */
  output: OutputSpec | undefined
  /** Answers that did not decode with `output` so far (repairs are counted against the limit across pauses). */
  outputFailures: number
}

/** The state of a new run. */
export const fresh = (
  segment: Segment,
  agent: AgentDefinition,
  options: { readonly tenantId: string | undefined; readonly delegationLevel: number }
): RunState => ({
  ...segment,
  agent,
  tenantId: options.tenantId,
  delegationLevel: options.delegationLevel,
  history: [],
  orderIndex: 0,
  iterations: 0,
  totals: Lifecycle.emptyTotals,
  callsPerTool: new Map(),
  budgetFired: new Set(),
  budgetExceeded: false,
  redactions: emptyRedactions,
  inFlight: 0,
  output: undefined,
  outputFailures: 0
})

/** The state of a resumed run, from what its pause stored. */
export const fromPause = (segment: Segment, agent: AgentDefinition, saved: PauseState): RunState => ({
  ...segment,
  agent,
  tenantId: saved.tenantId,
  delegationLevel: saved.delegationLevel,
  history: [...saved.history],
  orderIndex: saved.orderIndex,
  iterations: saved.iteration,
  totals: saved.totals,
  callsPerTool: new Map(Object.entries(saved.callsPerTool)),
  budgetFired: new Set(saved.budgetFired),
  budgetExceeded: saved.budgetExceeded,
  redactions: saved.redactions,
  inFlight: 0,
  output: undefined,
  outputFailures: saved.outputFailures ?? 0
})

/** What a run pausing in `status`, waiting on `pending` of `batch`, stores (encoded: plain JSON). */
export const toPause = (
  state: RunState,
  status: PausedStatus,
  batch: Batch,
  pending: ReadonlyArray<string>
): Json =>
  encodePause({
    version: 2,
    agentName: state.agent.name,
    status,
    iteration: state.iterations,
    orderIndex: state.orderIndex,
    history: state.history,
    totals: state.totals,
    callsPerTool: Object.fromEntries(state.callsPerTool),
    budgetFired: [...state.budgetFired],
    budgetExceeded: state.budgetExceeded,
    redactions: state.redactions,
    delegationLevel: state.delegationLevel,
    ...(state.tenantId === undefined ? {} : { tenantId: state.tenantId }),
    batch,
    pending,
    ...(state.output === undefined ? {} : { output: state.output.ref, outputFailures: state.outputFailures })
  })
