/**
 * The RunStore: typed, read-only queries over the recorded tables (and the detectors' `failure_signals`) — lists with filters and keyset
 * cursors, one run in full, its events (paged or live-tailed), messages, tool and model calls, pauses, its
 * family tree, usage rollups for billing and a streamed NDJSON export. It never writes and never migrates.
 *
 * Use it as an Effect service (`RunStore.layer` over an `SqlClient`) or, without Effect, through
 * `await RunStore.fromDatabaseUrl(url)` (Promises, `close()`). A `scope: { tenantId }` given when the
 * store is made, or per call, restricts every query to that tenant: another tenant's run is `RunNotFound`.
 * Every argument is decoded with the Schemas of `Options`: a bad one is `InvalidQuery` naming its path.
 * Every list that can grow comes back as `{ items }` (a page adds its cursor), here and over HTTP alike.
 */
import type { SqlClient, SqlError } from "@effect/sql"
import type { MigrationError } from "@effect/sql/Migrator"
import type { DatabaseUrlError, DriverNotInstalled, MigrationsPending } from "@sextant/recorder"
import { Context, type Effect, Layer, type Schema, type Stream } from "effect"
import type { DatabaseNotFound, InvalidQuery, RunNotFound, StoreError, ThreadNotFound } from "./Errors.js"
import * as facade from "./internal/facade.js"
import * as open from "./internal/open.js"
import * as internal from "./internal/store.js"
import type * as Options from "./Options.js"
import type {
  EventPage,
  ExportedRun,
  LlmCallList,
  PauseList,
  RunDetail,
  RunPage,
  RunTree,
  SignalList,
  SignalPage,
  StoredEvent,
  StreamChunkList,
  StreamList,
  ThreadDetail,
  ThreadPage,
  ToolCallList,
  TraceList,
  UsageList
} from "./Records.js"
import type * as Views from "./Views.js"

/** A tenant restriction: only runs (and usage) of this tenant are visible. */
export interface Scope extends Schema.Schema.Encoded<typeof Options.Scope> {}

/** Options every method accepts (`scope` restricts this call to a tenant, within the store's own scope). */
export interface CallOptions extends Schema.Schema.Encoded<typeof Options.CallOptions> {}

/** A datetime argument: a `Date` or an ISO-8601 string with an offset (`Z` or `±hh:mm`). */
export type Instant = Date | string

/** Filters of `listRuns` and `exportRuns`; all are combined with AND (see `Options.RunFilter`). */
export interface RunFilter extends Schema.Schema.Encoded<typeof Options.RunFilter> {}

/** Filters and page of `listRuns`: a `cursor` from the previous page, `limit` 1..1000 (default 50). */
export interface ListRunsOptions extends Schema.Schema.Encoded<typeof Options.ListRunsOptions> {}

/** Filters and page of `listThreads` (see `Options.ListThreadsOptions`). */
export interface ListThreadsOptions extends Schema.Schema.Encoded<typeof Options.ListThreadsOptions> {}

/** Filters and page of `listThreads` (see `Options.ListThreadsOptions`). */
export interface ListThreadsOptions extends Schema.Schema.Encoded<typeof Options.ListThreadsOptions> {}

/** Options of `getEvents`: events `after` a sequence index, `limit` 1..1000 (default 100). */
export interface GetEventsOptions extends Schema.Schema.Encoded<typeof Options.GetEventsOptions> {}

/** Options of `streamEvents`: start `after` a sequence index, `follow` past the end, `pollIntervalMs` (250). */
export interface StreamEventsOptions extends Schema.Schema.Encoded<typeof Options.StreamEventsOptions> {}

/** Options of `getTraces`, `getToolCalls` and `getLlmCalls`: only rows of one `iteration`. */
export interface IterationOptions extends Schema.Schema.Encoded<typeof Options.IterationOptions> {}

