/**
 * Fleet mode: a process becomes a runner of an `@effect/cluster` cluster whose storage (runners, shard locks,
 * messages) is the same Postgres database as the record. A submitted run is recorded (`run.started`, marked
 * `metadata.fleet = true`) and its `Execute` message persisted before `submit` returns; the cluster delivers
 * the message to the runner owning the run's shard, which continues the run from its record
 * (`Agent.recover`). When a runner dies its shards move, the unanswered message is delivered again elsewhere,
 * and the run goes on from its last completed step.
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as Rpc from "@effect/rpc/Rpc"
import { SqlClient } from "@effect/sql"
import { Database, Migrations, SqlRecorder, Sweep } from "@sextant/recorder"
import {
  Agent,
  type CancelResult,
  HookEvent,
  Ids,
  LanguageModel,
  Lifecycle,
  Recorder,
  type RetryPolicy,
  RunLedger,
  type RunResult,
  Runs
} from "@sextant/runtime"
import { Chunk, Context, Duration, Effect, Either, Layer, Option, Schedule, Schema, Stream } from "effect"
import {
  FleetAgentConflict,
  FleetAgentNotRegistered,
  FleetError,
  FleetListenFailed,
  FleetPostgresOnly,
  InvalidFleetConfig
} from "./Errors.js"
import * as Cluster from "./internal/cluster.js"
import { readEvents } from "./internal/record.js"

/** Where a runner listens and how other runners reach it. */
export interface RunnerOptions {
  /** The host other runners connect to (default `localhost`). */
  readonly host?: string | undefined
  /**
   * The port of this runner's cluster socket; absent, the OS picks a free one and the runner registers the
   * port it got (`FleetService.address`). A fixed port is best chosen outside the kernel's ephemeral range
   * (`/proc/sys/net/ipv4/ip_local_port_range`, often 32768-60999): there any outgoing connection may hold it.
   */
  readonly port?: number | undefined
  /** The host the socket listens on, when it differs from `host` (e.g. `0.0.0.0` in a container). */
  readonly listenHost?: string | undefined
  /**
   * How long a port in use is retried, with backoff, before the layer fails `FleetListenFailed` naming the
   * address (default 10 s: a previous runner on this machine may still be closing).
   */
  readonly listenRetry?: Duration.DurationInput | undefined
}

/** Options of `Fleet.layer`. */
export interface FleetOptions {
  /** The Postgres database of the record (and of the cluster's tables, `cluster_*`). SQLite is refused. */
  readonly databaseUrl: string
  /**
   * Makes this process a runner (it executes runs); absent, the process is a client: it submits, awaits and
   * cancels runs executed elsewhere.
   */
  readonly runner?: RunnerOptions | undefined
  /** Runs this runner executes at once (default 16); further runs wait on the runner for a slot. */
  readonly capacity?: number | undefined
  /** Agents registered at start (the same as `Fleet.register` each). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- agents of any output
  readonly agents?: ReadonlyArray<Agent.Agent<any>> | undefined
  /** Apply the record's pending migrations first (default false: run `sextant-migrate` once per database). */
  readonly migrate?: boolean | undefined
  /** How often `result` reads the record while it waits (default 100 ms). */
  readonly pollInterval?: Duration.DurationInput | undefined
  /**
   * Overrides of the cluster's sharding configuration (same on every process for `shardsPerGroup`). The fleet's
   * defaults favour quick failover: 64 shards, 6 s shard-lock expiry, health checks every second.
   */
  readonly cluster?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /**
   * The recorder's options. Fleet mode defaults to a patient retry (10 attempts within 20 s, each cut after
   * 5 s): a runner under load waits for the database rather than failing a run that another runner could not
   * continue either.
   */
  readonly recorder?: SqlRecorder.SqlRecorderOptions | undefined
  /** Postgres pool size of the record (default 10); the cluster has a pool of its own (default 5). */
  readonly maxConnections?: number | undefined
}

/** The recorder's retry in fleet mode (see `FleetOptions.recorder`). */
export const recorderRetry: RetryPolicy.RetryPolicy = {
  maxAttempts: 10,
  budget: Duration.seconds(20),
  attemptTimeout: Duration.seconds(5)
}

