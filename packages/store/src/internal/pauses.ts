/**
 * Pairs `run.paused` with `run.resumed` events by order (a resume carries no pointer to its pause): a
 * resume closes the open pause; a second pause before any resume leaves the first unresumed; a trailing
 * pause is the active one.
 */
import type { PausePair, StoredEvent } from "../Records.js"

const field = (data: unknown, key: string): unknown =>
  data !== null && typeof data === "object" ? (data as Record<string, unknown>)[key] : undefined

const opened = (e: StoredEvent): PausePair => {
  const prompt = field(e.data, "prompt")
  return {
    pauseSequenceIndex: e.sequenceIndex,
    pausedAt: e.createdAt,
    status: String(field(e.data, "status") ?? "waiting"),
    pendingCalls: field(e.data, "pendingCalls") ?? [],
    prompt: typeof prompt === "string" ? prompt : null,
    resumeSequenceIndex: null,
    resumedAt: null,
    submission: null,
    waitMs: null
  }
}

/** Pause/resume pairs from a run's `run.paused` and `run.resumed` events in sequence order. */
export const pairPauses = (events: ReadonlyArray<StoredEvent>): Array<PausePair> => {
  const pairs: Array<PausePair> = []
  let open: PausePair | undefined
  for (const e of events) {
    if (e.eventType === "run.paused") {
      if (open !== undefined) pairs.push(open)
      open = opened(e)
    } else if (e.eventType === "run.resumed" && open !== undefined) {
      pairs.push({
        ...open,
        resumeSequenceIndex: e.sequenceIndex,
        resumedAt: e.createdAt,
        submission: field(e.data, "submission") ?? null,
        waitMs: Date.parse(e.createdAt) - Date.parse(open.pausedAt)
      })
      open = undefined
    }
  }
  if (open !== undefined) pairs.push(open)
  return pairs
}
