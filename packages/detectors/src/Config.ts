/**
 * Detector thresholds: Dunetrace's defaults, overridable for all agents (`defaults`) and per agent name
 * (`agents`), validated with `Schema` (an unknown key or an out-of-range value fails with the setting's path),
 * plus which signal types are live (the rest are recorded in shadow), retrieval tools and the stall timeout.
 */
import { Duration, Effect, Either, ParseResult, Schema } from "effect"
import { DetectorConfigError } from "./Errors.js"
import { SignalType } from "./Signal.js"

const PosInt = Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))
const NonNeg = Schema.Number.pipe(Schema.nonNegative())
const Positive = Schema.Number.pipe(Schema.positive())
const Fraction = Schema.Number.pipe(Schema.between(0, 1))
const part = <F extends Schema.Struct.Fields>(fields: F) => Schema.partial(Schema.Struct(fields))

/** The thresholds of every detector (each key optional in an override). */
export const ThresholdFields = {
  TOOL_LOOP: Schema.Struct({ window: PosInt, threshold: PosInt }),
  TOOL_THRASHING: Schema.Struct({ window: PosInt.pipe(Schema.greaterThanOrEqualTo(3)) }),
  TOOL_AVOIDANCE: Schema.Struct({ minLlmCalls: PosInt }),
  GOAL_ABANDONMENT: Schema.Struct({ stallSteps: PosInt }),
  PROMPT_INJECTION_SIGNAL: Schema.Struct({}),
  RAG_EMPTY_RETRIEVAL: Schema.Struct({ minResults: Schema.Int.pipe(Schema.nonNegative()), minScore: Fraction }),
  LLM_TRUNCATION_LOOP: Schema.Struct({ threshold: PosInt }),
  CONTEXT_BLOAT: Schema.Struct({
    minCalls: PosInt.pipe(Schema.greaterThanOrEqualTo(2)),
    minFirstTokens: NonNeg,
    minLastTokens: NonNeg,
    growthFactor: Positive
  }),
  SLOW_STEP: Schema.Struct({ toolMs: Positive, llmMs: Positive, otherMs: Positive, highRatio: Positive }),
  RETRY_STORM: Schema.Struct({ threshold: PosInt.pipe(Schema.greaterThanOrEqualTo(2)) }),
  EMPTY_LLM_RESPONSE: Schema.Struct({}),
  STEP_COUNT_INFLATION: Schema.Struct({ factor: Positive, minRuns: PosInt, baselineRuns: PosInt }),
  CASCADING_TOOL_FAILURE: Schema.Struct({ threshold: PosInt.pipe(Schema.greaterThanOrEqualTo(2)), minTools: PosInt }),
  FIRST_STEP_FAILURE: Schema.Struct({ maxStep: PosInt }),
  REASONING_STALL: Schema.Struct({ minLlmCalls: PosInt, ratio: Positive })
} as const

/** Complete thresholds of every detector. */
export const Thresholds = Schema.Struct(ThresholdFields).annotations({ identifier: "Thresholds" })
/** Complete thresholds of every detector. */
export type Thresholds = typeof Thresholds.Type

/** An override: any detector, any of its keys. */
export const ThresholdOverrides = Schema.partial(Schema.Struct({
  TOOL_LOOP: part(ThresholdFields.TOOL_LOOP.fields),
  TOOL_THRASHING: part(ThresholdFields.TOOL_THRASHING.fields),
  TOOL_AVOIDANCE: part(ThresholdFields.TOOL_AVOIDANCE.fields),
  GOAL_ABANDONMENT: part(ThresholdFields.GOAL_ABANDONMENT.fields),
  PROMPT_INJECTION_SIGNAL: part(ThresholdFields.PROMPT_INJECTION_SIGNAL.fields),
  RAG_EMPTY_RETRIEVAL: part(ThresholdFields.RAG_EMPTY_RETRIEVAL.fields),
  LLM_TRUNCATION_LOOP: part(ThresholdFields.LLM_TRUNCATION_LOOP.fields),
  CONTEXT_BLOAT: part(ThresholdFields.CONTEXT_BLOAT.fields),
  SLOW_STEP: part(ThresholdFields.SLOW_STEP.fields),
  RETRY_STORM: part(ThresholdFields.RETRY_STORM.fields),
  EMPTY_LLM_RESPONSE: part(ThresholdFields.EMPTY_LLM_RESPONSE.fields),
  STEP_COUNT_INFLATION: part(ThresholdFields.STEP_COUNT_INFLATION.fields),
  CASCADING_TOOL_FAILURE: part(ThresholdFields.CASCADING_TOOL_FAILURE.fields),
  FIRST_STEP_FAILURE: part(ThresholdFields.FIRST_STEP_FAILURE.fields),
  REASONING_STALL: part(ThresholdFields.REASONING_STALL.fields)
}))
/** An override: any detector, any of its keys. */
export type ThresholdOverrides = typeof ThresholdOverrides.Type

