/** The explanation templates: one per signal type, deterministic text from a finding's evidence. */
import type { Tables } from "@sextant/recorder"

/** What a template reads of a signal: a stored `SignalRecord` or a detector's finding. */
export interface Explainable {
  readonly type: string
  readonly severity: string
  readonly step: { readonly start: number; readonly end: number }
  readonly evidence: Readonly<Record<string, unknown>>
}
type Finding = Explainable
type SignalType = Tables.SignalType

import type { Explanation } from "../Records.js"

type Ev = Finding["evidence"]
const n = (ev: Ev, key: string): string => {
  const v = ev[key]
  return typeof v === "number" ? String(v) : "an unknown number of"
}
const s = (ev: Ev, key: string): string => {
  const v = ev[key]
  if (typeof v === "string") return `'${v}'`
  if (Array.isArray(v)) return v.map((x) => `'${String(x)}'`).join(" and ")
  return "an unrecorded value"
}
const steps = (f: Finding) =>
  f.step.start === f.step.end ? `event ${f.step.start}` : `events ${f.step.start}–${f.step.end}`

/** The recorded cost of the calls in the range, in words (never an estimate). */
export const costWords = (ev: Ev): string => {
  const cost = ev.costUsd
  const calls = typeof ev.llmCalls === "number" ? ev.llmCalls : undefined
  if (calls === undefined) return ""
  if (typeof cost === "number") {
    return ` The ${calls} model call(s) in this stretch cost $${cost.toFixed(6)} as recorded.`
  }
  return ` The ${calls} model call(s) in this stretch have no recorded cost (a price or usage was missing).`
}

