/**
 * Alert rules: a predicate over a run's events with per-run state. A rule fires once per run unless made with
 * `once: false` (then every time its condition holds). A rule whose condition depends on time passing (an
 * approval left waiting) asks to be woken with `wakeAt` and is then checked with a `Tick`.
 */
import { Lifecycle, type StreamEvent } from "@sextant/runtime"
import { Duration } from "effect"
import type { Severity } from "./Alert.js"
import type { DetectorSignal } from "./DetectorSignal.js"
import { checkDuration, checkNumber, invalid } from "./internal/config.js"
import { formatCount, formatDuration, formatUsd } from "./internal/text.js"

/** A timer a rule asked for has gone off for this run. */
export interface Tick {
  readonly _tag: "Tick"
  readonly runId: string
  readonly timestamp: number
}

/** What a rule checks: one of the run's events, a `Tick`, or a detector's signal about the (ended) run. */
export type RuleInput = StreamEvent.StreamEvent | Tick | DetectorSignal

/** What a rule reports when its condition holds. */
export interface Finding {
  readonly title: string
  readonly message: string
  /** Overrides the rule's severity for this finding. */
  readonly severity?: Severity | undefined
  readonly figures?: Readonly<Record<string, number | string>> | undefined
}

/** An alert rule with per-run state `S`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of rules/parts/tools of any type
export interface Rule<S = any> {
  readonly name: string
  readonly severity: Severity
  /** Fire at most once per run (default true). */
  readonly once: boolean
  /** A fresh state for a run, made at its first event. */
  readonly init: () => S
  /** Updates the state with the input and returns a finding when the condition holds. */
  readonly check: (input: RuleInput, state: S) => Finding | undefined
  /** After `check`, an epoch-ms time to be checked again with a `Tick` (for conditions about waiting). */
  readonly wakeAt?: ((input: RuleInput, state: S) => number | undefined) | undefined
}

/** Options of `make`. */
export interface RuleOptions<S> {
  readonly name: string
  readonly severity?: Severity | undefined
  readonly once?: boolean | undefined
  readonly init: () => S
  readonly check: (input: RuleInput, state: S) => Finding | undefined
  readonly wakeAt?: ((input: RuleInput, state: S) => number | undefined) | undefined
}

const severities: ReadonlySet<unknown> = new Set(["info", "warning", "critical"])

/**
 * Defines a custom rule. Throws a `NotifierConfigError` when `name` is empty, `severity` is not one of
 * `info`/`warning`/`critical`, or `init`/`check` is not a function.
 */
export const make = <S>(options: RuleOptions<S>): Rule<S> => {
  const component = "AlertRules.make"
  if (typeof options.name !== "string" || options.name.trim() === "") {
    invalid(component, "name", "must be a non-empty string (alerts and their idempotency keys carry it)")
  }
  if (options.severity !== undefined && !severities.has(options.severity)) {
    invalid(component, "severity", `must be "info", "warning" or "critical", got ${String(options.severity)}`)
  }
  if (typeof options.init !== "function") invalid(component, "init", "must be a function making a run's state")
  if (typeof options.check !== "function") invalid(component, "check", "must be a function")
  return {
    name: options.name,
    severity: options.severity ?? "warning",
    once: options.once ?? true,
    init: options.init,
    check: options.check,
    wakeAt: options.wakeAt
  }
}

/** Options every built-in rule takes. */
export interface BuiltinOptions {
  /** Default true: at most one alert per run. */
  readonly once?: boolean | undefined
  readonly severity?: Severity | undefined
  /** Rename the rule (to run two of a kind with different limits). */
  readonly name?: string | undefined
}

const builtin = <S>(defaults: RuleOptions<S>, options: BuiltinOptions | undefined): Rule<S> =>
  make({
    ...defaults,
    name: options?.name ?? defaults.name,
    severity: options?.severity ?? defaults.severity,
    once: options?.once ?? true
  })

/** Fires when a run fails (or the sweep interrupts or abandons it). */
export const runFailed = (options?: BuiltinOptions): Rule<null> =>
  builtin({
    name: "run_failed",
    severity: "critical",
    init: () => null,
    check: (input) => {
      if (input._tag === "RunFailed") {
        return {
          title: "Run failed",
          message: `${input.error.tag}: ${input.error.message}`,
          figures: { failureReason: input.failureReason, iterations: input.iterations }
        }
      }
      if (input._tag === "RunInterrupted" || input._tag === "RunAbandoned") {
        return {
          title: input._tag === "RunInterrupted" ? "Run interrupted" : "Run abandoned",
          message: `The sweep ended the run (it was ${input.previousStatus}).`,
          figures: { failureReason: input.failureReason }
        }
      }
      return undefined
    }
  }, options)

