/**
 * A real TCP proxy in front of the Postgres test server that can make one connection go silent the way a dead
 * network path does: no reset, no error, the bytes simply stop. It reads the client's protocol messages just
 * enough to see statements (a simple `Query`, or the extended protocol's messages up to `Sync`), so a trap can
 * pick the statement (and the transaction it is part of) to act on:
 *
 * - `hold`: the statement is never delivered, and the connection stays silent both ways from then on;
 * - `drop-reply`: the statement is delivered (and executed), its reply and everything after it is not.
 */
import { Effect, type Scope } from "effect"
import net from "node:net"

/** A trap: which statement it acts on, what it does, and how many connections it may catch. */
export interface Trap {
  /** `statement` is the statement's protocol text; `transaction` every statement since its connection's last BEGIN. */
  readonly when: (statement: string, transaction: string) => boolean
  readonly action: "hold" | "drop-reply"
  readonly times?: number
}

/** A running proxy. */
export interface Proxy {
  /** The database URL through the proxy. */
  readonly url: string
  /** Arms a trap (replacing any armed one). */
  readonly arm: (trap: Trap) => void
  /** Disarms the trap; connections already silent stay silent. */
  readonly disarm: () => void
  /** How many connections a trap has caught so far. */
  readonly caught: () => number
}

const SSL_REQUEST = 80877103
const GSS_REQUEST = 80877104

/** Starts a proxy to the server of `url` for the scope; yields it with the URL through it. */
export const pgProxy = (url: string): Effect.Effect<Proxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly proxy: Proxy; readonly close: () => Promise<void> }>((resume) => {
      const target = new URL(url)
      const sockets = new Set<net.Socket>()
      let trap: (Trap & { left: number }) | undefined
      let caught = 0

      const server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname)
        sockets.add(client).add(upstream)
        client.on("error", () => undefined)
        upstream.on("error", () => undefined)
        let silent = false
        // A silent path carries no close either: the server keeps its session (and its locks) until it is told.
        const closeBoth = () => {
          if (silent) return
          client.destroy()
          upstream.destroy()
        }
        client.on("close", closeBoth)
        upstream.on("close", closeBoth)

        let started = false
        let pending = Buffer.alloc(0)
        let unit: Array<Buffer> = []
        let transaction = ""

        upstream.on("data", (chunk) => {
          if (!silent) client.write(chunk)
        })
        const forward = (buffers: ReadonlyArray<Buffer>) => {
          if (!silent && buffers.length > 0) upstream.write(Buffer.concat(buffers))
        }
        const endUnit = () => {
          const messages = unit
          unit = []
          const text = Buffer.concat(messages).toString("latin1")
          if (/\bBEGIN\b/.test(text)) transaction = ""
          transaction += text
          if (trap !== undefined && trap.left > 0 && trap.when(text, transaction)) {
            trap.left--
            caught++
            if (trap.action === "drop-reply") forward(messages)
            silent = true
            return
          }
          forward(messages)
        }
        client.on("data", (chunk) => {
          if (silent) return
          pending = Buffer.concat([pending, chunk])
          for (;;) {
            if (!started) {
              if (pending.length < 8) return
              const length = pending.readInt32BE(0)
              if (pending.length < length) return
              const code = pending.readInt32BE(4)
              forward([pending.subarray(0, length)])
              pending = pending.subarray(length)
              // After an SSL or GSS request the client sends its real startup message, also untyped.
              if (code !== SSL_REQUEST && code !== GSS_REQUEST) started = true
              continue
            }
            if (pending.length < 5) return
            const length = pending.readInt32BE(1) + 1
            if (pending.length < length) return
            const message = pending.subarray(0, length)
            pending = pending.subarray(length)
            const type = String.fromCharCode(message[0]!)
            if (type === "Q" || type === "S") {
              unit.push(message)
              endUnit()
            } else if ("PBDECH".includes(type)) {
              unit.push(message)
            } else {
              // Authentication, terminate and the rest: not statements.
              forward([...unit, message])
              unit = []
            }
          }
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo
        const through = new URL(url)
        through.hostname = "127.0.0.1"
        through.port = String(address.port)
        resume(Effect.succeed({
          proxy: {
            url: through.toString(),
            arm: (t) => void (trap = { ...t, left: t.times ?? Number.POSITIVE_INFINITY }),
            disarm: () => void (trap = undefined),
            caught: () => caught
          },
          close: () =>
            new Promise<void>((done) => {
              for (const socket of sockets) socket.destroy()
              server.close(() => done())
            })
        }))
      })
    }),
    ({ close }) => Effect.promise(close)
  ).pipe(Effect.map(({ proxy }) => proxy))