/** Options of `getStreamChunks`: chunks `after` a sequence, `limit` 1..1000 (default 1000). */
export interface StreamChunksOptions extends Schema.Schema.Encoded<typeof Options.StreamChunksOptions> {}

/** Options of `getRunSignals`: `shadow` is `exclude` (default: live signals only), `include` or `only`. */
export interface RunSignalsOptions extends Schema.Schema.Encoded<typeof Options.RunSignalsOptions> {}

/** Filters and page of `listSignals`: agent, type, severity, tenant, `since`/`until`, `shadow`, cursor, limit. */
export interface ListSignalsOptions extends Schema.Schema.Encoded<typeof Options.ListSignalsOptions> {}

/** Options of `usage`: `groupBy` dimensions, `from` (inclusive) / `to` (exclusive), `tenantId`. */
export interface UsageOptions extends Schema.Schema.Encoded<typeof Options.UsageOptions> {}

/** Options of `listWaiting`: `limit` 1..1000 (default 50), `agentName`, `tenantId`. */
export interface WaitingOptions extends Schema.Schema.Encoded<typeof Views.WaitingOptions> {}

/** Errors of a per-run query. */
export type RunQueryError = RunNotFound | InvalidQuery | StoreError

/** What the RunStore does. */
export interface RunStoreService {
  /** Runs matching the filter, newest first (`created_at`, then `id`, descending), a page at a time. */
  readonly listRuns: (options?: ListRunsOptions) => Effect.Effect<RunPage, InvalidQuery | StoreError>
  /** One run in full. */
  readonly getRun: (runId: string, options?: CallOptions) => Effect.Effect<RunDetail, RunQueryError>
  /** A page of a run's recorded events in sequence order. */
  readonly getEvents: (runId: string, options?: GetEventsOptions) => Effect.Effect<EventPage, RunQueryError>
  /** A live tail of a run's events: what is recorded, then new events as they land; ends after a terminal event unless `follow`. */
  readonly streamEvents: (runId: string, options?: StreamEventsOptions) => Stream.Stream<StoredEvent, RunQueryError>
  /** A run's messages in order. */
  readonly getTraces: (runId: string, options?: IterationOptions) => Effect.Effect<TraceList, RunQueryError>
  /** A run's tool calls in start order. */
  readonly getToolCalls: (runId: string, options?: IterationOptions) => Effect.Effect<ToolCallList, RunQueryError>
  /** A run's model calls in start order. */
  readonly getLlmCalls: (runId: string, options?: IterationOptions) => Effect.Effect<LlmCallList, RunQueryError>
  /** A run's pauses, each with the resume that ended it and the wait in ms. */
  readonly getPauses: (runId: string, options?: CallOptions) => Effect.Effect<PauseList, RunQueryError>
  /** A run's streams (tool streams and streamed model calls), each with its count, bytes, latency and rate. */
  readonly getStreams: (runId: string, options?: IterationOptions) => Effect.Effect<StreamList, RunQueryError>
  /** The chunks sampling kept of one of a run's streams, in sequence order. */
  readonly getStreamChunks: (
    runId: string,
    streamId: string,
    options?: StreamChunksOptions
  ) => Effect.Effect<StreamChunkList, RunQueryError>
  /** A run's ancestors, descendants and the token/cost totals of its subtree (safe against parent cycles). */
  readonly getRunTree: (runId: string, options?: CallOptions) => Effect.Effect<RunTree, RunQueryError>
  /** Conversations (tenant-scoped), latest activity first, with run count and totals; keyset pages. */
  readonly listThreads: (options?: ListThreadsOptions) => Effect.Effect<ThreadPage, InvalidQuery | StoreError>
  /** A conversation: its runs oldest first, their messages in order, its totals; `ThreadNotFound` if none is visible. */
  readonly getThread: (
    threadId: string,
    options?: CallOptions
  ) => Effect.Effect<ThreadDetail, ThreadNotFound | InvalidQuery | StoreError>
  /** A run's failure signals (stored by `@sextant/detectors`) in step order; live ones only unless `shadow` asks. */
  readonly getRunSignals: (runId: string, options?: RunSignalsOptions) => Effect.Effect<SignalList, RunQueryError>
  /** Failure signals matching the filters, newest detection first, keyset pages; live ones only unless `shadow` asks. */
  readonly listSignals: (options?: ListSignalsOptions) => Effect.Effect<SignalPage, InvalidQuery | StoreError>
  /** Token, cost, run and model-call sums from `token_usage`, grouped by tenant, agent, model and/or UTC day. */
  readonly usage: (options?: UsageOptions) => Effect.Effect<UsageList, InvalidQuery | StoreError>
  /** `listRuns` as table rows: each run with its pause count, child count and wall time (see `Views`). */
  readonly listRunRows: (options?: ListRunsOptions) => Effect.Effect<Views.RunRowPage, InvalidQuery | StoreError>
  /** Runs waiting for a client tool result, an approval or human input, longest waiting first, with the wait. */
  readonly listWaiting: (options?: WaitingOptions) => Effect.Effect<Views.WaitingList, InvalidQuery | StoreError>
  /** A run's timeline: typed nodes (calls, pauses, governance, retries, end) in sequence order, values capped. */
  readonly getTimeline: (runId: string, options?: CallOptions) => Effect.Effect<Views.Timeline, RunQueryError>
  /** Every matching run (newest first) with its events, traces, tool calls, model calls and usage rows, one per element. */
  readonly exportRecords: (filter?: RunFilter) => Stream.Stream<ExportedRun, InvalidQuery | StoreError>
  /** `exportRecords` as NDJSON: one JSON line (ending in `\n`) per run, in constant memory. */
  readonly exportRuns: (filter?: RunFilter) => Stream.Stream<string, InvalidQuery | StoreError>
}