/**
 * Fires when a run's cost (summed over its model calls, or its final total) goes above `usd`. Throws a
 * `NotifierConfigError` unless `usd` is a finite number of at least 0.
 */
export const costAbove = (usd: number, options?: BuiltinOptions): Rule<{ cost: number }> => {
  checkNumber("AlertRules.costAbove", "usd", usd, 0)
  return builtin({
    name: "cost_above",
    severity: "warning",
    init: () => ({ cost: 0 }),
    check: (input, state) => {
      if (input._tag === "LlmCallCompleted") state.cost += input.usage?.costUsd ?? 0
      else if (
        (input._tag === "RunCompleted" || input._tag === "RunFailed" || input._tag === "RunCancelled") &&
        input.usage.costUsd !== undefined
      ) state.cost = Math.max(state.cost, input.usage.costUsd)
      else return undefined
      return state.cost > usd
        ? {
          title: `Run cost above ${formatUsd(usd)}`,
          message: `The run has cost ${formatUsd(state.cost)} (limit ${formatUsd(usd)}).`,
          figures: { costUsd: state.cost, limitUsd: usd }
        }
        : undefined
    }
  }, options)
}

/**
 * Fires when a run's tokens (input + output, summed over its model calls) go above `tokens`. Throws a
 * `NotifierConfigError` unless `tokens` is a finite number of at least 0.
 */
export const tokensAbove = (tokens: number, options?: BuiltinOptions): Rule<{ used: number }> => {
  checkNumber("AlertRules.tokensAbove", "tokens", tokens, 0)
  return builtin({
    name: "tokens_above",
    severity: "warning",
    init: () => ({ used: 0 }),
    check: (input, state) => {
      if (input._tag === "LlmCallCompleted") {
        state.used += (input.usage?.inputTokens ?? 0) + (input.usage?.outputTokens ?? 0)
      } else if (input._tag === "RunCompleted" || input._tag === "RunFailed" || input._tag === "RunCancelled") {
        state.used = Math.max(state.used, input.usage.inputTokens + input.usage.outputTokens)
      } else return undefined
      return state.used > tokens
        ? {
          title: `Run tokens above ${formatCount(tokens)}`,
          message: `The run has used ${formatCount(state.used)} tokens (limit ${formatCount(tokens)}).`,
          figures: { tokens: state.used, limit: tokens }
        }
        : undefined
    }
  }, options)
}

/**
 * Fires when `n` tool calls in a row failed (a success resets the count). Throws a `NotifierConfigError`
 * unless `n` is an integer of at least 1.
 */
export const toolFailuresInARow = (n: number, options?: BuiltinOptions): Rule<{ streak: number; last?: string }> => {
  checkNumber("AlertRules.toolFailuresInARow", "n", n, 1, { integer: true })
  return builtin<{ streak: number; last?: string }>({
    name: "tool_failures_in_a_row",
    severity: "warning",
    init: () => ({ streak: 0 }),
    check: (input, state) => {
      if (input._tag !== "ToolCallCompleted") return undefined
      if (input.success) {
        state.streak = 0
        return undefined
      }
      state.streak++
      state.last = input.error ?? input.toolName
      return state.streak >= n
        ? {
          title: `${state.streak} tool failures in a row`,
          message: `The last, ${input.toolName}, failed with: ${state.last}`,
          figures: { failures: state.streak, threshold: n, tool: input.toolName }
        }
        : undefined
    }
  }, options)
}

/**
 * Fires when the same tool is called `n` times in a row (a loop the model may be stuck in). Throws a
 * `NotifierConfigError` unless `n` is an integer of at least 1.
 */
export const sameToolInARow = (n: number, options?: BuiltinOptions): Rule<{ tool?: string; count: number }> => {
  checkNumber("AlertRules.sameToolInARow", "n", n, 1, { integer: true })
  return builtin<{ tool?: string; count: number }>({
    name: "same_tool_in_a_row",
    severity: "warning",
    init: () => ({ count: 0 }),
    check: (input, state) => {
      if (input._tag !== "ToolCallStarted") return undefined
      state.count = state.tool === input.toolName ? state.count + 1 : 1
      state.tool = input.toolName
      return state.count >= n
        ? {
          title: `${input.toolName} called ${state.count} times in a row`,
          message: `The model called ${input.toolName} ${state.count} times in a row; it may be stuck in a loop.`,
          figures: { tool: input.toolName, calls: state.count, threshold: n }
        }
        : undefined
    }
  }, options)
}