/** Options of `submit`. */
export interface SubmitOptions {
  /** Defaults to a new ULID. */
  readonly runId?: string | undefined
  readonly tenantId?: string | undefined
  /** Stored with the run, with `fleet: true` added. */
  readonly metadata?: { readonly [key: string]: HookEvent.Json } | undefined
}

/** What `result` waits for: an end (terminal status) or also a pause (default). */
export interface ResultOptions {
  /** `true` (default): a paused run answers too; `false`: wait until the run has ended for good. */
  readonly acceptPaused?: boolean | undefined
}

/** What a runner is doing now. */
export interface FleetStats {
  /** Runs executing on this runner now. */
  readonly running: number
  /** Runs delivered to this runner waiting for a slot. */
  readonly waiting: number
  readonly capacity: number
  /** Runs this runner finished (ended or paused) since it started. */
  readonly finished: number
}

/** The fleet, as one process sees it. */
export interface FleetService {
  /** Registers an agent under its name; an agent of the same name already there fails `FleetAgentConflict`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- agents of any output
  readonly register: (agent: Agent.Agent<any>) => Effect.Effect<void, FleetAgentConflict>
  /**
   * Records the run (`run.started`, `metadata.fleet = true`) and persists its message to the cluster, then
   * returns its id; a runner executes it. The agent must be registered in this process (its instructions and
   * tools are recorded with the run).
   */
  readonly submit: (
    agentName: string,
    input: string,
    options?: SubmitOptions
  ) => Effect.Effect<string, FleetAgentNotRegistered | FleetError>
  /**
   * The run's recorded events from any process, as hook events in sequence order (after `options.after`), read
   * from the record every `pollInterval` as they land; ends after the terminal event (or a pause, unless
   * `acceptPaused: false`).
   */
  readonly stream: (
    runId: string,
    options?: ResultOptions & { readonly after?: number | undefined }
  ) => Stream.Stream<HookEvent.HookEvent, FleetError>
  /** Waits for the run to end (or pause), reading the record every `pollInterval`, from any process. */
  readonly result: (runId: string, options?: ResultOptions) => Effect.Effect<RunResult, FleetError>
  /** Cancels a run from any process: a paused run at once, an executing one at its next step (the record's flag). */
  readonly cancel: (runId: string) => Effect.Effect<CancelResult, FleetError>
  /** This runner's load. */
  readonly stats: () => FleetStats
  /** The `host:port` this runner registered with the cluster (the port bound); `undefined` for a client. */
  readonly address: string | undefined
}

/** The fleet service. */
export class Fleet extends Context.Tag("@sextant/fleet/Fleet")<Fleet, FleetService>() {}

/** The metadata key that marks a fleet run in `agent_runs.metadata` (the sweep leaves such runs to the fleet). */
export const FLEET_METADATA_KEY = Sweep.fleetHandBack.metadataKey

/**
 * The sweep's `handBack` for fleet runs: a stale fleet run is left `running` for the cluster to deliver again
 * (never interrupted). `sextant sweep` uses it by default; pass it to `Sweep.run` in your own sweeps.
 */
export const sweepHandBack: Sweep.HandBack = Sweep.fleetHandBack

const ExecuteError = Schema.Union(FleetAgentNotRegistered, FleetError)

/** The cluster entity of a run: one `Execute` message per run (its primary key is the run id), persisted. */
export const RunEntity = Entity.make("SextantRun", [
  Rpc.make("Execute", {
    payload: { runId: Schema.String, agentName: Schema.String },
    success: Schema.Struct({ status: Schema.String }),
    error: ExecuteError,
    primaryKey: (p) => p.runId
  })
]).annotateRpcs(ClusterSchema.Persisted, true).annotateRpcs(ClusterSchema.Uninterruptible, "server")

/** The fleet's cluster defaults: quick failover on one machine or a LAN. */
export const clusterDefaults: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardsPerGroup: 64,
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(6),
  refreshAssignmentsInterval: Duration.seconds(1),
  runnerHealthCheckInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.millis(500),
  entityReplyPollInterval: Duration.millis(100),
  entityMaxIdleTime: Duration.seconds(30),
  entityTerminationTimeout: Duration.seconds(10)
}