/** Options of a store: a `scope` restricts every query of this store to one tenant. */
export interface RunStoreOptions extends Schema.Schema.Encoded<typeof Options.RunStoreOptions> {}

/** Why a store could not be made: its options are invalid, or the database has no (current) Sextant schema. */
export type MakeError = InvalidQuery | MigrationsPending | StoreError

/** The RunStore service. */
export class RunStore extends Context.Tag("@sextant/store/RunStore")<RunStore, RunStoreService>() {
  /** Makes a store over the `SqlClient` in context; fails with `MigrationsPending` when the schema is missing or behind. */
  static readonly make: (options?: RunStoreOptions) => Effect.Effect<RunStoreService, MakeError, SqlClient.SqlClient> =
    internal.make
  /** A store over the `SqlClient` in context. */
  static readonly layer: Layer.Layer<RunStore, MakeError, SqlClient.SqlClient> = Layer.effect(RunStore, internal.make())
  /** A store over the `SqlClient` in context, with options (a tenant scope). */
  static readonly layerWith = (options: RunStoreOptions): Layer.Layer<RunStore, MakeError, SqlClient.SqlClient> =>
    Layer.effect(RunStore, internal.make(options))
  /**
   * A store on its own read-only connection to a database URL (`sqlite:…`, `postgres://…`): on SQLite a
   * connection beside the recorder's, so reads never wait for its commits. Fails like `fromDatabaseUrl`.
   */
  static readonly layerFromUrl = (
    url: string,
    options?: RunStoreOptions
  ): Layer.Layer<RunStore, OpenError | DatabaseUrlError | SqlError.SqlError | MigrationError | DriverNotInstalled> =>
    open.layerFromUrl(RunStore, url, options)
  /**
   * Opens a database URL (`sqlite:…`, `postgres://…`) read-only and returns a Promise store; call `close()` when
   * done. A SQLite file that does not exist is `DatabaseNotFound` (never created); a database without the
   * current Sextant schema is `MigrationsPending` (never migrated).
   */
  static readonly fromDatabaseUrl: (url: string, options?: RunStoreOptions) => Promise<RunStoreClient> =
    facade.fromDatabaseUrl
  /** A Promise store over an existing service (the caller owns its resources; `close()` does nothing). */
  static readonly fromService: (service: RunStoreService) => RunStoreClient = facade.fromService
}