/**
 * Fires when an approval request has waited longer than `after` without a decision: on a timer while the run
 * waits, or on the next event of the run if the timer could not run. Throws a `NotifierConfigError` when
 * `after` is not a duration.
 */
export const approvalWaiting = (
  after: Duration.DurationInput,
  options?: BuiltinOptions
): Rule<{ pending: Map<string, { readonly tool: string; readonly at: number }> }> => {
  const limit = Duration.toMillis(checkDuration("AlertRules.approvalWaiting", "after", after))
  const overdue = (state: { pending: Map<string, { readonly tool: string; readonly at: number }> }, now: number) =>
    [...state.pending.values()].filter((p) => now - p.at >= limit)
  return builtin({
    name: "approval_waiting",
    severity: "warning",
    init: () => ({ pending: new Map() }),
    check: (input, state) => {
      if (input._tag === "ApprovalRequested") {
        state.pending.set(input.correlationId, { tool: input.toolName, at: input.timestamp })
      }
      if (input._tag === "ApprovalDecided" || Lifecycle.isTerminalEvent(input)) {
        state.pending.clear()
        return undefined
      }
      const late = overdue(state, input.timestamp)
      if (late.length === 0) return undefined
      const waited = input.timestamp - Math.min(...late.map((p) => p.at))
      return {
        title: `Approval waiting for ${formatDuration(waited)}`,
        message: `${late.map((p) => p.tool).join(", ")} ${late.length === 1 ? "has" : "have"} waited for approval ` +
          `for ${formatDuration(waited)} (limit ${formatDuration(limit)}).`,
        figures: { waitingMs: waited, limitMs: limit, pending: late.length }
      }
    },
    wakeAt: (input) => (input._tag === "ApprovalRequested" ? input.timestamp + limit : undefined)
  }, options)
}

const signalSeverities = ["LOW", "MEDIUM", "HIGH", "CRITICAL"] as const

/** Options of `detectorSignal`. */
export interface DetectorSignalOptions extends BuiltinOptions {
  /** Only these signal types (default: every type). */
  readonly types?: ReadonlyArray<string> | undefined
  /** Only signals at least this severe (default `LOW`: every signal). */
  readonly minSeverity?: DetectorSignal["severity"] | undefined
}

/**
 * Fires when `@sextant/detectors` hands over a live signal (a `DetectorSignal`) matching `types` and
 * `minSeverity`: the alert carries the signal's explanation (title, what happened, why it matters, the first
 * fix) and its type, severity and step range as figures. A `HIGH` or `CRITICAL` signal is a `critical`
 * alert, a `MEDIUM` one a `warning`, a `LOW` one `info`, unless `severity` fixes it. Fires once per signal
 * type and run by default. Throws a `NotifierConfigError` naming the setting when `types` is not an array of
 * strings or `minSeverity` is not a signal severity.
 */
export const detectorSignal = (options?: DetectorSignalOptions): Rule<null> => {
  const component = "AlertRules.detectorSignal"
  const types = options?.types
  if (types !== undefined && (!Array.isArray(types) || types.some((t) => typeof t !== "string"))) {
    invalid(component, "types", "must be an array of signal type names (TOOL_LOOP, RETRY_STORM, …)")
  }
  const min = options?.minSeverity ?? "LOW"
  if (!signalSeverities.includes(min)) {
    invalid(component, "minSeverity", `must be one of ${signalSeverities.join(", ")}, got ${String(min)}`)
  }
  const allowed = types === undefined ? undefined : new Set(types)
  const floor = signalSeverities.indexOf(min)
  return make({
    name: options?.name ?? "detector_signal",
    severity: options?.severity ?? "warning",
    // Each signal arrives alone after its run ended: `once` would silence a second type of the same run.
    once: options?.once ?? false,
    init: () => null,
    check: (input) => {
      if (input._tag !== "DetectorSignal") return undefined
      if (allowed !== undefined && !allowed.has(input.signalType)) return undefined
      const rank = signalSeverities.indexOf(input.severity)
      if (rank < floor) return undefined
      const e = input.explanation
      const fix = e.fixes[0]
      return {
        title: `${e.title} (${input.signalType})`,
        message: `${e.what} ${e.whyItMatters}${fix === undefined ? "" : ` Fix: ${fix.description}`}`,
        ...(options?.severity === undefined
          ? { severity: rank >= 2 ? "critical" : rank === 1 ? "warning" : "info" }
          : {}),
        figures: {
          signalType: input.signalType,
          signalSeverity: input.severity,
          signalId: input.signalId,
          stepStart: input.step.start,
          stepEnd: input.step.end
        }
      }
    }
  })
}