const fail = (operation: string, runId?: string) => (cause: { readonly message: string }) =>
  new FleetError({
    operation,
    ...(runId === undefined ? {} : { runId }),
    message: `${operation}${runId === undefined ? "" : ` (run ${runId})`}: ${cause.message}`,
    cause
  })

const checkOptions = (options: FleetOptions): Effect.Effect<string, FleetPostgresOnly | InvalidFleetConfig> =>
  Effect.gen(function*() {
    const target = Database.parseUrl(options.databaseUrl)
    const url = Database.redactUrl(String(options.databaseUrl))
    if (Either.isLeft(target) || target.right._tag !== "pg") {
      return yield* new FleetPostgresOnly({
        url,
        message: `fleet mode is Postgres-only: '${url}' is not a postgres:// URL. The cluster keeps its runners, ` +
          `shard locks and messages in the record's database, which needs Postgres; SQLite stays the embedded, ` +
          `single-process mode (run the agent with SqlRecorder.layerFromUrl instead of Fleet.layer)`
      })
    }
    const capacity = options.capacity ?? 16
    if (!Number.isInteger(capacity) || capacity < 1) {
      return yield* new InvalidFleetConfig({
        field: "capacity",
        message: `capacity: must be a positive integer (runs executed at once), got ${String(capacity)}`
      })
    }
    const port = options.runner?.port
    if (options.runner !== undefined && port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      return yield* new InvalidFleetConfig({
        field: "runner.port",
        message: `runner.port: must be a TCP port 1..65535 (or absent for a free one), got ${String(port)}`
      })
    }
    const retry = options.runner?.listenRetry
    if (retry !== undefined && Option.isNone(Duration.decodeUnknown(retry))) {
      return yield* new InvalidFleetConfig({
        field: "runner.listenRetry",
        message: `runner.listenRetry: must be a duration (e.g. "10 seconds" or milliseconds), got ${String(retry)}`
      })
    }
    return target.right.url
  })

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- agents of any output
type AnyAgent = Agent.Agent<any>

/** What the entity handlers and the service share in one process. */
interface Shared {
  readonly agents: Map<string, AnyAgent>
  readonly slots: Effect.Semaphore
  readonly capacity: number
  readonly counters: { running: number; waiting: number; finished: number }
  /** `host:port` of a runner, `client` otherwise. */
  readonly address: string
}

class SharedState extends Context.Tag("@sextant/fleet/internal/Shared")<SharedState, Shared>() {}

const registerIn = (shared: Shared) => (agent: AnyAgent) =>
  Effect.suspend(() => {
    const existing = shared.agents.get(agent.name)
    if (existing !== undefined && existing !== agent) {
      return Effect.fail(
        new FleetAgentConflict({
          agentName: agent.name,
          message: `another agent named '${agent.name}' is already registered in this process`
        })
      )
    }
    shared.agents.set(agent.name, agent)
    return Effect.void
  })

/** The agent, waiting a little for a registration that races the first delivery at start. */
const agentFor = (shared: Shared, agentName: string) =>
  Effect.suspend(() => Option.fromNullable(shared.agents.get(agentName))).pipe(
    Effect.retry({ times: 100, schedule: Schedule.spaced(Duration.millis(100)) }),
    Effect.catchAll(() =>
      Effect.fail(
        new FleetAgentNotRegistered({
          agentName,
          message:
            `no agent '${agentName}' is registered on runner ${shared.address}: Fleet.register it on every runner`
        })
      )
    )
  )

/** The `Execute` handler: a slot, the record read back, the run continued from it. */
const execute = (runId: string, agentName: string) =>
  Effect.gen(function*() {
    const shared = yield* SharedState
    const sql = yield* SqlClient.SqlClient
    const agent = yield* agentFor(shared, agentName)
    shared.counters.waiting++
    return yield* shared.slots.withPermits(1)(
      Effect.gen(function*() {
        shared.counters.waiting--
        shared.counters.running++
        const events = yield* readEvents(sql, runId)
        const result = yield* Agent.recover(agent, runId, events, {
          note: { runner: shared.address },
          leaveRunningOnInterrupt: true
        }).pipe(
          Effect.mapError(fail("execute", runId))
        )
        return { status: result.status }
      }).pipe(Effect.ensuring(Effect.sync(() => {
        shared.counters.running--
        shared.counters.finished++
      })))
    )
  })

