/**
 * Request deltas: a model call's `semantic_request` holds only the messages new since the run's previous call
 * (`request_base`, its id, and `request_prefix`, how many of its messages come first), so a run of L calls stores
 * its history once instead of L times. The recorder remembers each live run's last request (the kernel's own
 * message objects, compared by reference first); a run it has not seen call the model (a fresh process, a
 * resumed run) stores its full request. The store rebuilds the full request on read (`rebuildRequests`).
 */
import { Data } from "effect"
import { stringify } from "./json.js"

interface Last {
  readonly callId: string
  readonly sequenceIndex: number
  readonly messages: ReadonlyArray<unknown>
  texts: Array<string | undefined> | undefined
}

/** What a call stores of its request. */
export interface Delta {
  /** The request as stored: its messages only from `prefix` on when `base` is set. */
  readonly request: unknown
  readonly base: string | null
  readonly prefix: number | null
}

// A bound on the runs remembered (the oldest is forgotten first), so a recorder that never sees runs end stays small.
const MAX_RUNS = 10_000

type WithMessages = { readonly messages: ReadonlyArray<unknown> } & Record<string, unknown>

const hasMessages = (request: unknown): request is WithMessages =>
  typeof request === "object" && request !== null && !Array.isArray(request) &&
  Array.isArray((request as { messages?: unknown }).messages)

/** The per-recorder memory of each live run's last model request. */
export class RequestDeltas {
  private readonly runs = new Map<string, Last>()

  /** The stored form of a call's request, and (on `commit`) the call remembered as the run's last. */
  delta(
    runId: string,
    callId: string,
    sequenceIndex: number,
    request: unknown
  ): Delta & { readonly commit: () => void } {
    if (!hasMessages(request)) return { request, base: null, prefix: null, commit: () => this.runs.delete(runId) }
    const messages = request.messages
    const commit = () => {
      this.runs.delete(runId)
      if (this.runs.size >= MAX_RUNS) this.runs.delete(this.runs.keys().next().value!)
      this.runs.set(runId, { callId, sequenceIndex, messages, texts: undefined })
    }
    const last = this.runs.get(runId)
    // Only an earlier event of the run is a base (an event planned again, after a failed write, stores it all).
    if (last === undefined || last.sequenceIndex >= sequenceIndex || last.callId === callId) {
      return { request, base: null, prefix: null, commit }
    }
    const n = Math.min(last.messages.length, messages.length)
    let prefix = 0
    while (prefix < n && this.same(last, prefix, messages[prefix])) prefix++
    if (prefix === 0) return { request, base: null, prefix: null, commit }
    return { request: { ...request, messages: messages.slice(prefix) }, base: last.callId, prefix, commit }
  }

  /** Forgets a run (it ended or paused: a resume may happen in another process). */
  forget(runId: string): void {
    this.runs.delete(runId)
  }

  private same(last: Last, i: number, message: unknown): boolean {
    const previous = last.messages[i]
    if (previous === message) return true
    const texts = (last.texts ??= [])
    const text = (texts[i] ??= stringify(previous))
    return text === stringify(message)
  }
}

/** A stored call as `rebuildRequests` needs it. */
export interface StoredRequest {
  readonly id: string
  readonly request: unknown
  readonly base: string | null
  readonly prefix: number | null
}

/** A call continues a call that is not recorded (or whose request was cleared). */
export class MissingBase extends Data.TaggedError("MissingBase")<{ readonly message: string }> {}

/**
 * The full requests of a run's calls (by id): each stored delta is its base's first `prefix` messages followed by
 * its own. A base whose request was cleared (payload pruning) makes the calls continuing it null too.
 */
export const rebuildRequests = (calls: ReadonlyArray<StoredRequest>): Map<string, unknown> => {
  const byId = new Map(calls.map((c) => [c.id, c]))
  const full = new Map<string, unknown>()
  const resolve = (call: StoredRequest, depth: number): unknown => {
    if (full.has(call.id)) return full.get(call.id)
    let value: unknown
    if (call.base === null || call.request === null || !hasMessages(call.request)) value = call.request
    else {
      const base = byId.get(call.base)
      if (base === undefined || depth > calls.length) {
        throw new MissingBase({
          message: `the request of model call ${call.id} continues call ${call.base}, which is not recorded`
        })
      }
      const baseRequest = resolve(base, depth + 1)
      value = hasMessages(baseRequest)
        ? { ...call.request, messages: [...baseRequest.messages.slice(0, call.prefix ?? 0), ...call.request.messages] }
        : null
    }
    full.set(call.id, value)
    return value
  }
  for (const call of calls) resolve(call, 0)
  return full
}
