/**
 * A thread's earlier messages as a run continuing it starts from: each counted from its run's recorded usage
 * (the character estimate where usage says nothing), tool calls left without a result (a run that ended
 * mid-call) taken out, then the window (last N messages, a token budget), which never keeps a tool result
 * whose call it dropped.
 */
import type { Message } from "../HookEvent.js"
import type { CallTokens, ThreadRun } from "../RunLedger.js"

/**
 * Takes out tool calls no tool message answers and tool messages answering no earlier call, so that the
 * history is one a provider accepts (a run that failed or was cancelled between a call and its result leaves
 * such a call behind). An assistant message left with neither text nor calls is dropped. A message keeps its
 * count (an assistant message that lost a call included).
 */
export const completeCounted = (messages: ReadonlyArray<Counted>): Array<Counted> => {
  const answered = new Set<string>()
  for (const { message: m } of messages) if (m._tag === "tool") answered.add(m.toolCallId)
  const called = new Set<string>()
  const out: Array<Counted> = []
  for (const counted of messages) {
    const m = counted.message
    if (m._tag === "assistant") {
      const calls = m.toolCalls.filter((c) => answered.has(c.id))
      for (const c of calls) called.add(c.id)
      if (calls.length === m.toolCalls.length) out.push(counted)
      else if (calls.length > 0 || m.content !== "") out.push({ ...counted, message: { ...m, toolCalls: calls } })
    } else if (m._tag === "tool") {
      if (called.has(m.toolCallId)) out.push(counted)
    } else {
      out.push(counted)
    }
  }
  return out
}

/** A thread message with what it counts against the window's token budget. */
export interface Counted {
  readonly message: Message
  readonly tokens: number
}

/** `total` shared by the messages in proportion to their estimates; the last takes the rounding rest. */
const share = (messages: ReadonlyArray<Message>, total: number): Array<number> => {
  const weights = messages.map(estimateTokens)
  const sum = weights.reduce((a, b) => a + b, 0)
  let given = 0
  return weights.map((w, i) => {
    if (i === weights.length - 1) return total - given
    const part = Math.floor((total * w) / sum)
    given += part
    return part
  })
}

/**
 * One run's messages counted from its recorded usage. Its n completed calls line up with its n assistant
 * messages: an assistant message counts its call's output tokens, and the tool (or user) messages between two
 * assistant messages share the growth of the next call's input (`input[k+1] - input[k] - output[k]`: that
 * request is the previous one plus the answer plus them). Messages before the first call (the run's input,
 * whose first request also carries instructions, tool schemas and the earlier history) and after the last,
 * and every message of a run whose calls do not line up or recorded no usage, count the character estimate.
 */
export const countRun = (messages: ReadonlyArray<Message>, calls: ReadonlyArray<CallTokens>): Array<Counted> => {
  const tokens = messages.map(estimateTokens)
  const assistants = messages.flatMap((m, i) => (m._tag === "assistant" ? [i] : []))
  if (calls.length > 0 && calls.length === assistants.length) {
    assistants.forEach((at, k) => (tokens[at] = calls[k]!.outputTokens))
    for (let k = 0; k + 1 < assistants.length; k++) {
      const between = messages.slice(assistants[k]! + 1, assistants[k + 1]!)
      const growth = calls[k + 1]!.inputTokens - calls[k]!.inputTokens - calls[k]!.outputTokens
      // A growth the messages cannot account for (a provider counting otherwise) keeps the estimate.
      if (between.length === 0 || growth < between.length) continue
      share(between, growth).forEach((t, j) => (tokens[assistants[k]! + 1 + j] = t))
    }
  }
  return messages.map((message, i) => ({ message, tokens: tokens[i]! }))
}

/**
 * The thread's messages in order, counted (`countRun`). A run that a later run of the thread retried is left
 * out: the retry replaces it in the conversation (its input would otherwise be sent twice).
 */
export const countedHistory = (runs: ReadonlyArray<ThreadRun>): Array<Counted> => {
  const retried = new Set(runs.flatMap((r) => (r.retryOfRunId === undefined ? [] : [r.retryOfRunId])))
  return runs.filter((r) => !retried.has(r.runId)).flatMap((r) => countRun(r.messages, r.calls))
}

/**
 * An estimate of a message's tokens: about four characters a token (text, tool arguments and names); the
 * fallback where no usage was recorded for it.
 */
export const estimateTokens = (m: Message): number => {
  const chars = m._tag === "assistant"
    ? m.content.length + m.toolCalls.reduce((n, c) => n + c.name.length + JSON.stringify(c.arguments).length, 0)
    : m._tag === "tool"
    ? m.content.length + m.toolName.length
    : m.content.length
  return Math.ceil(chars / 4) + 4
}

/** The limits of a window (either, both or none). */
export interface WindowLimits {
  readonly maxMessages?: number | undefined
  readonly maxTokens?: number | undefined
}

/** A history cut in two: the prefix the window drops and the messages it keeps. */
export interface Windowed {
  readonly dropped: ReadonlyArray<Message>
  readonly kept: ReadonlyArray<Message>
}

/**
 * The longest suffix within both limits that does not start with a tool result (its call would be cut off):
 * the cut moves later, dropping the orphan result, so a window never exceeds its limits.
 */
export const window = (
  messages: ReadonlyArray<Message>,
  limits: WindowLimits,
  counts: ReadonlyArray<number> = messages.map(estimateTokens)
): Windowed => {
  let start = 0
  if (limits.maxMessages !== undefined) start = Math.max(0, messages.length - limits.maxMessages)
  if (limits.maxTokens !== undefined) {
    let tokens = 0
    let i = messages.length
    while (i > start) {
      const next = tokens + counts[i - 1]!
      if (next > limits.maxTokens) break
      tokens = next
      i--
    }
    start = i
  }
  while (start < messages.length && messages[start]!._tag === "tool") start++
  return { dropped: messages.slice(0, start), kept: messages.slice(start) }
}
