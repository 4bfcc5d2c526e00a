/**
 * The fifteen detectors: pure functions of a run's view (plus, for STEP_COUNT_INFLATION, a baseline of past
 * runs) to at most one finding each, with Dunetrace's thresholds and confidences.
 */
import { Guardrails } from "@sextant/runtime"
import type { RetrievalTool, Thresholds } from "../Config.js"
import type { Finding, Severity, SignalType } from "../Signal.js"
import { at, hash, recordedCost } from "./evidence.js"
import type { LlmCallView, RunView, ToolCallView } from "./runView.js"

/** Past runs of the same agent and version: their step counts (tool + model calls), newest first. */
export interface Baseline {
  readonly stepCounts: ReadonlyArray<number>
}

/** What a detector sees besides the run. */
export interface DetectContext {
  readonly thresholds: Thresholds
  readonly retrievalTools: Readonly<Record<string, RetrievalTool>>
  readonly baseline: Baseline | undefined
}

/** A detector: a pure function to at most one finding. */
export type Detector = (view: RunView, context: DetectContext) => Finding | undefined

type Evidence = Finding["evidence"]

const finding = (
  view: RunView,
  type: SignalType,
  severity: Severity,
  confidence: number,
  start: number,
  end: number,
  evidence: Evidence
): Finding => ({ type, severity, confidence, runId: view.runId, step: { start, end }, evidence })

const finalAnswer = (view: RunView) => view.exit === "final_answer"
const endOf = (c: ToolCallView | LlmCallView) => c.endSeq ?? c.startSeq
const failed = (c: ToolCallView) => c.success === false
/** Tool calls that ended (an unfinished call is neither a success nor a failure). */
const ended = (view: RunView) => view.tools.filter((c) => c.success !== undefined)

const toolLoop: Detector = (view, { thresholds: { TOOL_LOOP: t } }) => {
  if (view.tools.length < t.window) return undefined
  const last = view.tools.slice(-t.window)
  const counts = new Map<string, number>()
  for (const c of last) counts.set(c.name, (counts.get(c.name) ?? 0) + 1)
  const [tool, count] = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]!
  if (count < t.threshold) return undefined
  const same = last.filter((c) => c.name === tool)
  const start = same[0]!.startSeq
  const end = endOf(same[same.length - 1]!)
  return finding(view, "TOOL_LOOP", "HIGH", 0.95, start, end, {
    tool,
    count,
    window: t.window,
    distinctArguments: new Set(same.map((c) => hash(c.arguments))).size,
    ...recordedCost(view, start, end)
  })
}

const toolThrashing: Detector = (view, { thresholds: { TOOL_THRASHING: t } }) => {
  if (view.tools.length < t.window) return undefined
  const last = view.tools.slice(-t.window)
  const names = [...new Set(last.map((c) => c.name))]
  if (names.length !== 2) return undefined
  for (let i = 1; i < last.length; i++) if (last[i]!.name === last[i - 1]!.name) return undefined
  return finding(view, "TOOL_THRASHING", "HIGH", 0.9, last[0]!.startSeq, endOf(last[last.length - 1]!), {
    tools: names.sort(),
    window: t.window
  })
}

const toolAvoidance: Detector = (view, { thresholds: { TOOL_AVOIDANCE: t } }) => {
  if (!finalAnswer(view) || view.declaredTools.length === 0 || view.tools.length > 0) return undefined
  if (view.llms.length < t.minLlmCalls) return undefined
  return finding(view, "TOOL_AVOIDANCE", "MEDIUM", 0.75, 0, view.terminalSeq ?? view.lastSeq, {
    declaredTools: [...view.declaredTools],
    llmCalls: view.llms.length
  })
}

const goalAbandonment: Detector = (view, { thresholds: { GOAL_ABANDONMENT: t } }) => {
  if (view.exit !== "running" || view.tools.length === 0 || view.calls.length < t.stallSteps) return undefined
  const last = view.calls.slice(-t.stallSteps)
  if (!last.every((c) => c.kind === "llm")) return undefined
  return finding(view, "GOAL_ABANDONMENT", "MEDIUM", 0.7, last[0]!.startSeq, view.lastSeq, {
    trailingLlmCalls: last.length,
    toolCalls: view.tools.length,
    lastEventSeq: view.lastSeq
  })
}

const injectionRules = Guardrails.defaultPromptInjectionPatterns.map(({ name, pattern }) => ({
  name,
  regex: typeof pattern === "string"
    ? new RegExp(pattern, "i")
    : new RegExp(pattern.source, pattern.flags.replace("g", ""))
}))

const promptInjection: Detector = (view) => {
  if (view.input === undefined) return undefined
  const input = view.input
  const matched = injectionRules.filter((r) => r.regex.test(input)).map((r) => r.name)
  if (matched.length === 0) return undefined
  return finding(view, "PROMPT_INJECTION_SIGNAL", "CRITICAL", 0.85, 0, 0, { patterns: matched })
}

