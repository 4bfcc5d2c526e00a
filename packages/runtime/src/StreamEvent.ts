/**
 * Stream-only events: text and tool-argument deltas of a streamed model call, and the chunks of a tool's own
 * stream (`context.stream.chunk(data)`). They reach notifiers and the caller's stream at full rate, each with its
 * per-stream `sequence`, but are never recorded row by row: the record keeps one aggregate per stream (on
 * `llm.completed` for a model call, as `stream.ended` for a tool) and, when sampling is on, some chunks in
 * `stream_chunks`.
 */
import type { HookEvent, Json } from "./HookEvent.js"

/** A piece of the model's text as it streams in. */
export interface TextDelta {
  readonly _tag: "TextDelta"
  readonly runId: string
  readonly iteration: number
  /** The model call's correlation id (as on `llm.started`/`llm.completed`). */
  readonly correlationId: string
  readonly timestamp: number
  /** Position of the delta in its model call's stream (text and tool-argument deltas together), from 0. */
  readonly sequence: number
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
  /** Position of the delta in its model call's stream (text and tool-argument deltas together), from 0. */
  readonly sequence: number
  readonly delta: string
}

/** What a tool may stream: JSON (text, progress objects) or bytes (audio or video frames). */
export type StreamChunkData = Json | Uint8Array

/** A tool's stream opened: its first chunk follows. */
export interface StreamStarted {
  readonly _tag: "StreamStarted"
  readonly runId: string
  readonly iteration: number
  /** The tool call's id (as on `tool.started`/`tool.completed`). */
  readonly correlationId: string
  /** The stream's id (the tool call's id: one stream per call), as on its chunks and on `stream.ended`. */
  readonly streamId: string
  readonly toolName: string
  readonly timestamp: number
}

/** One chunk of a tool's stream. */
export interface StreamChunk {
  readonly _tag: "StreamChunk"
  readonly runId: string
  readonly iteration: number
  /** The tool call's id. */
  readonly correlationId: string
  readonly streamId: string
  readonly toolName: string
  readonly timestamp: number
  /** Position of the chunk in its stream, from 0, gapless and in emission order. */
  readonly sequence: number
  /** Size of `data`: bytes of a `Uint8Array`, UTF-8 bytes of a string or of other JSON's text. */
  readonly bytes: number
  readonly data: StreamChunkData
}

/** A stream-only event. */
export type StreamDelta = TextDelta | ToolArgumentsDelta | StreamStarted | StreamChunk

/** A high-frequency stream-only event: what a full notifier mailbox drops first. */
export type Chunk = TextDelta | ToolArgumentsDelta | StreamChunk

/** What `agent.stream` yields and notifiers receive: recorded hook events and stream-only deltas. */
export type StreamEvent = HookEvent | StreamDelta

/** Whether a stream event is a stream-only delta. */
export const isDelta = (event: StreamEvent): event is StreamDelta =>
  event._tag === "TextDelta" || event._tag === "ToolArgumentsDelta" || event._tag === "StreamChunk" ||
  event._tag === "StreamStarted"

/** Whether a stream event is a chunk (a model delta or a tool's stream chunk), which mailboxes drop first. */
export const isChunk = (event: StreamEvent): event is Chunk =>
  event._tag === "StreamChunk" || event._tag === "TextDelta" || event._tag === "ToolArgumentsDelta"
