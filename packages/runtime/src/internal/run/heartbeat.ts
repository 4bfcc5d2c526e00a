/**
 * The heartbeat of a run segment: while a model or tool call is in flight, the run's progress time is
 * refreshed every `heartbeatInterval`, so the sweep of stale runs never ends a run that is still working.
 * A failed heartbeat is logged and counted; by itself it never halts the run (its next write would).
 */
import { Effect, Exit, Fiber } from "effect"
import type { RunState } from "../runState.js"

const beat = (state: RunState, ledger: NonNullable<RunState["ledger"]>) =>
  Effect.gen(function*() {
    const runId = state.bus.runId
    let failures = 0
    while (true) {
      yield* Effect.sleep(state.agent.heartbeatInterval)
      if (state.inFlight === 0) continue
      const exit = yield* Effect.exit(ledger.heartbeat(runId))
      if (Exit.isSuccess(exit)) continue
      failures++
      // Every failure is counted; the log gets the first and then one in a hundred.
      if (failures % 100 === 1) {
        yield* Effect.logWarning(`heartbeat of run ${runId} failed (${failures} failure(s) so far)`, exit.cause).pipe(
          Effect.annotateLogs({ runId, heartbeatFailures: failures })
        )
      }
    }
  })

/** Runs `effect` with the segment's heartbeat beside it (none without a ledger: nothing sweeps such runs). */
export const withHeartbeat = <A, E, R>(state: RunState, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const ledger = state.ledger
  if (ledger === undefined) return effect
  return Effect.flatMap(
    Effect.forkDaemon(beat(state, ledger)),
    // Not awaited: a heartbeat stuck on a silent connection must not hold the run's result back.
    (fiber) => Effect.ensuring(effect, Fiber.interruptFork(fiber))
  )
}
