/**
 * The RunStore: typed, read-only queries over the six recorded tables — lists with filters and keyset
 * cursors, one run in full, its events (paged or live-tailed), messages, tool and model calls, pauses, its
 * family tree, usage rollups for billing and a streamed NDJSON export. It never writes.
 *
 * Use it as an Effect service (`RunStore.layer` over an `SqlClient`) or, without Effect, through
 * `await RunStore.fromDatabaseUrl(url)` (Promises, `close()`). A `scope: { tenantId }` given when the
 * store is made, or per call, restricts every query to that tenant: another tenant's run is `RunNotFound`.
 */
import type { SqlClient } from "@effect/sql"
import { Context, type Effect, Layer, type Stream } from "effect"
import type { InvalidQuery, RunNotFound, StoreError } from "./Errors.js"
import * as facade from "./internal/facade.js"
import * as internal from "./internal/store.js"
import type {
  EventPage,
  ExportedRun,
  LlmCall,
  PausePair,
  RunDetail,
  RunPage,
  RunStatus,
  RunTree,
  StoredEvent,
  ToolCall,
  TraceEntry,
  UsageGroup,
  UsageGroupBy
} from "./Records.js"

/** A tenant restriction: only runs (and usage) of this tenant are visible. */
export interface Scope {
  readonly tenantId: string
}

/** Options every method accepts. */
export interface CallOptions {
  /** Restricts this call to a tenant (in addition to the store's own scope, if any). */
  readonly scope?: Scope | undefined
}

/** A datetime argument: a `Date` or an ISO-8601 string with an offset (`Z` or `±hh:mm`). */
export type Instant = Date | string

/** Filters of `listRuns` and `exportRuns`; all are combined with AND. */
export interface RunFilter extends CallOptions {
  /** One status or several (an empty list matches nothing). */
  readonly status?: RunStatus | ReadonlyArray<RunStatus> | undefined
  readonly agentName?: string | undefined
  readonly tenantId?: string | undefined
  readonly parentRunId?: string | undefined
  /** Runs created at or after this instant. */
  readonly createdAfter?: Instant | undefined
  /** Runs created strictly before this instant. */
  readonly createdBefore?: Instant | undefined
  /** Exact match on top-level metadata keys (`[A-Za-z0-9_.-]`, scalar values: string, number, boolean, null). */
  readonly metadata?: { readonly [key: string]: string | number | boolean | null } | undefined
  /** Case-insensitive substring of the agent name or the run id. */
  readonly search?: string | undefined
}

/** Filters and page of `listRuns`. */
export interface ListRunsOptions extends RunFilter {
  /** A `nextCursor` from the previous page. */
  readonly cursor?: string | undefined
  /** 1..1000, default 50. */
  readonly limit?: number | undefined
}

/** Options of `getEvents`. */
export interface GetEventsOptions extends CallOptions {
  /** Events with a sequence index strictly greater than this. */
  readonly after?: number | undefined
  /** 1..1000, default 100. */
  readonly limit?: number | undefined
}

/** Options of `streamEvents`. */
export interface StreamEventsOptions extends CallOptions {
  /** Start after this sequence index (default: from the first event). */
  readonly after?: number | undefined
  /** Keep tailing after a terminal event (default false: the stream ends after it). */
  readonly follow?: boolean | undefined
  /** How often an idle tail polls, in ms (default 250). */
  readonly pollIntervalMs?: number | undefined
}

/** Options of `getTraces`, `getToolCalls` and `getLlmCalls`. */
export interface IterationOptions extends CallOptions {
  /** Only rows of this iteration. */
  readonly iteration?: number | undefined
}

