/**
 * Committing a decoded batch: each run's tenant checked against the key's, events already durable skipped
 * (idempotent by `(run, sequence)`), the rest required to continue each run's sequence without a gap, then
 * written through the recorder in one `recordAll` (one group commit) and acknowledged only once durable.
 */
import type { HookEvent, RecorderError, RecorderService, RunLedgerService } from "@sextant/runtime"
import { Effect, Option } from "effect"
import type * as Wire from "./wire.js"

/** Who sent the batch: a key may only write runs of its own tenant. */
export interface Principal {
  readonly tenantId: string
}

interface Planned {
  readonly fresh: ReadonlyArray<HookEvent.HookEvent>
  readonly duplicates: number
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
  principal: Principal,
  runId: string,
  items: ReadonlyArray<{ readonly event: HookEvent.HookEvent; readonly index: number }>
): Effect.Effect<Planned, Wire.Refusal> =>
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
    const fresh = items.filter((i) => i.event.sequenceIndex > last)
    const expected = last + 1
    const gap = fresh.findIndex((item, k) => item.event.sequenceIndex !== expected + k)
    if (gap !== -1) {
      const item = fresh[gap]!
      return yield* refuse({
        error: "Conflict",
        index: item.index,
        runId,
        field: `events.${item.index}.sequenceIndex`,
        message: Option.isNone(stored) && started === undefined
          ? `run ${runId} is unknown: send its run.started (#0) first`
          : `run ${runId} expects #${expected + gap} next but the batch has #${item.event.sequenceIndex}: ` +
            "send the missing events first"
      })
    }
    return { fresh: fresh.map((i) => i.event), duplicates: items.length - fresh.length }
  })

const attempt = (
  recorder: RecorderService,
  ledger: RunLedgerService,
  principal: Principal,
  events: ReadonlyArray<HookEvent.HookEvent>
): Effect.Effect<Wire.Accepted, Wire.Refusal | RecorderError> =>
  Effect.gen(function*() {
    const planned = yield* Effect.forEach(byRun(events), ([runId, items]) => planRun(ledger, principal, runId, items))
    const fresh = planned.flatMap((p) => p.fresh)
    const duplicates = planned.reduce((n, p) => n + p.duplicates, 0)
    if (fresh.length > 0) {
      yield* recorder.recordAll === undefined
        ? Effect.forEach(fresh, recorder.record, { discard: true })
        : recorder.recordAll(fresh)
    }
    return { committed: fresh.length, duplicates }
  })

/**
 * Commits the batch; answers only once every new event is durable. A conflict on write (the same batch
 * committed concurrently by a retry) is planned again once, so the retry sees duplicates, not an error.
 */
export const commit = (
  recorder: RecorderService,
  ledger: RunLedgerService,
  principal: Principal,
  events: ReadonlyArray<HookEvent.HookEvent>
): Effect.Effect<Wire.Accepted, Wire.Refusal> =>
  attempt(recorder, ledger, principal, events).pipe(
    Effect.catchTag("RecorderError", (error) =>
      error.reason === "conflict" ? attempt(recorder, ledger, principal, events) : Effect.fail(error)),
    Effect.catchTag("RecorderError", (error) =>
      Effect.fail(storeFailure(error)))
  )
