/**
 * A tool call's stream: `chunk` stamps each chunk with the stream's next sequence and offers it to the sinks at
 * once (a plain call, no effect, no commit); the stream's counters, and the chunks sampling keeps, become the
 * call's one `stream.ended` when the handler is done. A call that sent nothing records no stream.
 */
import type { Clock } from "effect"
import { InvalidStreamChunk } from "../../Errors.js"
import type { StreamSample } from "../../HookEvent.js"
import type { StreamChunkData } from "../../StreamEvent.js"
import type { ToolStream } from "../../Tool.js"
import type { Bus, HookEventInput } from "../bus.js"
import { toBase64 } from "./base64.js"
import { chunkBytes, counter, statsOf } from "./stats.js"

/** An open stream: the handler's side and the engine's. */
export interface ToolStreamHandle {
  readonly stream: ToolStream
  /** Closes the stream; the `stream.ended` to record, or undefined when no chunk was sent. */
  readonly end: () => HookEventInput | undefined
}

const isChunkData = (data: unknown): data is StreamChunkData => {
  switch (typeof data) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(data)
    case "object":
      return data === null || data instanceof Uint8Array || Array.isArray(data) ||
        Object.getPrototypeOf(data) === Object.prototype || Object.getPrototypeOf(data) === null
    default:
      return false
  }
}

/** Whether chunk `i` is kept at `rate`: exactly ⌊n·rate⌋ of the first n chunks, evenly spread, deterministic. */
const sampled = (i: number, rate: number) => rate > 0 && Math.floor((i + 1) * rate) > Math.floor(i * rate)

/** Opens the stream of call `callId` (its handler starts now). */
export const openToolStream = (options: {
  readonly bus: Bus
  readonly clock: Clock.Clock
  readonly callId: string
  readonly toolName: string
  readonly iteration: number
  readonly sampleRate: number
  readonly maxSamples: number
}): ToolStreamHandle => {
  const { bus, callId, clock, iteration, toolName } = options
  const count = counter(clock.unsafeCurrentTimeMillis())
  const samples: Array<StreamSample> = []
  let open = true
  const ids = { iteration, correlationId: callId, streamId: callId, toolName }
  const chunk = (data: StreamChunkData): boolean => {
    if (!open) return false
    const sequence = count.count
    if (!isChunkData(data)) {
      throw new InvalidStreamChunk({
        toolName,
        sequence,
        message: `tool '${toolName}' streamed a chunk that is neither JSON nor a Uint8Array (chunk ${sequence}, ` +
          `a ${data === null ? "null" : typeof data}): send a string, a JSON object or a Uint8Array`
      })
    }
    const bytes = chunkBytes(data)
    const now = clock.unsafeCurrentTimeMillis()
    if (sequence === 0) {
      count.firstAt = now
      bus.offerDelta({ _tag: "StreamStarted", ...ids })
    }
    count.count++
    count.bytes += bytes
    if (samples.length < options.maxSamples && sampled(sequence, options.sampleRate)) {
      const binary = data instanceof Uint8Array
      samples.push({
        sequence,
        offsetMs: now - count.openedAt,
        bytes,
        encoding: binary ? "base64" : "json",
        // A copy now: the caller may reuse its buffer (or mutate its object) for the next chunk.
        data: binary ? toBase64(data) : (JSON.parse(JSON.stringify(data)) as StreamSample["data"])
      })
    }
    bus.offerDelta({ _tag: "StreamChunk", ...ids, sequence, bytes, data })
    return true
  }
  return {
    stream: { chunk },
    end: () => {
      open = false
      if (count.count === 0) return undefined
      return {
        _tag: "StreamEnded",
        correlationId: callId,
        streamId: callId,
        toolName,
        ...statsOf(count, clock.unsafeCurrentTimeMillis()),
        sampledCount: samples.length,
        ...(samples.length === 0 ? {} : { samples })
      }
    }
  }
}

/** The stream handed to a handler that runs outside a run's call (nothing listens; every chunk is refused). */
export const closedStream: ToolStream = { chunk: () => false }