const resultCount = (result: unknown, spec: RetrievalTool): number | undefined => {
  const v = at(result, spec.countPath)
  if (Array.isArray(v)) return v.length
  return typeof v === "number" ? v : undefined
}
const topScore = (result: unknown, spec: RetrievalTool): number | undefined => {
  if (spec.scorePath === undefined) return undefined
  const v = at(result, spec.scorePath)
  if (typeof v === "number") return v
  if (Array.isArray(v)) {
    const nums = v.filter((n): n is number => typeof n === "number")
    return nums.length === 0 ? undefined : Math.max(...nums)
  }
  return undefined
}

const ragEmpty: Detector = (view, { retrievalTools, thresholds: { RAG_EMPTY_RETRIEVAL: t } }) => {
  if (!finalAnswer(view)) return undefined
  let worst: { call: ToolCallView; count: number | undefined; score: number | undefined; badness: number } | undefined
  for (const call of view.tools) {
    const spec = retrievalTools[call.name]
    if (spec === undefined || call.success !== true) continue
    const count = resultCount(call.result, spec)
    const score = topScore(call.result, spec)
    const emptyish = count !== undefined && count < t.minResults
    const weak = score !== undefined && score < t.minScore
    if (!emptyish && !weak) continue
    const badness = emptyish ? 2 : 1 - (score ?? 0)
    if (worst === undefined || badness > worst.badness) worst = { call, count, score, badness }
  }
  if (worst === undefined) return undefined
  return finding(view, "RAG_EMPTY_RETRIEVAL", "MEDIUM", 0.88, worst.call.startSeq, endOf(worst.call), {
    tool: worst.call.name,
    resultCount: worst.count ?? null,
    topScore: worst.score ?? null,
    minResults: t.minResults,
    minScore: t.minScore
  })
}

const truncated = (c: LlmCallView) => c.finishReason === "length" || c.finishReason === "max_tokens"

const truncationLoop: Detector = (view, { thresholds: { LLM_TRUNCATION_LOOP: t } }) => {
  const hits = view.llms.filter(truncated)
  if (hits.length < t.threshold) return undefined
  const start = hits[0]!.startSeq
  const end = endOf(hits[hits.length - 1]!)
  return finding(view, "LLM_TRUNCATION_LOOP", "HIGH", 0.9, start, end, {
    truncatedCalls: hits.length,
    threshold: t.threshold,
    ...recordedCost(view, start, end)
  })
}

const contextBloat: Detector = (view, { thresholds: { CONTEXT_BLOAT: t } }) => {
  const measured = view.llms.filter((c) => c.inputTokens !== undefined)
  if (measured.length < t.minCalls) return undefined
  const first = measured[0]!
  const last = measured[measured.length - 1]!
  const a = first.inputTokens!
  const b = last.inputTokens!
  if (a < t.minFirstTokens || b < t.minLastTokens || b / a < t.growthFactor) return undefined
  return finding(view, "CONTEXT_BLOAT", "MEDIUM", 0.8, first.startSeq, endOf(last), {
    firstInputTokens: a,
    lastInputTokens: b,
    growth: Math.round((b / a) * 100) / 100,
    llmCalls: measured.length
  })
}

const slowStep: Detector = (view, { thresholds: { SLOW_STEP: t } }) => {
  let worst: { seq: number; next: number; type: string; ms: number; limit: number; ratio: number } | undefined
  for (let i = 0; i + 1 < view.events.length; i++) {
    const e = view.events[i]!
    // A pause waits for a person, not for the agent: its gap is not a slow step.
    if (e._tag === "RunPaused") continue
    const limit = e._tag === "ToolCallStarted" ? t.toolMs : e._tag === "LlmCallStarted" ? t.llmMs : t.otherMs
    const ms = view.events[i + 1]!.timestamp - e.timestamp
    const ratio = ms / limit
    if (ratio > 1 && (worst === undefined || ratio > worst.ratio)) {
      worst = { seq: e.sequenceIndex, next: view.events[i + 1]!.sequenceIndex, type: e._tag, ms, limit, ratio }
    }
  }
  if (worst === undefined) return undefined
  return finding(view, "SLOW_STEP", worst.ratio >= t.highRatio ? "HIGH" : "MEDIUM", 0.92, worst.seq, worst.next, {
    eventType: worst.type,
    durationMs: worst.ms,
    limitMs: worst.limit,
    ratio: Math.round(worst.ratio * 100) / 100
  })
}

const retryStorm: Detector = (view, { thresholds: { RETRY_STORM: t } }) => {
  const calls = ended(view)
  let best: ReadonlyArray<ToolCallView> = []
  let cur: Array<ToolCallView> = []
  for (const c of calls) {
    if (failed(c) && (cur.length === 0 || cur[0]!.name === c.name)) cur.push(c)
    else cur = failed(c) ? [c] : []
    if (cur.length > best.length) best = [...cur]
  }
  if (best.length < t.threshold) return undefined
  return finding(view, "RETRY_STORM", "HIGH", 0.92, best[0]!.startSeq, endOf(best[best.length - 1]!), {
    tool: best[0]!.name,
    attempts: best.length,
    identicalArguments: new Set(best.map((c) => hash(c.arguments))).size === 1,
    identicalErrors: new Set(best.map((c) => hash(c.error))).size === 1
  })
}

