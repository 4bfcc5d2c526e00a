import { Command, Options } from "@effect/cli"
import { Dashboard } from "@sextant/dashboard"
import { Database } from "@sextant/recorder"
import { Effect, Option } from "effect"
import { CliError } from "../../Errors.js"
import { existing, shared } from "../context.js"
import * as output from "../output.js"

/** `sextant dashboard`. */
export const dashboard = Command.make("dashboard", {
  ...shared,
  port: Options.integer("port").pipe(
    Options.withDescription("0..65535 (0 picks a free port)"),
    Options.withDefault(8001)
  ),
  host: Options.text("host").pipe(Options.withDefault("127.0.0.1")),
  authToken: Options.text("auth-token").pipe(
    Options.withDescription("bearer token the browser must give (or SEXTANT_DASHBOARD_TOKEN)"),
    Options.optional
  ),
  open: Options.boolean("open").pipe(Options.withDescription("open a browser"))
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    if (o.port < 0 || o.port > 65535) {
      return yield* new CliError({ message: `--port must be 0..65535, got ${o.port}`, exitCode: 2 })
    }
    const authToken = Option.getOrUndefined(o.authToken) ?? process.env.SEXTANT_DASHBOARD_TOKEN
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => Dashboard.serve({ databaseUrl: db.url, port: o.port, host: o.host, authToken, open: o.open }),
        catch: (e) => {
          const err = e as { message?: string; code?: string }
          return new CliError({
            message: `${err.message ?? String(e)}${
              err.code === "EADDRINUSE" ? ` (port ${o.port} is taken: pass --port)` : ""
            }`
          })
        }
      }),
      (running) => Effect.promise(() => running.close())
    ).pipe(
      Effect.tap((running) =>
        output.out(
          `Sextant dashboard: ${running.url}\nreading ${Database.redactUrl(db.url)}${
            authToken ? " (bearer token required)" : ""
          }\n`
        )
      ),
      Effect.zipRight(Effect.never),
      Effect.scoped
    )
  })).pipe(
    Command.withDescription("Serve the dashboard over the database. Example: sextant dashboard --port 8001 --open")
  )
