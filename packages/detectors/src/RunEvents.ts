/**
 * The detectors' input: one run's recorded events, either the hook events a runtime emitted or the rows of
 * `run_events` read back from the store (`fromStored`). Fields are read defensively: an absent field stays
 * absent (a model call without recorded usage has no output length, not zero).
 */
import { HookEvent } from "@sextant/runtime"

/** One recorded event: a hook event, or a stored row turned back into one. */
export interface RunEvent {
  readonly _tag: string
  readonly sequenceIndex: number
  /** Epoch milliseconds. */
  readonly timestamp: number
  readonly correlationId?: string | undefined
  readonly [field: string]: unknown
}

/** A `run_events` row as the store returns it (`Records.StoredEvent`'s shape). */
export interface StoredEventLike {
  readonly sequenceIndex: number
  readonly eventType: string
  readonly iteration: number
  readonly correlationId: string | null
  readonly data: unknown
  readonly createdAt: Date | string
}

/** A stored event row as a `RunEvent` (unknown event types keep their `eventType` as the tag). */
export const fromStored = (row: StoredEventLike): RunEvent => {
  const data = typeof row.data === "object" && row.data !== null && !Array.isArray(row.data)
    ? (row.data as Record<string, unknown>)
    : {}
  const at = row.createdAt instanceof Date ? row.createdAt.getTime() : Date.parse(row.createdAt)
  return {
    ...data,
    _tag: HookEvent.tagOfEventType(row.eventType) ?? row.eventType,
    sequenceIndex: row.sequenceIndex,
    iteration: row.iteration,
    timestamp: at,
    ...(row.correlationId === null ? {} : { correlationId: row.correlationId })
  }
}

/** A hook event as a `RunEvent`. */
export const fromHookEvent = (event: HookEvent.HookEvent): RunEvent => event