/** An answer with nothing in it: finish `stop`, recorded text empty, no tool calls. Absent text is not empty. */
const isEmpty = (c: LlmCallView) =>
  !c.failed && c.finishReason === "stop" && c.text !== undefined && c.text.trim() === "" && c.toolCallCount === 0

const emptyResponse: Detector = (view) => {
  const hit = view.llms.find(isEmpty)
  if (hit === undefined) return undefined
  return finding(view, "EMPTY_LLM_RESPONSE", "HIGH", 0.95, hit.startSeq, endOf(hit), {
    model: hit.model ?? null,
    outputTokens: hit.outputTokens ?? null,
    emptyResponses: view.llms.filter(isEmpty).length
  })
}

/** The 75th percentile (nearest rank). */
export const p75 = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil(0.75 * sorted.length) - 1)]!
}

const stepInflation: Detector = (view, { baseline, thresholds: { STEP_COUNT_INFLATION: t } }) => {
  if (baseline === undefined || view.exit !== "final_answer") return undefined
  const sample = baseline.stepCounts.slice(0, t.baselineRuns)
  if (sample.length < t.minRuns) return undefined
  const p = p75(sample)
  const steps = view.calls.length
  if (steps <= t.factor * p) return undefined
  return finding(view, "STEP_COUNT_INFLATION", "MEDIUM", 0.82, 0, view.terminalSeq ?? view.lastSeq, {
    steps,
    baselineP75: p,
    baselineRuns: sample.length,
    factor: t.factor
  })
}

const cascading: Detector = (view, { thresholds: { CASCADING_TOOL_FAILURE: t } }) => {
  const calls = ended(view)
  let i = calls.length
  while (i > 0 && failed(calls[i - 1]!)) i--
  const trail = calls.slice(i)
  const names = new Set(trail.map((c) => c.name))
  if (trail.length < t.threshold || names.size < t.minTools) return undefined
  return finding(view, "CASCADING_TOOL_FAILURE", "HIGH", 0.88, trail[0]!.startSeq, endOf(trail[trail.length - 1]!), {
    failedCalls: trail.length,
    tools: [...names].sort()
  })
}

const firstStep: Detector = (view, { thresholds: { FIRST_STEP_FAILURE: t } }) => {
  const early = view.calls.slice(0, t.maxStep)
  if (view.exit === "error" && view.calls.length <= t.maxStep) {
    return finding(view, "FIRST_STEP_FAILURE", "MEDIUM", 0.9, 0, view.terminalSeq ?? view.lastSeq, {
      reason: "run_errored",
      steps: view.calls.length
    })
  }
  const empty = early.find((c): c is LlmCallView => c.kind === "llm" && isEmpty(c))
  if (empty !== undefined) {
    return finding(view, "FIRST_STEP_FAILURE", "MEDIUM", 0.88, empty.startSeq, endOf(empty), {
      reason: "empty_response",
      step: early.indexOf(empty) + 1
    })
  }
  const tool = early.find((c): c is ToolCallView => c.kind === "tool" && failed(c))
  if (tool !== undefined) {
    return finding(view, "FIRST_STEP_FAILURE", "MEDIUM", 0.85, tool.startSeq, endOf(tool), {
      reason: "tool_failed",
      tool: tool.name,
      step: early.indexOf(tool) + 1
    })
  }
  return undefined
}

const reasoningStall: Detector = (view, { thresholds: { REASONING_STALL: t } }) => {
  if (!finalAnswer(view) || view.llms.length < t.minLlmCalls) return undefined
  const ratio = view.llms.length / Math.max(view.tools.length, 1)
  if (ratio < t.ratio) return undefined
  const start = view.llms[0]!.startSeq
  const end = view.terminalSeq ?? view.lastSeq
  return finding(view, "REASONING_STALL", "MEDIUM", 0.7, start, end, {
    ...recordedCost(view, start, end),
    llmCalls: view.llms.length,
    toolCalls: view.tools.length,
    ratio: Math.round(ratio * 100) / 100
  })
}

/** Every detector by the signal type it raises. */
export const detectors: Readonly<Record<SignalType, Detector>> = {
  TOOL_LOOP: toolLoop,
  TOOL_THRASHING: toolThrashing,
  TOOL_AVOIDANCE: toolAvoidance,
  GOAL_ABANDONMENT: goalAbandonment,
  PROMPT_INJECTION_SIGNAL: promptInjection,
  RAG_EMPTY_RETRIEVAL: ragEmpty,
  LLM_TRUNCATION_LOOP: truncationLoop,
  CONTEXT_BLOAT: contextBloat,
  SLOW_STEP: slowStep,
  RETRY_STORM: retryStorm,
  EMPTY_LLM_RESPONSE: emptyResponse,
  STEP_COUNT_INFLATION: stepInflation,
  CASCADING_TOOL_FAILURE: cascading,
  FIRST_STEP_FAILURE: firstStep,
  REASONING_STALL: reasoningStall
}
