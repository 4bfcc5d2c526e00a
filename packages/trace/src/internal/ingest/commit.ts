/**
 * Committing a decoded batch: each run's tenant checked against the key's, events already durable skipped
 * (idempotent by `(run, sequence)`, a resent event compared with the one recorded), the rest required to
 * continue each run's sequence without a gap, then written through the recorder in one `recordAll` (one group
 * commit) and acknowledged only once durable. A batch that arrives before its predecessor is held (its
 * request kept waiting) until the predecessor is committed, up to a time and a memory bound.
 */
import type { HookEvent, RecorderError, RecorderService, RunLedgerService } from "@sextant/runtime"
import { Data, Deferred, Duration, Effect, Option } from "effect"
import { createHash } from "node:crypto"
import type * as Wire from "./wire.js"

/** Who sent the batch: a key may only write runs of its own tenant. */
export interface Principal {
  readonly tenantId: string
}

interface Planned {
  readonly fresh: ReadonlyArray<HookEvent.HookEvent>
  readonly duplicates: number
}

/** A run of the batch does not continue its recorded sequence: the batch may be held until it does. */
class Gap extends Data.TaggedError("Gap")<{ readonly refusal: Wire.Refusal; readonly runIds: ReadonlyArray<string> }> {}

type Item = { readonly event: HookEvent.HookEvent; readonly index: number }

/** The committer's bounds. */
export interface CommitOptions {
  /** How long a batch that arrives before its predecessor is held (0: refused at once, 409). */
  readonly holdFor: Duration.Duration
  /** Most events held at once across waiting batches; a batch beyond it is refused at once (409). */
  readonly maxHeldEvents: number
  /** How many committed events' digests are kept to tell a resend from a changed event. */
  readonly rememberEvents: number
}

/**
 * The digest an event is compared by: its JSON as decoded (fields in the schema's order, so two encodings of
 * one event that order its fields differently agree; a JSON payload keeps its sender's order).
 */
const digest = (event: HookEvent.HookEvent): string =>
  createHash("sha256").update(JSON.stringify(event)).digest().subarray(0, 16).toString("base64")

/**
 * Digests of the events committed most recently (by run, least recently written runs forgotten first): an
 * event resent at a recorded `(run, sequence)` is compared against them.
 */
class Digests {
  private readonly runs = new Map<string, Map<number, string>>()
  private size = 0
  constructor(private readonly limit: number) {}
  get(runId: string, sequence: number): string | undefined {
    return this.runs.get(runId)?.get(sequence)
  }
  add(events: ReadonlyArray<HookEvent.HookEvent>): void {
    if (this.limit <= 0) return
    for (const event of events) {
      let run = this.runs.get(event.runId)
      if (run === undefined) run = new Map()
      else this.runs.delete(event.runId)
      this.runs.set(event.runId, run)
      if (!run.has(event.sequenceIndex)) this.size++
      run.set(event.sequenceIndex, digest(event))
    }
    for (const [runId, run] of this.runs) {
      if (this.size <= this.limit) break
      this.size -= run.size
      this.runs.delete(runId)
    }
  }
}

const refuse = (refusal: Wire.Refusal) => Effect.fail(refusal)

const storeFailure = (error: RecorderError): Wire.Refusal =>
  error.reason === "transient"
    ? {
      error: "Unavailable",
      runId: error.runId,
      message: `the database is unavailable (${error.message}); retry later`
    }
    : error.reason === "conflict"
    ? { error: "Conflict", runId: error.runId, message: error.message }
    : error.reason === "serialization"
    ? { error: "InvalidBatch", runId: error.runId, message: error.message }
    : { error: "Internal", runId: error.runId, message: error.message }

/** Groups events by run (first appearance order), each run's events sorted by sequence index. */
const byRun = (
  events: ReadonlyArray<HookEvent.HookEvent>
): Map<string, Array<{ readonly event: HookEvent.HookEvent; readonly index: number }>> => {
  const runs = new Map<string, Array<{ readonly event: HookEvent.HookEvent; readonly index: number }>>()
  events.forEach((event, index) => {
    let list = runs.get(event.runId)
    if (list === undefined) runs.set(event.runId, list = [])
    list.push({ event, index })
  })
  for (const list of runs.values()) list.sort((a, b) => a.event.sequenceIndex - b.event.sequenceIndex)
  return runs
}

