/**
 * `onlyOnError` sampling: a run whose events are held in memory and recorded only if the run fails. The run
 * gets a bus of the same shape as the real one (`HookBus.HookBus`) that stamps events itself — gapless
 * sequences, the ambient clock's timestamps — and keeps them in an array; nothing reaches the recorder or a
 * notifier meanwhile. When the tree's root records `run.failed`, every held event of the tree (the root's
 * first, then its children's in the order they started) is replayed through real buses, with the timestamps
 * it was stamped with, so the record equals what recording straight away would have written; from then on
 * the tree's runs write directly. A tree whose root ends otherwise is forgotten: it cost an array.
 */
import {
  HookBus,
  type HookEvent,
  type InvalidRunOptions,
  type Notifier,
  type Recorder,
  type RecorderError,
  type Redaction
} from "@sextant/runtime"
import { Clock, Effect, type Scope } from "effect"

interface Held {
  readonly input: HookBus.HookEventInput
  readonly iteration: number
  readonly timestamp: number
}

/** One run of a deferred tree. */
interface Member {
  readonly runId: string
  /** The real bus opened when the run started (a run with notifiers of its own, checked then). */
  readonly prepared: HookBus.HookBus | undefined
  readonly held: Array<Held>
  /** The real bus, once the tree is recorded. */
  real: HookBus.HookBus | undefined
  readonly lock: Effect.Semaphore
}

/** A tree of runs recorded only if its root fails. */
export interface Deferral {
  /** Whether the tree was recorded (its root failed). */
  recorded: boolean
  readonly members: Array<Member>
  /** Opens a real bus (over the recorder and scope of the root's start) whose timestamps can be replayed. */
  readonly open: (
    runId: string,
    notifiers: ReadonlyArray<Notifier.Notifier> | undefined,
    redaction: Redaction.Config | undefined
  ) => Effect.Effect<HookBus.HookBus, InvalidRunOptions>
  /** The timestamp the real buses stamp next (undefined: now). */
  replayAt: number | undefined
}

/** A clock whose `now` is the replayed event's timestamp while replaying, else the ambient clock's. */
const replayClock = (deferral: Deferral, base: Clock.Clock): Clock.Clock => {
  const millis = () => deferral.replayAt ?? base.unsafeCurrentTimeMillis()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    unsafeCurrentTimeNanos: () =>
      deferral.replayAt === undefined ? base.unsafeCurrentTimeNanos() : BigInt(deferral.replayAt) * 1_000_000n,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanos: Effect.sync(() =>
      deferral.replayAt === undefined ? base.unsafeCurrentTimeNanos() : BigInt(deferral.replayAt) * 1_000_000n
    ),
    sleep: base.sleep
  }
}

/** A new deferred tree, its real buses opened later over the recorder and scope in context now. */
export const make: Effect.Effect<Deferral, never, Recorder | Scope.Scope> = Effect.gen(function*() {
  const context = yield* Effect.context<Recorder | Scope.Scope>()
  const base = yield* Effect.clock
  const deferral: Deferral = {
    recorded: false,
    members: [],
    replayAt: undefined,
    open: (runId, notifiers, redaction) =>
      HookBus.open({ runId, notifiers, redaction }).pipe(
        Effect.withClock(replayClock(deferral, base)),
        Effect.provide(context)
      )
  }
  return deferral
})

const replay = (deferral: Deferral, member: Member): Effect.Effect<void, RecorderError> =>
  Effect.gen(function*() {
    // Without notifiers or a policy of its own, opening a bus cannot be refused (nothing to check).
    const real = member.prepared ?? (yield* Effect.orDie(deferral.open(member.runId, undefined, undefined)))
    for (const held of member.held) {
      deferral.replayAt = held.timestamp
      yield* Effect.ensuring(
        real.emit(held.input, held.iteration),
        Effect.sync(() => (deferral.replayAt = undefined))
      )
    }
    member.held.length = 0
    member.real = real
  })

/** Records the whole tree (the root first): each member's held events replayed under its lock. */
const record = (deferral: Deferral): Effect.Effect<void, RecorderError> =>
  Effect.suspend(() => {
    deferral.recorded = true
    return Effect.forEach(
      deferral.members,
      (member) => member.lock.withPermits(1)(replay(deferral, member)),
      { discard: true }
    )
  })

/**
 * A bus for a run of the tree: holds its events until the tree is recorded, then writes directly. The
 * root's `run.failed` records the tree before the call returns (a failed write fails that call, fail-closed).
 */
export const bus = (
  deferral: Deferral,
  runId: string,
  notifiers: ReadonlyArray<Notifier.Notifier> | undefined,
  root: boolean,
  redaction?: Redaction.Config | undefined
): Effect.Effect<HookBus.HookBus, InvalidRunOptions> =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    // A run with notifiers or a redaction policy of its own opens its real bus now, so that they are checked
    // before anything is held (and held events are redacted when they are replayed through it).
    const prepared = (notifiers === undefined || notifiers.length === 0) && redaction === undefined
      ? undefined
      : yield* deferral.open(runId, notifiers, redaction)
    const member: Member = { runId, prepared, held: [], real: undefined, lock: yield* Effect.makeSemaphore(1) }
    deferral.members.push(member)
    let sequence = 0
    const emit = <E extends HookBus.HookEventInput>(
      input: E,
      iteration: number
    ): Effect.Effect<HookEvent.HookEvent, RecorderError> =>
      Effect.suspend(() => {
        if (member.real !== undefined) return member.real.emit(input, iteration)
        if (deferral.recorded) {
          // Started after the tree was recorded: open the real bus now and write directly.
          return member.lock.withPermits(1)(
            Effect.suspend(() => member.real !== undefined ? Effect.void : replay(deferral, member))
          ).pipe(Effect.zipRight(Effect.suspend(() => member.real!.emit(input, iteration))))
        }
        const timestamp = clock.unsafeCurrentTimeMillis()
        const event = { ...input, runId, sequenceIndex: sequence++, iteration, timestamp } as HookEvent.HookEvent
        member.held.push({ input, iteration, timestamp })
        if (root && input._tag === "RunFailed") return Effect.as(record(deferral), event)
        return Effect.succeed(event)
      })
    return {
      runId,
      emit,
      // Live deltas of a run that may never be recorded are not offered; once recorded, they go out as usual.
      delta: (delta) => member.real === undefined ? Effect.void : member.real.delta(delta)
    }
  })
