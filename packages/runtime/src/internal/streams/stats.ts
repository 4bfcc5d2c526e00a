/**
 * The arithmetic of a stream's aggregate: chunk sizes (without encoding anything) and the stats recorded for a
 * stream (count, bytes, time to first chunk, duration, rates).
 */
import type { StreamStats } from "../../HookEvent.js"
import type { StreamChunkData } from "../../StreamEvent.js"

/** UTF-8 length of a string, counted from its code units (no TextEncoder allocation per chunk). */
export const utf8Bytes = (s: string): number => {
  let bytes = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

/** Size of a chunk: bytes of a `Uint8Array`, UTF-8 bytes of a string or of other JSON's text. */
export const chunkBytes = (data: StreamChunkData): number =>
  data instanceof Uint8Array ? data.byteLength : typeof data === "string" ? utf8Bytes(data) : utf8Bytes(
    JSON.stringify(data) ?? ""
  )

/** A stream's running counters. */
export interface Counter {
  readonly openedAt: number
  count: number
  bytes: number
  firstAt: number | undefined
}

/** Counters of a stream opened at `openedAt`. */
export const counter = (openedAt: number): Counter => ({ openedAt, count: 0, bytes: 0, firstAt: undefined })

/** The aggregate of a stream that ended at `endedAt`; rates are absent when it lasted no measurable time. */
export const statsOf = (c: Counter, endedAt: number): StreamStats => {
  const durationMs = Math.max(0, endedAt - c.openedAt)
  return {
    chunkCount: c.count,
    bytes: c.bytes,
    ...(c.firstAt === undefined ? {} : { timeToFirstChunkMs: Math.max(0, c.firstAt - c.openedAt) }),
    durationMs,
    ...(durationMs > 0
      ? { chunksPerSecond: (c.count * 1000) / durationMs, bytesPerSecond: (c.bytes * 1000) / durationMs }
      : {})
  }
}
