/**
 * A runner's cluster socket on a real Postgres database: without a port the OS picks a free one and the runner
 * registers it; a port held by an outgoing connection (what made the kill test's replacement runners fail
 * `cluster: Open` now and then: their fixed ports were inside the kernel's ephemeral range) fails
 * `FleetListenFailed` naming the address and EADDRINUSE; a port freed while the runner retries is taken.
 */
import { describe, expect, it } from "@effect/vitest"
import { Fleet } from "@sextant/fleet"
import { Effect, Layer } from "effect"
import net from "node:net"
import pg from "pg"
import { databaseForFile } from "../../recorder/test/databases.js"
import { makeAgent, model } from "./fixtures/agent.js"

const db = databaseForFile("postgres")

const runner = (runnerOptions: Fleet.RunnerOptions) =>
  Fleet.layer({ databaseUrl: db.url, runner: runnerOptions, capacity: 2, agents: [makeAgent(undefined)] }).pipe(
    Layer.provide(model)
  )

/** An outgoing connection to Postgres; its local port is what a fixed runner port may collide with. */
const outgoing = () =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: 5432 }, () => resolve(socket))
    socket.once("error", reject)
  })

const registered = async (address: string) => {
  const client = new pg.Client({ connectionString: db.url })
  await client.connect()
  try {
    const { rows } = await client.query("SELECT address FROM cluster_runners WHERE address = $1", [address])
    return rows.length
  } finally {
    await client.end()
  }
}

describe("a runner's cluster socket", () => {
  it("without a port: a free one from the OS, registered with the cluster under that address", async () => {
    const address = await Effect.runPromise(
      Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(runner({ host: "127.0.0.1" }))
        const fleet = Effect.runSync(Effect.provide(Fleet.Fleet, context))
        const address = fleet.address!
        // The socket really listens there.
        const [host, port] = address.split(":")
        expect(host).toBe("127.0.0.1")
        expect(Number(port)).toBeGreaterThan(0)
        yield* Effect.promise(() =>
          new Promise<void>((resolve, reject) => {
            const s = net.connect({ host: "127.0.0.1", port: Number(port) }, () => {
              s.destroy()
              resolve()
            })
            s.once("error", reject)
          })
        )
        // Registered once the runner has started (its registration is asynchronous).
        for (let i = 0; i < 100 && (yield* Effect.promise(() => registered(address))) === 0; i++) {
          yield* Effect.sleep("100 millis")
        }
        expect(yield* Effect.promise(() => registered(address))).toBe(1)
        return address
      }))
    )
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/)
  }, 60_000)

  it("a port held by an outgoing connection: FleetListenFailed naming the address and EADDRINUSE", async () => {
    const socket = await outgoing()
    const port = socket.localPort!
    try {
      const error = await Effect.runPromise(
        Effect.flip(Effect.scoped(Layer.build(runner({ host: "127.0.0.1", port, listenRetry: "300 millis" }))))
      )
      expect(error).toMatchObject({ _tag: "FleetListenFailed", address: `127.0.0.1:${port}`, code: "EADDRINUSE" })
      expect(error.message).toContain(`cannot listen on 127.0.0.1:${port}`)
      expect(error.message).toContain("omit runner.port")
    } finally {
      socket.destroy()
    }
  }, 60_000)

  it("a port freed while the runner retries (a previous process still closing): the runner takes it", async () => {
    const holder = net.createServer()
    const port = await new Promise<number>((resolve) =>
      holder.listen({ host: "127.0.0.1", port: 0 }, () => resolve((holder.address() as net.AddressInfo).port))
    )
    // Freed after the runner's first attempts failed.
    const freed = new Promise<void>((resolve) => setTimeout(() => holder.close(() => resolve()), 700))
    const address = await Effect.runPromise(
      Effect.scoped(
        Effect.map(
          Layer.build(runner({ host: "127.0.0.1", port, listenRetry: "20 seconds" })),
          (context) => Effect.runSync(Effect.provide(Fleet.Fleet, context)).address
        )
      )
    )
    await freed
    expect(address).toBe(`127.0.0.1:${port}`)
  }, 60_000)
})
