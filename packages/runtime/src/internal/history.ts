/**
 * A thread's earlier messages as a run continuing it starts from: tool calls left without a result (a run that
 * ended mid-call) taken out, then the window (last N messages, a token budget), which never keeps a tool result
 * whose call it dropped.
 */
import type { Message } from "../HookEvent.js"

/**
 * Takes out tool calls no tool message answers and tool messages answering no earlier call, so that the
 * history is one a provider accepts (a run that failed or was cancelled between a call and its result leaves
 * such a call behind). An assistant message left with neither text nor calls is dropped.
 */
export const completeCalls = (messages: ReadonlyArray<Message>): Array<Message> => {
  const answered = new Set<string>()
  for (const m of messages) if (m._tag === "tool") answered.add(m.toolCallId)
  const called = new Set<string>()
  const out: Array<Message> = []
  for (const m of messages) {
    if (m._tag === "assistant") {
      const calls = m.toolCalls.filter((c) => answered.has(c.id))
      for (const c of calls) called.add(c.id)
      if (calls.length === m.toolCalls.length) out.push(m)
      else if (calls.length > 0 || m.content !== "") out.push({ ...m, toolCalls: calls })
    } else if (m._tag === "tool") {
      if (called.has(m.toolCallId)) out.push(m)
    } else {
      out.push(m)
    }
  }
  return out
}

/** An estimate of a message's tokens: about four characters a token (text, tool arguments and names). */
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
export const window = (messages: ReadonlyArray<Message>, limits: WindowLimits): Windowed => {
  let start = 0
  if (limits.maxMessages !== undefined) start = Math.max(0, messages.length - limits.maxMessages)
  if (limits.maxTokens !== undefined) {
    let tokens = 0
    let i = messages.length
    while (i > start) {
      const next = tokens + estimateTokens(messages[i - 1]!)
      if (next > limits.maxTokens) break
      tokens = next
      i--
    }
    start = i
  }
  while (start < messages.length && messages[start]!._tag === "tool") start++
  return { dropped: messages.slice(0, start), kept: messages.slice(start) }
}
