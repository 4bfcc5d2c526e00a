/**
 * Stream-only events: text and tool-argument deltas of a streamed model call. They reach notifiers and
 * the caller's stream but are not recorded row by row (the recorded `llm.completed` holds the whole answer).
 */
import type { HookEvent } from "./HookEvent.js"

/** A piece of the model's text as it streams in. */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly runId: string
  readonly iteration: number
  /** The model call's correlation id (as on `llm.started`/`llm.completed`). */
  readonly correlationId: string
  readonly timestamp: number
  readonly delta: string
}

/** A piece of a tool call's arguments as it streams in. */
export interface ToolArgumentsDelta {
  readonly _tag: "ToolArgumentsDelta"
  readonly runId: string
  readonly iteration: number
  readonly correlationId: string
  readonly timestamp: number
  /** Position of the tool call in the model's answer. */
  readonly index: number
  readonly toolName?: string
  readonly delta: string
}

/** A stream-only delta. */
export type StreamDelta = TextDelta | ToolArgumentsDelta

/** What `agent.stream` yields and notifiers receive: recorded hook events and stream-only deltas. */
export type StreamEvent = HookEvent | StreamDelta

/** Whether a stream event is a stream-only delta. */
export const isDelta = (event: StreamEvent): event is StreamDelta =>
  event._tag === "TextDelta" || event._tag === "ToolArgumentsDelta"
