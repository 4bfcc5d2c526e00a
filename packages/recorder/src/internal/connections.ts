/**
 * Attempts that can be cut for real. `@effect/sql` runs BEGIN and COMMIT uninterruptibly, so a timeout around
 * a write on a connection that stopped answering (no reset, no reply) waits for TCP to give up. Here every
 * Postgres connection a write attempt takes from the pool is registered with the attempt; when the attempt is
 * cut, it returns at once, and its connections are destroyed (the statement waiting for a reply fails now,
 * the pool drops the connection) and their server sessions terminated (their locks released, a half-sent
 * transaction rolled back) before the next attempt starts on a fresh connection.
 */
import { Effect, Fiber, FiberRef, Option } from "effect"
import type pg from "pg"

type Connect = (callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: Done) => void) => void
type Done = (release?: unknown) => void

/** The connections one attempt holds. */
class Attempt {
  private readonly held = new Map<pg.PoolClient, (client: pg.PoolClient) => Promise<void>>()
  private abandoned = false

  hold(client: pg.PoolClient, abandon: (client: pg.PoolClient) => Promise<void>): void {
    // A connection handed over after the attempt was cut is abandoned as it arrives.
    if (this.abandoned) void abandon(client)
    else this.held.set(client, abandon)
  }

  release(client: pg.PoolClient): void {
    this.held.delete(client)
  }

  abandon(): Promise<void> {
    this.abandoned = true
    const pending = [...this.held].map(([client, abandon]) => abandon(client))
    this.held.clear()
    return Promise.all(pending).then(() => undefined)
  }
}

const currentAttempt = FiberRef.unsafeMake<Attempt | undefined>(undefined)

const attemptOfCurrentFiber = (): Attempt | undefined => {
  const fiber = Fiber.getCurrentFiber()
  return Option.isSome(fiber) ? fiber.value.getFiberRef(currentAttempt) : undefined
}

/**
 * Runs `effect` as one attempt. When it is interrupted (its timeout, the retry budget) it returns at once
 * instead of waiting for a statement that may never answer; the attempt goes on in the background until its
 * connections, destroyed here, make it fail. `onCut` runs first, before the abandonment is awaited. On SQLite
 * there is nothing to destroy: statements are synchronous.
 */
export const abandonable = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  onCut?: Effect.Effect<void>
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const attempt = new Attempt()
    return Effect.interruptible(
      Effect.disconnect(Effect.locally(effect, currentAttempt, attempt)).pipe(
        Effect.onInterrupt(() => Effect.zipRight(onCut ?? Effect.void, Effect.promise(() => attempt.abandon())))
      )
    )
  })

const noop = () => undefined

const destroy = (client: pg.PoolClient): void => {
  const stream = (client as unknown as { connection?: { stream?: { destroy: () => void } } }).connection?.stream
  stream?.destroy()
}

/** How long a termination may take before it is given up (the next attempt then starts anyway). */
const TERMINATE_WITHIN_MS = 1_000

/**
 * Makes `pool` register the connections each attempt takes. Abandoning one destroys its socket, then terminates
 * its server session through another connection, waiting (up to a second) for it to end.
 */
export const track = (pool: pg.Pool): void => {
  const connect = pool.connect.bind(pool) as Connect

  const terminate = (pid: number): Promise<void> =>
    new Promise((resolve) => {
      const giveUp = setTimeout(resolve, TERMINATE_WITHIN_MS)
      const finish = () => {
        clearTimeout(giveUp)
        resolve()
      }
      connect((err, client, done) => {
        if (err || client === undefined) return finish()
        // A connection destroyed by the guard below emits `error`; it must not crash the process.
        client.on("error", noop)
        const guard = setTimeout(() => destroy(client), TERMINATE_WITHIN_MS)
        const end = (error: Error | null | undefined) => {
          clearTimeout(guard)
          done(error ?? undefined)
          finish()
        }
        // pg_terminate_backend(pid, timeout) waits for the session to end (Postgres 14+); older servers get the
        // one-argument form, which only signals it.
        client.query("SELECT pg_terminate_backend($1, 500)", [pid], (error) => {
          if ((error as { code?: string } | undefined)?.code !== "42883") return end(error)
          client.query("SELECT pg_terminate_backend($1)", [pid], end)
        })
      })
    })

  const abandon = (client: pg.PoolClient): Promise<void> => {
    const pid = (client as unknown as { processID?: number }).processID
    destroy(client)
    return pid === undefined ? Promise.resolve() : terminate(pid)
  }

  const tracked = (callback?: Parameters<Connect>[0]) => {
    const attempt = attemptOfCurrentFiber()
    if (callback === undefined) {
      return new Promise<pg.PoolClient>((resolve, reject) =>
        tracked((err, client) => (err || client === undefined ? reject(err) : resolve(client)))
      )
    }
    if (attempt === undefined) return connect(callback)
    connect((err, client, done) => {
      if (err || client === undefined) return callback(err, client, done)
      attempt.hold(client, abandon)
      const release: Done = (error) => {
        attempt.release(client)
        return done(error)
      }
      client.release = release as pg.PoolClient["release"]
      callback(undefined, client, release)
    })
  }
  pool.connect = tracked as pg.Pool["connect"]
}
