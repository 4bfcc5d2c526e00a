/**
 * The Promise facade of the RunStore for hosts without Effect. Failures reject with the tagged error itself
 * (`RunNotFound`, `InvalidQuery`, `StoreError`, …), so `err._tag` can be matched.
 */
import { Cause, Effect, Exit, Scope, Stream } from "effect"
import type { RunStoreClient, RunStoreOptions, RunStoreService } from "../RunStore.js"
import { scoped } from "./open.js"

const toPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

// `Stream.toAsyncIterable` rejects with the squashed cause, i.e. the tagged error itself.
const toIterable = <A, E>(stream: Stream.Stream<A, E>): AsyncIterable<A> => Stream.toAsyncIterable(stream)

/** A Promise client over a service; `close` runs `release` once. */
export const fromService = (
  service: RunStoreService,
  release: () => Promise<void> = async () => {}
): RunStoreClient => {
  let closing: Promise<void> | undefined
  return {
    listRuns: (o) => toPromise(service.listRuns(o)),
    getRun: (id, o) => toPromise(service.getRun(id, o)),
    getEvents: (id, o) => toPromise(service.getEvents(id, o)),
    streamEvents: (id, o) => toIterable(service.streamEvents(id, o)),
    getTraces: (id, o) => toPromise(service.getTraces(id, o)),
    getToolCalls: (id, o) => toPromise(service.getToolCalls(id, o)),
    getLlmCalls: (id, o) => toPromise(service.getLlmCalls(id, o)),
    getPauses: (id, o) => toPromise(service.getPauses(id, o)),
    getStreams: (id, o) => toPromise(service.getStreams(id, o)),
    getStreamChunks: (id, stream, o) => toPromise(service.getStreamChunks(id, stream, o)),
    getRunTree: (id, o) => toPromise(service.getRunTree(id, o)),
    getThread: (id, o) => toPromise(service.getThread(id, o)),
    listThreads: (o) => toPromise(service.listThreads(o)),
    getRunSignals: (id, o) => toPromise(service.getRunSignals(id, o)),
    listSignals: (o) => toPromise(service.listSignals(o)),
    usage: (o) => toPromise(service.usage(o)),
    listRunRows: (o) => toPromise(service.listRunRows(o)),
    listWaiting: (o) => toPromise(service.listWaiting(o)),
    getTimeline: (id, o) => toPromise(service.getTimeline(id, o)),
    exportRuns: (f) => toIterable(service.exportRuns(f)),
    service,
    close: () => (closing ??= release())
  }
}

/** Opens the database at `url` read-only and returns a Promise client that owns its connections. */
export const fromDatabaseUrl = async (url: string, options?: RunStoreOptions): Promise<RunStoreClient> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.extend(scoped(url, options), scope))
  const release = () => Effect.runPromise(Scope.close(scope, Exit.void))
  if (Exit.isFailure(exit)) {
    await release()
    throw Cause.squash(exit.cause)
  }
  return fromService(exit.value, release)
}
