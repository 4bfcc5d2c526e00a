/**
 * Followers of runs executing in this process (`Runs.follow`): every segment offers its events to the
 * followers of its run through one sink (a Map lookup per event when nobody follows). A follower sees the
 * events from the moment it attaches to the end of the segment (its terminal event or pause).
 */
import { Effect, Exit, Mailbox, Stream } from "effect"
import { RunNotFound } from "../../Errors.js"
import * as Lifecycle from "../../Lifecycle.js"
import type { StreamEvent } from "../../StreamEvent.js"
import type { Sink } from "../bus.js"
import * as Registry from "../registry.js"

const followers = new Map<string, Set<(event: StreamEvent) => void>>()

/** The sink every segment offers its events to; it never blocks. */
export const followersSink: Sink = (event) => {
  const set = followers.get(event.runId)
  if (set === undefined) return
  for (const follower of set) follower(event)
}

/** The events of a run executing in this process, to the end of its segment; elsewhere a `RunNotFound`. */
export const follow = (runId: string): Stream.Stream<StreamEvent, RunNotFound> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    if (!Registry.isRunning(runId)) {
      return yield* new RunNotFound({ runId, message: `run ${runId} is not executing in this process` })
    }
    const mailbox = yield* Mailbox.make<StreamEvent>()
    const follower = (event: StreamEvent) => {
      mailbox.unsafeOffer(event)
      if (Lifecycle.isSegmentEnd(event)) mailbox.unsafeDone(Exit.void)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        let set = followers.get(runId)
        if (set === undefined) followers.set(runId, set = new Set())
        set.add(follower)
      }),
      () =>
        Effect.sync(() => {
          const set = followers.get(runId)
          set?.delete(follower)
          if (set?.size === 0) followers.delete(runId)
        })
    )
    return Mailbox.toStream(mailbox)
  }))