/**
 * Errors `fromDatabaseUrl` rejects with, besides those of `make` (see `@sextant/recorder`'s `DatabaseUrlError`,
 * and `DriverNotInstalled` when the URL's driver, an optional peer dependency, is not installed).
 */
export type OpenError = MakeError | DatabaseNotFound

/** The RunStore for hosts without Effect: the same methods returning Promises (rejecting with the tagged errors). */
export interface RunStoreClient {
  /** See `RunStoreService.listRuns`. */
  readonly listRuns: (options?: ListRunsOptions) => Promise<RunPage>
  /** See `RunStoreService.getRun`. */
  readonly getRun: (runId: string, options?: CallOptions) => Promise<RunDetail>
  /** See `RunStoreService.getEvents`. */
  readonly getEvents: (runId: string, options?: GetEventsOptions) => Promise<EventPage>
  /** An async iterable; breaking out of the loop stops the tail. */
  readonly streamEvents: (runId: string, options?: StreamEventsOptions) => AsyncIterable<StoredEvent>
  /** See `RunStoreService.getTraces`. */
  readonly getTraces: (runId: string, options?: IterationOptions) => Promise<TraceList>
  /** See `RunStoreService.getToolCalls`. */
  readonly getToolCalls: (runId: string, options?: IterationOptions) => Promise<ToolCallList>
  /** See `RunStoreService.getLlmCalls`. */
  readonly getLlmCalls: (runId: string, options?: IterationOptions) => Promise<LlmCallList>
  /** See `RunStoreService.getPauses`. */
  readonly getPauses: (runId: string, options?: CallOptions) => Promise<PauseList>
  /** See `RunStoreService.getStreams`. */
  readonly getStreams: (runId: string, options?: IterationOptions) => Promise<StreamList>
  /** See `RunStoreService.getStreamChunks`. */
  readonly getStreamChunks: (runId: string, streamId: string, options?: StreamChunksOptions) => Promise<StreamChunkList>
  /** See `RunStoreService.getRunTree`. */
  readonly getRunTree: (runId: string, options?: CallOptions) => Promise<RunTree>
  /** See `RunStoreService.listThreads`. */
  readonly listThreads: (options?: ListThreadsOptions) => Promise<ThreadPage>
  /** See `RunStoreService.getThread`. */
  readonly getThread: (threadId: string, options?: CallOptions) => Promise<ThreadDetail>
  /** See `RunStoreService.getRunSignals`. */
  readonly getRunSignals: (runId: string, options?: RunSignalsOptions) => Promise<SignalList>
  /** See `RunStoreService.listSignals`. */
  readonly listSignals: (options?: ListSignalsOptions) => Promise<SignalPage>
  /** See `RunStoreService.usage`. */
  readonly usage: (options?: UsageOptions) => Promise<UsageList>
  /** See `RunStoreService.listRunRows`. */
  readonly listRunRows: (options?: ListRunsOptions) => Promise<Views.RunRowPage>
  /** See `RunStoreService.listWaiting`. */
  readonly listWaiting: (options?: WaitingOptions) => Promise<Views.WaitingList>
  /** See `RunStoreService.getTimeline`. */
  readonly getTimeline: (runId: string, options?: CallOptions) => Promise<Views.Timeline>
  /** NDJSON lines, one per run; pipe it with `Readable.from(store.exportRuns(filter))`. */
  readonly exportRuns: (filter?: RunFilter) => AsyncIterable<string>
  /** The Effect service behind this client (the read router uses it directly). */
  readonly service: RunStoreService
  /** Closes the database connections this client opened (idempotent). */
  readonly close: () => Promise<void>
}