/** Options of `usage`. */
export interface UsageOptions extends CallOptions {
  /** Dimensions to group by (none: one row of grand totals). */
  readonly groupBy?: ReadonlyArray<UsageGroupBy> | undefined
  /** Model calls recorded at or after this instant. */
  readonly from?: Instant | undefined
  /** Model calls recorded strictly before this instant. */
  readonly to?: Instant | undefined
  readonly tenantId?: string | undefined
}

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
  readonly getTraces: (
    runId: string,
    options?: IterationOptions
  ) => Effect.Effect<ReadonlyArray<TraceEntry>, RunQueryError>
  /** A run's tool calls in start order. */
  readonly getToolCalls: (
    runId: string,
    options?: IterationOptions
  ) => Effect.Effect<ReadonlyArray<ToolCall>, RunQueryError>
  /** A run's model calls in start order. */
  readonly getLlmCalls: (
    runId: string,
    options?: IterationOptions
  ) => Effect.Effect<ReadonlyArray<LlmCall>, RunQueryError>
  /** A run's pauses, each with the resume that ended it and the wait in ms. */
  readonly getPauses: (runId: string, options?: CallOptions) => Effect.Effect<ReadonlyArray<PausePair>, RunQueryError>
  /** A run's ancestors, descendants and the token/cost totals of its subtree (safe against parent cycles). */
  readonly getRunTree: (runId: string, options?: CallOptions) => Effect.Effect<RunTree, RunQueryError>
  /** Token, cost, run and model-call sums from `token_usage`, grouped by tenant, agent, model and/or UTC day. */
  readonly usage: (options?: UsageOptions) => Effect.Effect<ReadonlyArray<UsageGroup>, InvalidQuery | StoreError>
  /** Every matching run (newest first) with its events, traces, tool calls, model calls and usage rows, one per element. */
  readonly exportRecords: (filter?: RunFilter) => Stream.Stream<ExportedRun, InvalidQuery | StoreError>
  /** `exportRecords` as NDJSON: one JSON line (ending in `\n`) per run, in constant memory. */
  readonly exportRuns: (filter?: RunFilter) => Stream.Stream<string, InvalidQuery | StoreError>
}

/** Options of a store. */
export interface RunStoreOptions {
  /** Restricts every query of this store to one tenant. */
  readonly scope?: Scope | undefined
}

/** The RunStore service. */
export class RunStore extends Context.Tag("@sextant/store/RunStore")<RunStore, RunStoreService>() {
  /** Makes a store over the `SqlClient` in context. */
  static readonly make: (options?: RunStoreOptions) => Effect.Effect<RunStoreService, never, SqlClient.SqlClient> =
    internal.make
  /** A store over the `SqlClient` in context. */
  static readonly layer: Layer.Layer<RunStore, never, SqlClient.SqlClient> = Layer.effect(RunStore, internal.make())
  /** A store over the `SqlClient` in context, with options (a tenant scope). */
  static readonly layerWith = (options: RunStoreOptions): Layer.Layer<RunStore, never, SqlClient.SqlClient> =>
    Layer.effect(RunStore, internal.make(options))
  /** Opens a database URL (`sqlite:…`, `postgres://…`) and returns a Promise store; call `close()` when done. */
  static readonly fromDatabaseUrl: (url: string, options?: RunStoreOptions) => Promise<RunStoreClient> =
    facade.fromDatabaseUrl
  /** A Promise store over an existing service (the caller owns its resources; `close()` does nothing). */
  static readonly fromService: (service: RunStoreService) => RunStoreClient = facade.fromService
}

/** The RunStore for hosts without Effect: the same methods returning Promises (rejecting with the tagged errors). */
export interface RunStoreClient {
  readonly listRuns: (options?: ListRunsOptions) => Promise<RunPage>
  readonly getRun: (runId: string, options?: CallOptions) => Promise<RunDetail>
  readonly getEvents: (runId: string, options?: GetEventsOptions) => Promise<EventPage>
  /** An async iterable; breaking out of the loop stops the tail. */
  readonly streamEvents: (runId: string, options?: StreamEventsOptions) => AsyncIterable<StoredEvent>
  readonly getTraces: (runId: string, options?: IterationOptions) => Promise<ReadonlyArray<TraceEntry>>
  readonly getToolCalls: (runId: string, options?: IterationOptions) => Promise<ReadonlyArray<ToolCall>>
  readonly getLlmCalls: (runId: string, options?: IterationOptions) => Promise<ReadonlyArray<LlmCall>>
  readonly getPauses: (runId: string, options?: CallOptions) => Promise<ReadonlyArray<PausePair>>
  readonly getRunTree: (runId: string, options?: CallOptions) => Promise<RunTree>
  readonly usage: (options?: UsageOptions) => Promise<ReadonlyArray<UsageGroup>>
  /** NDJSON lines, one per run; pipe it with `Readable.from(store.exportRuns(filter))`. */
  readonly exportRuns: (filter?: RunFilter) => AsyncIterable<string>
  /** The Effect service behind this client (the read router uses it directly). */
  readonly service: RunStoreService
  /** Closes the database connections this client opened (idempotent). */
  readonly close: () => Promise<void>
}