const runEntityLayer = RunEntity.toLayer({
  Execute: (envelope) => execute(envelope.payload.runId, envelope.payload.agentName)
}, { maxIdleTime: Duration.seconds(30) })

/** The cluster of a client (no socket) or of a runner (its socket bound first: see `internal/cluster.ts`). */
const clusterLayer = (options: FleetOptions) => {
  const runner = options.runner
  const shardingConfig = { ...clusterDefaults, ...options.cluster }
  if (runner === undefined) {
    return NodeClusterSocket.layer({
      clientOnly: true,
      storage: "sql",
      shardingConfig: { ...shardingConfig, runnerAddress: Option.none() }
    })
  }
  return Cluster.runnerLayer({
    host: runner.host ?? "localhost",
    port: runner.port,
    listenHost: runner.listenHost,
    retryFor: Duration.decode(runner.listenRetry ?? Duration.seconds(10))
  }, shardingConfig)
}

const isEnded = (status: string, acceptPaused: boolean) =>
  status !== "running" && (acceptPaused || Lifecycle.isTerminal(status as Parameters<typeof Lifecycle.isTerminal>[0]))

const make = (options: FleetOptions) =>
  Effect.gen(function*() {
    const shared = yield* SharedState
    const recorder = yield* Recorder
    const ledger = yield* RunLedger
    const model = yield* Effect.serviceOption(LanguageModel)
    const client = yield* RunEntity.client
    const sql = yield* SqlClient.SqlClient
    const poll = Duration.decode(options.pollInterval ?? Duration.millis(100))
    const provide = <A, E>(effect: Effect.Effect<A, E, Recorder | RunLedger>) =>
      effect.pipe(Effect.provideService(Recorder, recorder), Effect.provideService(RunLedger, ledger))
    const service: FleetService = {
      register: registerIn(shared),
      submit: (agentName, input, submitOptions) =>
        Effect.gen(function*() {
          const agent = shared.agents.get(agentName)
          if (agent === undefined) {
            return yield* new FleetAgentNotRegistered({
              agentName,
              message: `no agent '${agentName}' is registered in this process: Fleet.register it before submit`
            })
          }
          const runId = submitOptions?.runId ?? Ids.make()
          yield* Agent.recordQueued(agent, runId, input, {
            ...(Option.isSome(model) ? { model: model.value.model, provider: model.value.provider } : {}),
            ...(submitOptions?.tenantId === undefined ? {} : { tenantId: submitOptions.tenantId }),
            metadata: { ...submitOptions?.metadata, [FLEET_METADATA_KEY]: true }
          }).pipe(Effect.mapError(fail("submit", runId)))
          yield* client(runId).Execute({ runId, agentName }, { discard: true }).pipe(
            Effect.mapError(fail("submit", runId))
          )
          return runId
        }).pipe(provide),
      stream: (runId, streamOptions) => {
        const acceptPaused = streamOptions?.acceptPaused ?? true
        const ends = (e: HookEvent.HookEvent) =>
          Lifecycle.isTerminalEvent(e) || (acceptPaused && e._tag === "RunPaused")
        return Stream.unfoldChunkEffect(
          { after: streamOptions?.after ?? -1, done: false, first: true },
          (s) =>
            s.done ? Effect.succeed(Option.none()) : Effect.gen(function*() {
              if (!s.first) yield* Effect.sleep(poll)
              const events = yield* readEvents(sql, runId, s.after)
              const end = events.findIndex(ends)
              const batch = end < 0 ? events : events.slice(0, end + 1)
              const after = batch.length === 0 ? s.after : batch[batch.length - 1]!.sequenceIndex
              return Option.some([Chunk.fromIterable(batch), { after, done: end >= 0, first: false }] as const)
            })
        )
      },
      result: (runId, resultOptions) =>
        Effect.gen(function*() {
          const acceptPaused = resultOptions?.acceptPaused ?? true
          while (true) {
            const found = yield* ledger.get(runId).pipe(Effect.mapError(fail("result", runId)))
            if (Option.isNone(found)) {
              return yield* new FleetError({ operation: "result", runId, message: `result: no run ${runId}` })
            }
            const run = found.value
            if (isEnded(run.status, acceptPaused)) {
              return {
                runId,
                status: run.status,
                iterations: run.iterations,
                usage: run.usage,
                ...(run.answer === undefined ? {} : { answer: run.answer }),
                ...(run.error === undefined ? {} : { error: run.error })
              } satisfies RunResult
            }
            yield* Effect.sleep(poll)
          }
        }),
      cancel: (runId) => provide(Runs.cancelRun(runId)).pipe(Effect.mapError(fail("cancel", runId))),
      stats: () => ({ ...shared.counters, capacity: shared.capacity }),
      address: options.runner === undefined ? undefined : shared.address
    }
    for (const agent of options.agents ?? []) yield* registerIn(shared)(agent).pipe(Effect.orDie)
    return service
  })