/** Templates by signal type. */
export const templates: Readonly<Record<SignalType, (f: Finding) => Explanation>> = {
  TOOL_LOOP: (f) => ({
    title: "Tool loop",
    what: `The agent called ${s(f.evidence, "tool")} ${n(f.evidence, "count")} times in its last ${
      n(f.evidence, "window")
    } tool calls (${steps(f)}).`,
    whyItMatters: "Repeating one tool without progress burns tokens and time and usually ends without an answer." +
      costWords(f.evidence),
    evidence: `${n(f.evidence, "count")} calls to ${s(f.evidence, "tool")}, with ${
      n(f.evidence, "distinctArguments")
    } distinct argument set(s).`,
    fixes: [
      { description: "Return the tool's result in a form the model can act on, and say when nothing more is found." },
      { description: "Cap repeated calls to one tool per run (a deny rule after N calls, or max iterations)." }
    ]
  }),
  TOOL_THRASHING: (f) => ({
    title: "Tool thrashing",
    what: `The agent alternated between ${s(f.evidence, "tools")} for its last ${n(f.evidence, "window")} tool calls.`,
    whyItMatters: "Flip-flopping between two tools means neither answers what the model needs.",
    evidence: `Strict alternation of ${s(f.evidence, "tools")} over ${steps(f)}.`,
    fixes: [
      { description: "Merge the two tools, or make each tool's description say when to use the other." },
      { description: "Give the model the combined information in one result." }
    ]
  }),
  TOOL_AVOIDANCE: (f) => ({
    title: "Tool avoidance",
    what: `The agent answered after ${n(f.evidence, "llmCalls")} model calls without calling any of its tools (${
      s(f.evidence, "declaredTools")
    }).`,
    whyItMatters: "An answer given without the tools meant to ground it may be made up.",
    evidence: `${n(f.evidence, "llmCalls")} model calls, 0 tool calls, tools declared.`,
    fixes: [
      { description: "Tell the model in its instructions which questions need which tool." },
      { description: "Improve tool descriptions so the model sees when a tool applies." }
    ]
  }),
  GOAL_ABANDONMENT: (f) => ({
    title: "Goal abandonment",
    what: `The run stopped emitting events after ${
      n(f.evidence, "trailingLlmCalls")
    } model calls in a row and never ended.`,
    whyItMatters: "A run that goes silent without an answer leaves its caller waiting and its work unfinished.",
    evidence: `${n(f.evidence, "toolCalls")} tool call(s), then only model calls; last event ${
      n(f.evidence, "lastEventSeq")
    }.`,
    fixes: [
      { description: "Set max iterations and a run timeout so a stuck run ends with a status." },
      { description: "Check the host process: a crash or a hung await stops a run without a terminal event." }
    ]
  }),
  PROMPT_INJECTION_SIGNAL: (f) => ({
    title: "Prompt injection attempt",
    what: "The run's input matched prompt-injection patterns.",
    whyItMatters: "Injected instructions can make the agent leak data or take actions its owner did not intend.",
    evidence: `Matched pattern(s): ${s(f.evidence, "patterns")}.`,
    fixes: [
      {
        description: "Add the PromptInjection guardrail to the agent so such input is blocked before the model.",
        snippet: "guardrails: { input: [Guardrails.PromptInjection()] }"
      },
      { description: "Keep tool permissions minimal for agents that read untrusted input." }
    ]
  }),
  RAG_EMPTY_RETRIEVAL: (f) => ({
    title: "Empty or weak retrieval",
    what: `The retrieval tool ${s(f.evidence, "tool")} returned ${n(f.evidence, "resultCount")} result(s) (top score ${
      n(f.evidence, "topScore")
    }) and the agent still answered.`,
    whyItMatters: "An answer without supporting documents is likely a guess presented as grounded.",
    evidence: `Thresholds: at least ${n(f.evidence, "minResults")} result(s), top score at least ${
      n(f.evidence, "minScore")
    }.`,
    fixes: [
      { description: "Instruct the agent to say it found nothing instead of answering when retrieval is empty." },
      { description: "Check the index and the query the agent built (embedding model, filters)." }
    ]
  }),
  LLM_TRUNCATION_LOOP: (f) => ({
    title: "Truncated model output, repeatedly",
    what: `${n(f.evidence, "truncatedCalls")} model calls stopped at the output-token limit.`,
    whyItMatters: "Truncated answers and tool arguments are incomplete; retrying at the same limit truncates again." +
      costWords(f.evidence),
    evidence: `finish reason 'length' ${n(f.evidence, "truncatedCalls")} times (threshold ${
      n(f.evidence, "threshold")
    }) over ${steps(f)}.`,
    fixes: [
      { description: "Raise the model's max output tokens for this agent." },
      { description: "Ask for shorter output, or split the task into smaller steps." }
    ]
  }),
  CONTEXT_BLOAT: (f) => ({
    title: "Context bloat",
    what: `Prompt size grew from ${n(f.evidence, "firstInputTokens")} to ${
      n(f.evidence, "lastInputTokens")
    } input tokens (${n(f.evidence, "growth")}×) over ${n(f.evidence, "llmCalls")} model calls.`,
    whyItMatters: "Each call resends the whole history: cost and latency grow with every step, and quality drops.",
    evidence: `Input tokens recorded on the first and last measured calls (${steps(f)}).`,
    fixes: [
      { description: "Trim or summarise large tool results before they join the history." },
      { description: "Cap the history the agent sends (keep the latest turns and a summary)." }
    ]
  }),
  SLOW_STEP: (f) => ({
    title: "Slow step",
    what: `The step after ${s(f.evidence, "eventType")} at event ${f.step.start} took ${
      n(f.evidence, "durationMs")
    } ms, ${n(f.evidence, "ratio")}× its limit of ${n(f.evidence, "limitMs")} ms.`,
    whyItMatters: "Slow steps make the run slow for its user and often mean a hung dependency.",
    evidence: `Gap between events ${f.step.start} and ${f.step.end}.`,
    fixes: [
      { description: "Set a timeout on the tool or model call, and retry it with a backoff." },
      { description: "Look at the dependency's latency at that time." }
    ]
  }),
  RETRY_STORM: (f) => ({
    title: "Retry storm",
    what: `${s(f.evidence, "tool")} failed ${n(f.evidence, "attempts")} times in a row.`,
    whyItMatters: "Retrying a failing call unchanged rarely works and adds load to a service already in trouble.",
    evidence: `Arguments were ${f.evidence.identicalArguments === true ? "identical" : "not identical"} and errors ${
      f.evidence.identicalErrors === true ? "identical" : "not identical"
    } across the streak (${steps(f)}).`,
    fixes: [
      { description: "Return an error the model can act on (what was wrong, what to change)." },
      { description: "Stop after a few identical failures: a per-tool failure budget or a circuit breaker." }
    ]
  }),
  EMPTY_LLM_RESPONSE: (f) => ({
    title: "Empty model response",
    what: `The model returned an empty answer (finish reason 'stop', no text, no tool calls) at ${steps(f)}.`,
    whyItMatters: "An empty answer is no answer: the user gets nothing, or the loop spins.",
    evidence: `${n(f.evidence, "emptyResponses")} empty response(s); model ${s(f.evidence, "model")}.`,
    fixes: [
      { description: "Check the prompt is not empty or overflowing after truncation." },
      { description: "Retry empty answers once, then fail the run with a clear error." }
    ]
  }),
  STEP_COUNT_INFLATION: (f) => ({
    title: "Step count inflation",
    what: `The run took ${n(f.evidence, "steps")} steps, more than ${n(f.evidence, "factor")}× the usual ${
      n(f.evidence, "baselineP75")
    } (P75 of ${n(f.evidence, "baselineRuns")} recent runs).`,
    whyItMatters: "A run far longer than usual costs more and often signals confusion or a changed dependency.",
    evidence: `Steps are tool and model calls; the baseline is the same agent and version's completed runs.`,
    fixes: [
      { description: "Compare this run's timeline with a typical one to see where it diverged." },
      { description: "Lower max iterations for this agent." }
    ]
  }),
  CASCADING_TOOL_FAILURE: (f) => ({
    title: "Cascading tool failure",
    what: `The run ended with ${n(f.evidence, "failedCalls")} failed tool calls in a row across ${
      s(f.evidence, "tools")
    }.`,
    whyItMatters: "Failures across several tools point at a shared dependency (network, credentials, a backend).",
    evidence: `Trailing failures over ${steps(f)}.`,
    fixes: [
      { description: "Check the shared dependency of these tools (auth, network, backend health)." },
      { description: "Fail the run early when several tools fail, with the first error." }
    ]
  }),
  FIRST_STEP_FAILURE: (f) => ({
    title: "Failure at the first step",
    what: f.evidence.reason === "run_errored"
      ? `The run failed after ${n(f.evidence, "steps")} step(s).`
      : f.evidence.reason === "tool_failed"
      ? `The tool ${s(f.evidence, "tool")} failed at step ${n(f.evidence, "step")}.`
      : `The model returned an empty answer at step ${n(f.evidence, "step")}.`,
    whyItMatters: "Failing immediately usually means configuration, credentials or input, not the task.",
    evidence: `Reason: ${s(f.evidence, "reason")} at ${steps(f)}.`,
    fixes: [
      { description: "Check the agent's configuration: model name, API key, tool setup." },
      { description: "Validate the input before starting the run." }
    ]
  }),
  REASONING_STALL: (f) => ({
    title: "Reasoning stall",
    what: `The agent made ${n(f.evidence, "llmCalls")} model calls for ${
      n(f.evidence, "toolCalls")
    } tool call(s) before answering (${n(f.evidence, "ratio")} per tool call).`,
    whyItMatters: "Many model calls without action means the agent deliberates instead of progressing." +
      costWords(f.evidence),
    evidence: `Model calls over ${steps(f)}.`,
    fixes: [
      { description: "Make the instructions say which tool to use next, or give a plan step by step." },
      { description: "Lower max iterations for this agent." }
    ]
  })
}