const planRun = (
  ledger: RunLedgerService,
  digests: Digests,
  principal: Principal,
  runId: string,
  items: ReadonlyArray<Item>
): Effect.Effect<Planned, Wire.Refusal | Gap> =>
  Effect.gen(function*() {
    for (let i = 1; i < items.length; i++) {
      if (items[i]!.event.sequenceIndex === items[i - 1]!.event.sequenceIndex) {
        const index = items[i]!.index
        return yield* refuse({
          error: "InvalidBatch",
          index,
          runId,
          field: `events.${index}.sequenceIndex`,
          message: `events.${index}.sequenceIndex: #${items[i]!.event.sequenceIndex} of run ${runId} appears twice`
        })
      }
    }
    const stored = yield* Effect.mapError(ledger.get(runId), storeFailure)
    const started = items.find((i) => i.event._tag === "RunStarted")
    const tenant = Option.isSome(stored)
      ? stored.value.tenantId
      : started === undefined
      ? undefined
      : (started.event as HookEvent.RunStarted).tenantId
    if (Option.isSome(stored) || started !== undefined) {
      if (tenant !== principal.tenantId) {
        return yield* refuse({
          error: "Forbidden",
          index: (started ?? items[0]!).index,
          runId,
          message: `run ${runId} belongs to ${
            tenant === undefined ? "no tenant" : "another tenant"
          }: this key may only write runs with tenantId "${principal.tenantId}"`
        })
      }
    }
    const last = Option.isSome(stored) ? stored.value.lastSequenceIndex : -1
    // A resent event must be the one recorded: the same (run, sequence) with other content is a conflict.
    for (const item of items) {
      if (item.event.sequenceIndex > last) break
      const known = digests.get(runId, item.event.sequenceIndex)
      if (known !== undefined && known !== digest(item.event)) {
        return yield* refuse({
          error: "Conflict",
          index: item.index,
          runId,
          field: `events.${item.index}`,
          message: `events.${item.index}: #${item.event.sequenceIndex} of run ${runId} is already recorded with ` +
            "other content: a retried batch must resend the same events; a new event takes the next sequence number"
        })
      }
    }
    const fresh = items.filter((i) => i.event.sequenceIndex > last)
    const expected = last + 1
    const gap = fresh.findIndex((item, k) => item.event.sequenceIndex !== expected + k)
    if (gap !== -1) {
      const item = fresh[gap]!
      const refusal: Wire.Refusal = {
        error: "Conflict",
        index: item.index,
        runId,
        field: `events.${item.index}.sequenceIndex`,
        message: Option.isNone(stored) && started === undefined
          ? `run ${runId} is unknown: send its run.started (#0) first`
          : `run ${runId} expects #${expected + gap} next but the batch has #${item.event.sequenceIndex}: ` +
            "send the missing events first"
      }
      // Only a batch that starts past the recorded end can be completed by a predecessor still on its way;
      // a hole inside the batch itself never fills.
      return yield* gap === 0 ? Effect.fail(new Gap({ refusal, runIds: [runId] })) : refuse(refusal)
    }
    return { fresh: fresh.map((i) => i.event), duplicates: items.length - fresh.length }
  })

const attempt = (
  recorder: RecorderService,
  ledger: RunLedgerService,
  digests: Digests,
  principal: Principal,
  events: ReadonlyArray<HookEvent.HookEvent>
): Effect.Effect<Wire.Accepted, Wire.Refusal | Gap | RecorderError> =>
  Effect.gen(function*() {
    const planned = yield* Effect.forEach(
      byRun(events),
      ([runId, items]) => planRun(ledger, digests, principal, runId, items)
    )
    const fresh = planned.flatMap((p) => p.fresh)
    const duplicates = planned.reduce((n, p) => n + p.duplicates, 0)
    if (fresh.length > 0) {
      yield* recorder.recordAll === undefined
        ? Effect.forEach(fresh, recorder.record, { discard: true })
        : recorder.recordAll(fresh)
      digests.add(fresh)
    }
    return { committed: fresh.length, duplicates }
  })