/**
 * Makes this process part of the fleet: the recorder and run ledger over the Postgres `databaseUrl`, the
 * cluster on the same database, and (with `runner`) this process as a runner executing up to `capacity` runs.
 * Needs the `LanguageModel` runs call. A SQLite URL fails `FleetPostgresOnly`.
 */
export const layer = (
  options: FleetOptions
): Layer.Layer<
  Fleet | Recorder | RunLedger | Sharding.Sharding,
  FleetPostgresOnly | InvalidFleetConfig | FleetListenFailed | SqlRecorder.LayerError | FleetError,
  LanguageModel
> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const url = yield* checkOptions(options)
    const capacity = options.capacity ?? 16
    // A runner's address is known once its socket is bound (the OS may have chosen the port).
    const sharedLayer = Layer.effect(
      SharedState,
      Effect.gen(function*() {
        const config = yield* Effect.serviceOption(ShardingConfig.ShardingConfig)
        const registered = Option.flatMap(config, (c) => c.runnerAddress)
        return {
          agents: new Map(),
          slots: yield* Effect.makeSemaphore(capacity),
          capacity,
          counters: { running: 0, waiting: 0, finished: 0 },
          address: options.runner === undefined || Option.isNone(registered)
            ? "client"
            : `${registered.value.host}:${registered.value.port}`
        }
      })
    )
    const migrated = options.migrate === true
      ? Layer.effectDiscard(
        Effect.provide(Migrations.run, Database.layerFromUrl(url)).pipe(
          Effect.mapError(fail("migrate"))
        )
      )
      : Layer.empty
    const record = SqlRecorder.layerFromUrl(url, {
      retry: recorderRetry,
      ...options.recorder,
      database: { maxConnections: options.maxConnections ?? 10, applicationName: "sextant-fleet" }
    })
    // The cluster's storage polls and holds shard locks: its own pool, so it never starves the recorder.
    const clusterSql = Layer.fresh(
      Database.layerFromUrl(url, { maxConnections: 5, applicationName: "sextant-fleet-cluster" })
    )
    const cluster = clusterLayer(options).pipe(
      Layer.provide(clusterSql),
      Layer.catchAll((e) =>
        Layer.fail(e instanceof FleetListenFailed ? e : fail("cluster")(e as { readonly message: string }))
      )
    )
    const entities = options.runner === undefined ? Layer.empty : runEntityLayer
    const fleet = Layer.effect(Fleet, make(options))
    return Layer.mergeAll(fleet, entities).pipe(
      Layer.provideMerge(sharedLayer),
      Layer.provideMerge(cluster),
      Layer.provideMerge(Layer.provide(record, migrated))
    )
  }))

/** Registers an agent with the fleet of this process (see `FleetService.register`). */
export const register = (agent: AnyAgent): Effect.Effect<void, FleetAgentConflict, Fleet> =>
  Effect.flatMap(Fleet, (fleet) => fleet.register(agent))
