/**
 * The fleet's cluster layer: `@effect/platform-node`'s `NodeClusterSocket.layer` (SQL storage, socket
 * runners, ping health checks, msgpack) composed here so the runner's socket is bound *before* the sharding
 * configuration is made. That lets a runner without a port take a free one from the OS and register the
 * address it really got, and lets a taken port be retried and reported with its address and cause.
 */
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { layerClientProtocol } from "@effect/platform-node/NodeClusterSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import * as SocketServer from "@effect/platform/SocketServer"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import { Duration, Effect, Layer, Option, Schedule } from "effect"
import { FleetListenFailed } from "../Errors.js"

/** Where the runner's socket listens, and what it advertises. */
export interface ListenOptions {
  /** The host other runners connect to. */
  readonly host: string
  /** The port, or `undefined` for a free one chosen by the OS. */
  readonly port: number | undefined
  /** The host the socket binds, when it differs from `host`. */
  readonly listenHost: string | undefined
  /** How long a port in use is retried before failing. */
  readonly retryFor: Duration.Duration
}

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const describeCode = (code: string | undefined, cause: unknown) =>
  code === "EADDRINUSE"
    ? "EADDRINUSE, the port is in use"
    : code === "EACCES"
    ? "EACCES, not permitted to bind it"
    : code === "EADDRNOTAVAIL"
    ? "EADDRNOTAVAIL, no local interface has this address"
    : code ?? (cause instanceof Error ? cause.message : String(cause))

/**
 * Binds the runner's socket: the given port (a port in use is retried with backoff for `retryFor`: a previous
 * process on this machine still closing, or an outgoing connection holding it as its local port), or port 0.
 * Fails `FleetListenFailed` naming the address and the system's reason.
 */
export const bind = (options: ListenOptions) => {
  const hostname = options.listenHost ?? options.host
  const port = options.port ?? 0
  const address = `${hostname}:${port}`
  return NodeSocketServer.make({ host: hostname, port }).pipe(
    Effect.retry({
      while: (e) => codeOf(e.cause) === "EADDRINUSE",
      schedule: Schedule.exponential(Duration.millis(50)).pipe(
        Schedule.union(Schedule.spaced(Duration.seconds(1))),
        Schedule.upTo(options.retryFor)
      )
    }),
    Effect.mapError((e) => {
      const code = codeOf(e.cause)
      const inUse = code === "EADDRINUSE"
      return new FleetListenFailed({
        address,
        ...(code === undefined ? {} : { code }),
        message: `cannot listen on ${address} for the runner's cluster socket (${describeCode(code, e.cause)})` +
          (inUse
            ? `, still after ${Duration.format(options.retryFor)} of retries: another process holds it, or an ` +
              `outgoing connection uses it as its local port (a port inside the kernel's ephemeral range, ` +
              `/proc/sys/net/ipv4/ip_local_port_range, often 32768-60999, can be taken by any connection). ` +
              `Pick a port outside that range, or omit runner.port to let the OS choose a free one`
            : ""),
        cause: e.cause
      })
    })
  )
}

/**
 * The cluster of a runner: its socket bound first (see `bind`), then the sharding configuration with the
 * address it got (`runnerAddress` = `host` and the bound port), storage in the SQL database of the context.
 */
export const runnerLayer = (
  listen: ListenOptions,
  sharding: Partial<ShardingConfig.ShardingConfig["Type"]>
) => {
  const server = Layer.scoped(SocketServer.SocketServer, bind(listen))
  const config = Layer.unwrapEffect(Effect.gen(function*() {
    const bound = (yield* SocketServer.SocketServer).address
    const port = bound._tag === "TcpAddress" ? bound.port : listen.port ?? 0
    // `FleetOptions.cluster` still has the last word (e.g. a `runnerAddress` advertised through a NAT).
    return ShardingConfig.layerFromEnv({
      runnerAddress: Option.some(RunnerAddress.make(listen.host, port)),
      runnerListenAddress: Option.some(RunnerAddress.make(listen.listenHost ?? listen.host, port)),
      ...sharding
    })
  }))
  const runnerHealth = RunnerHealth.layerPing.pipe(
    Layer.provide(Runners.layerRpc),
    Layer.provide(layerClientProtocol)
  )
  return SocketRunner.layer.pipe(
    Layer.provide(layerClientProtocol),
    Layer.provide(runnerHealth),
    Layer.provideMerge(Layer.orDie(SqlMessageStorage.layer)),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provideMerge(config),
    Layer.provideMerge(server),
    Layer.provide(RpcSerialization.layerMsgPack)
  )
}