/** Commits batches; held batches are woken when a batch of their run commits (and re-checked every poll). */
export const makeCommitter = (
  recorder: RecorderService,
  ledger: RunLedgerService,
  options: CommitOptions
) => {
  const digests = new Digests(options.rememberEvents)
  const waiting = new Map<string, Set<Deferred.Deferred<void>>>()
  let held = 0
  const poll = Duration.millis(Math.min(250, Math.max(1, Duration.toMillis(options.holdFor))))

  const wake = (events: ReadonlyArray<HookEvent.HookEvent>) =>
    Effect.suspend(() => {
      const woken: Array<Deferred.Deferred<void>> = []
      for (const runId of new Set(events.map((e) => e.runId))) {
        const set = waiting.get(runId)
        if (set !== undefined) woken.push(...set)
      }
      return Effect.forEach(woken, (d) => Deferred.succeed(d, undefined), { discard: true })
    })

  const once = (principal: Principal, events: ReadonlyArray<HookEvent.HookEvent>) =>
    attempt(recorder, ledger, digests, principal, events).pipe(
      // A conflict on write (the same batch committed concurrently by a retry) is planned again once, so the
      // retry sees duplicates, not an error.
      Effect.catchTag(
        "RecorderError",
        (error) =>
          error.reason === "conflict" ? attempt(recorder, ledger, digests, principal, events) : Effect.fail(error)
      ),
      Effect.catchTag("RecorderError", (error) => Effect.fail(storeFailure(error))),
      Effect.tap((accepted) => accepted.committed > 0 ? wake(events) : Effect.void)
    )

  /** Holds a batch that starts past its run's recorded end until it continues it, or the hold runs out. */
  const hold = (principal: Principal, events: ReadonlyArray<HookEvent.HookEvent>, first: Gap) =>
    Effect.gen(function*() {
      if (Duration.toMillis(options.holdFor) <= 0) return yield* Effect.fail(first.refusal)
      if (held + events.length > options.maxHeldEvents) {
        return yield* Effect.fail({
          ...first.refusal,
          message: `${first.refusal.message} (not held: ${held} events already wait for their predecessors)`
        })
      }
      held += events.length
      const deadline = (yield* Effect.clock).unsafeCurrentTimeMillis() + Duration.toMillis(options.holdFor)
      let gap = first
      const release = Effect.sync(() => (held -= events.length))
      return yield* Effect.ensuring(
        Effect.gen(function*() {
          for (;;) {
            const now = (yield* Effect.clock).unsafeCurrentTimeMillis()
            if (now >= deadline) {
              return yield* Effect.fail({
                ...gap.refusal,
                message: `${gap.refusal.message} (held ${Duration.format(options.holdFor)}, the missing ` +
                  "events never arrived)"
              })
            }
            // Registered before the attempt, so a predecessor committing meanwhile is never missed.
            const signal = yield* Deferred.make<void>()
            for (const runId of gap.runIds) {
              let set = waiting.get(runId)
              if (set === undefined) waiting.set(runId, set = new Set())
              set.add(signal)
            }
            const unregister = Effect.sync(() => {
              for (const runId of gap.runIds) {
                const set = waiting.get(runId)
                set?.delete(signal)
                if (set?.size === 0) waiting.delete(runId)
              }
            })
            const outcome = yield* Effect.ensuring(
              Effect.gen(function*() {
                const tried = yield* Effect.either(once(principal, events))
                if (tried._tag === "Left" && tried.left instanceof Gap) {
                  yield* Deferred.await(signal).pipe(
                    Effect.timeout(Duration.millis(Math.max(1, Math.min(Duration.toMillis(poll), deadline - now)))),
                    Effect.ignore
                  )
                }
                return tried
              }),
              unregister
            )
            if (outcome._tag === "Right") return outcome.right
            if (!(outcome.left instanceof Gap)) return yield* Effect.fail(outcome.left)
            gap = outcome.left
          }
        }),
        release
      )
    })

  /** Commits the batch; answers only once every new event is durable. */
  const commit = (
    principal: Principal,
    events: ReadonlyArray<HookEvent.HookEvent>
  ): Effect.Effect<Wire.Accepted, Wire.Refusal> =>
    once(principal, events).pipe(
      Effect.catchIf((e): e is Gap => e instanceof Gap, (gap) => hold(principal, events, gap))
    )

  return { commit }
}
