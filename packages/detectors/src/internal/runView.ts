/**
 * One run's recorded events folded into what the detectors read: calls paired start-to-end by correlation
 * id (never by position), absent values kept absent (a call without recorded usage has no token counts,
 * not zero), the terminal event if any.
 */
import type { RunEvent } from "../RunEvents.js"

/** A tool call, paired start→end by correlation id. */
export interface ToolCallView {
  readonly kind: "tool"
  readonly name: string
  readonly arguments: unknown
  readonly startSeq: number
  readonly endSeq: number | undefined
  /** Absent while the call has no end event. */
  readonly success: boolean | undefined
  readonly error: string | undefined
  readonly result: unknown
}

/** A model call, paired start→end by correlation id. */
export interface LlmCallView {
  readonly kind: "llm"
  readonly model: string | undefined
  readonly startSeq: number
  readonly endSeq: number | undefined
  readonly failed: boolean
  readonly finishReason: string | undefined
  /** The answer's text as recorded; absent when no text was recorded. */
  readonly text: string | undefined
  readonly toolCallCount: number | undefined
  readonly inputTokens: number | undefined
  readonly outputTokens: number | undefined
  readonly costUsd: number | undefined
}

/** A call of either kind. */
export type CallView = ToolCallView | LlmCallView

/** How the run ended, if it did. */
export type Exit =
  | "final_answer"
  | "max_iterations"
  | "error"
  | "cancelled"
  | "interrupted"
  | "abandoned"
  | "paused"
  | "running"

/** The run as the detectors see it. */
export interface RunView {
  readonly runId: string
  readonly agentName: string
  readonly input: string | undefined
  readonly declaredTools: ReadonlyArray<string>
  readonly metadata: Readonly<Record<string, unknown>>
  readonly events: ReadonlyArray<RunEvent>
  readonly tools: ReadonlyArray<ToolCallView>
  readonly llms: ReadonlyArray<LlmCallView>
  /** Tool and model calls in start order. */
  readonly calls: ReadonlyArray<CallView>
  readonly exit: Exit
  readonly terminalSeq: number | undefined
  readonly lastSeq: number
}

const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)
const num = (u: unknown): number | undefined => (typeof u === "number" && Number.isFinite(u) ? u : undefined)
const obj = (u: unknown): Record<string, unknown> | undefined =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Record<string, unknown>) : undefined

const exits: Record<string, Exit> = {
  RunFailed: "error",
  RunCancelled: "cancelled",
  RunInterrupted: "interrupted",
  RunAbandoned: "abandoned"
}

/** Folds a run's events (any order; sorted by sequence index here) into a `RunView`. */
export const build = (runId: string, input: ReadonlyArray<RunEvent>): RunView => {
  const events = [...input].sort((a, b) => a.sequenceIndex - b.sequenceIndex)
  let agentName = ""
  let runInput: string | undefined
  let declared: ReadonlyArray<string> = []
  let metadata: Record<string, unknown> = {}
  let exit: Exit = "running"
  let terminalSeq: number | undefined
  const tools = new Map<string, ToolCallView>()
  const llms = new Map<string, LlmCallView>()
  const unpaired: Array<CallView> = []
  for (const e of events) {
    const cid = str(e.correlationId)
    switch (e._tag) {
      case "RunStarted": {
        if (agentName === "") agentName = str(e.agentName) ?? ""
        if (runInput === undefined) runInput = str(e.input)
        if (Array.isArray(e.tools)) declared = e.tools.filter((t): t is string => typeof t === "string")
        metadata = obj(e.metadata) ?? metadata
        exit = "running"
        break
      }
      case "RunResumed":
        exit = "running"
        break
      case "RunPaused":
        exit = "paused"
        break
      case "RunCompleted":
        exit = e.status === "max_iterations" ? "max_iterations" : "final_answer"
        terminalSeq = e.sequenceIndex
        break
      case "RunFailed":
      case "RunCancelled":
      case "RunInterrupted":
      case "RunAbandoned":
        exit = exits[e._tag]!
        terminalSeq = e.sequenceIndex
        break
      case "ToolCallStarted": {
        const call: ToolCallView = {
          kind: "tool",
          name: str(e.toolName) ?? "",
          arguments: e.arguments,
          startSeq: e.sequenceIndex,
          endSeq: undefined,
          success: undefined,
          error: undefined,
          result: undefined
        }
        if (cid === undefined) unpaired.push(call)
        else tools.set(cid, call)
        break
      }
      case "ToolCallCompleted": {
        const start = cid === undefined ? undefined : tools.get(cid)
        const success = typeof e.success === "boolean" ? e.success : undefined
        const ended = {
          endSeq: e.sequenceIndex,
          success,
          error: str(e.error),
          result: e.result
        }
        if (start !== undefined && cid !== undefined) tools.set(cid, { ...start, ...ended })
        else {
          // An end without its start (a resumed client tool, say): still a call, at its end.
          const call: ToolCallView = {
            kind: "tool",
            name: str(e.toolName) ?? "",
            arguments: undefined,
            startSeq: e.sequenceIndex,
            ...ended
          }
          if (cid === undefined) unpaired.push(call)
          else tools.set(cid, call)
        }
        break
      }
      case "LlmCallStarted": {
        const call: LlmCallView = {
          kind: "llm",
          model: str(e.model),
          startSeq: e.sequenceIndex,
          endSeq: undefined,
          failed: false,
          finishReason: undefined,
          text: undefined,
          toolCallCount: undefined,
          inputTokens: undefined,
          outputTokens: undefined,
          costUsd: undefined
        }
        if (cid === undefined) unpaired.push(call)
        else llms.set(cid, call)
        break
      }
      case "LlmCallCompleted":
      case "LlmCallFailed": {
        const start = cid === undefined ? undefined : llms.get(cid)
        const usage = obj(e.usage)
        const ended = {
          endSeq: e.sequenceIndex,
          failed: e._tag === "LlmCallFailed",
          finishReason: str(e.finishReason),
          text: str(e.text),
          toolCallCount: Array.isArray(e.toolCalls) ? e.toolCalls.length : undefined,
          inputTokens: num(usage?.inputTokens),
          outputTokens: num(usage?.outputTokens),
          costUsd: num(usage?.costUsd)
        }
        const model = start?.model ?? str(e.model)
        const call: LlmCallView = {
          kind: "llm",
          startSeq: start?.startSeq ?? e.sequenceIndex,
          ...ended,
          model
        }
        if (cid === undefined) unpaired.push(call)
        else llms.set(cid, call)
        break
      }
      default:
        break
    }
  }
  const toolList = [...tools.values(), ...unpaired.filter((c): c is ToolCallView => c.kind === "tool")]
    .sort((a, b) => a.startSeq - b.startSeq)
  const llmList = [...llms.values(), ...unpaired.filter((c): c is LlmCallView => c.kind === "llm")]
    .sort((a, b) => a.startSeq - b.startSeq)
  const calls = [...toolList, ...llmList].sort((a, b) => a.startSeq - b.startSeq)
  return {
    runId,
    agentName,
    input: runInput,
    declaredTools: declared,
    metadata,
    events,
    tools: toolList,
    llms: llmList,
    calls,
    exit,
    terminalSeq,
    lastSeq: events.length === 0 ? 0 : events[events.length - 1]!.sequenceIndex
  }
}