/** Dunetrace's defaults. */
export const defaults: Thresholds = {
  TOOL_LOOP: { window: 5, threshold: 3 },
  TOOL_THRASHING: { window: 6 },
  TOOL_AVOIDANCE: { minLlmCalls: 2 },
  GOAL_ABANDONMENT: { stallSteps: 4 },
  PROMPT_INJECTION_SIGNAL: {},
  RAG_EMPTY_RETRIEVAL: { minResults: 1, minScore: 0.3 },
  LLM_TRUNCATION_LOOP: { threshold: 2 },
  CONTEXT_BLOAT: { minCalls: 3, minFirstTokens: 10, minLastTokens: 2000, growthFactor: 3 },
  SLOW_STEP: { toolMs: 15_000, llmMs: 30_000, otherMs: 60_000, highRatio: 5 },
  RETRY_STORM: { threshold: 3 },
  EMPTY_LLM_RESPONSE: {},
  STEP_COUNT_INFLATION: { factor: 2, minRuns: 10, baselineRuns: 50 },
  CASCADING_TOOL_FAILURE: { threshold: 3, minTools: 2 },
  FIRST_STEP_FAILURE: { maxStep: 2 },
  REASONING_STALL: { minLlmCalls: 5, ratio: 4 }
}

/**
 * How a retrieval tool's result is read: `countPath` (dot path to a number, or to an array whose length
 * counts; the result itself when absent) and `scorePath` (dot path to a number or an array of numbers whose
 * maximum is the top score; no score check when absent).
 */
export const RetrievalTool = Schema.Struct({
  countPath: Schema.optionalWith(Schema.String, { exact: true }),
  scorePath: Schema.optionalWith(Schema.String, { exact: true })
})
/** How a retrieval tool's result is read. */
export type RetrievalTool = typeof RetrievalTool.Type

/** The configuration `Detectors.layer` and `Detectors.backfill` take (all keys optional). */
export const DetectorConfig = Schema.Struct({
  /** Overrides for every agent. */
  defaults: Schema.optionalWith(ThresholdOverrides, { exact: true }),
  /** Overrides per agent name, on top of `defaults`. */
  agents: Schema.optionalWith(Schema.Record({ key: Schema.String, value: ThresholdOverrides }), { exact: true }),
  /** Signal types that alert; every other type is recorded with `shadow: true` (default: none live). */
  live: Schema.optionalWith(Schema.Array(SignalType), { exact: true }),
  /** Tools whose results are retrievals, by tool name. */
  retrievalTools: Schema.optionalWith(Schema.Record({ key: Schema.String, value: RetrievalTool }), { exact: true }),
  /** How long a running run may go without an event before it is evaluated as stalled (ms, default 90 000). */
  stallTimeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { exact: true }),
  /** The run-metadata key holding the agent's version, for the step-count baseline (default `version`). */
  versionKey: Schema.optionalWith(Schema.String, { exact: true })
}).annotations({ identifier: "DetectorConfig" })
/** The configuration, as written. */
export type DetectorConfig = typeof DetectorConfig.Encoded

/** A decoded configuration with every default filled in. */
export interface ResolvedConfig {
  readonly thresholdsFor: (agentName: string) => Thresholds
  readonly live: ReadonlySet<SignalType>
  readonly retrievalTools: Readonly<Record<string, RetrievalTool>>
  readonly stallTimeout: Duration.Duration
  readonly versionKey: string
}

const merge = (base: Thresholds, over: ThresholdOverrides | undefined): Thresholds => {
  if (over === undefined) return base
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    out[key] = { ...(base as Record<string, object>)[key], ...value }
  }
  return out as Thresholds
}

const pathOf = (issue: ParseResult.ArrayFormatterIssue): string =>
  issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".")

/** Decodes a configuration (unknown keys rejected); fails with `DetectorConfigError` naming the setting. */
export const decode = (input: unknown): Either.Either<ResolvedConfig, DetectorConfigError> => {
  const decoded = Schema.decodeUnknownEither(DetectorConfig, { onExcessProperty: "error", errors: "all" })(
    input ?? {}
  )
  if (Either.isLeft(decoded)) {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)
    const first = issues[0]
    const path = first === undefined ? "(root)" : pathOf(first)
    const text = issues.map((i) => `${pathOf(i)}: ${i.message}`).join("; ")
    return Either.left(
      new DetectorConfigError({
        path,
        message: `invalid detector configuration at ${text} (see Config.ThresholdFields for the settings and ranges)`
      })
    )
  }
  const config = decoded.right
  const base = merge(defaults, config.defaults)
  const perAgent = new Map<string, Thresholds>()
  for (const [name, over] of Object.entries(config.agents ?? {})) perAgent.set(name, merge(base, over))
  return Either.right({
    thresholdsFor: (agentName) => perAgent.get(agentName) ?? base,
    live: new Set(config.live ?? []),
    retrievalTools: config.retrievalTools ?? {},
    stallTimeout: Duration.millis(config.stallTimeoutMs ?? 90_000),
    versionKey: config.versionKey ?? "version"
  })
}

/** `decode` as an Effect (for layers: a bad configuration fails startup). */
export const resolve = (input: unknown): Effect.Effect<ResolvedConfig, DetectorConfigError> =>
  Either.match(decode(input), { onLeft: Effect.fail, onRight: Effect.succeed })

/** The configuration with nothing overridden. */
export const defaultConfig: ResolvedConfig = Either.getOrThrow(decode({}))
