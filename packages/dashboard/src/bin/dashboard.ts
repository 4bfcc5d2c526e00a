#!/usr/bin/env node
/**
 * `sextant-dashboard --database-url sqlite:./app.db [--port 8001] [--host 127.0.0.1] [--auth-token T] [--open]`:
 * the standalone dashboard until the `sextant` CLI (which will call the same `Dashboard.serve`) ships it as
 * `sextant dashboard`. The token can also come from SEXTANT_DASHBOARD_TOKEN (a flag shows in `ps`), the URL
 * from SEXTANT_DATABASE_URL or DATABASE_URL.
 */
import { serve } from "../internal/serve.js"

const usage =
  `usage: sextant-dashboard --database-url <url> [--port 8001] [--host 127.0.0.1] [--auth-token <token>] [--open]`

const fail = (message: string): never => {
  console.error(`sextant-dashboard: ${message}\n${usage}`)
  process.exit(2)
}

const parse = (argv: ReadonlyArray<string>) => {
  const flags: Record<string, string | true> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--help" || arg === "-h") {
      console.log(usage)
      process.exit(0)
    }
    if (!arg.startsWith("--")) fail(`unexpected argument ${arg}`)
    const [name, inline] = arg.slice(2).split("=", 2) as [string, string | undefined]
    if (name === "open") flags.open = true
    else if (["database-url", "port", "host", "auth-token"].includes(name)) {
      const value = inline ?? argv[++i]
      if (value === undefined || value.startsWith("--")) fail(`--${name} needs a value`)
      flags[name] = value!
    } else fail(`unknown option --${name}`)
  }
  return flags
}

const flags = parse(process.argv.slice(2))
const databaseUrl = (flags["database-url"] as string | undefined) ?? process.env.SEXTANT_DATABASE_URL ??
  process.env.DATABASE_URL ?? fail("--database-url is required")
const portText = (flags.port as string | undefined) ?? "8001"
const port = /^\d{1,5}$/.test(portText) && Number(portText) <= 65535
  ? Number(portText)
  : fail(`--port must be 0..65535, got ${portText}`)
const host = (flags.host as string | undefined) ?? "127.0.0.1"
const authToken = (flags["auth-token"] as string | undefined) ?? process.env.SEXTANT_DASHBOARD_TOKEN

try {
  const running = await serve({ databaseUrl, port, host, authToken, open: flags.open === true })
  console.log(`Sextant dashboard: ${running.url}`)
  console.log(`reading ${databaseUrl.replace(/:[^:@/]*@/, ":***@")}${authToken ? " (bearer token required)" : ""}`)
  if (authToken === undefined && !["127.0.0.1", "localhost", "::1"].includes(host)) {
    console.warn(`warning: listening on ${host} without --auth-token: anyone who can reach it can read every run`)
  }
  const stop = () => void running.close().then(() => process.exit(0))
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
} catch (e) {
  const err = e as { _tag?: string; message?: string; code?: string }
  const hint = err._tag === "DatabaseNotFound" && databaseUrl.includes(".sextant/demo.db")
    ? " (run `npm run demo` first: it records a run there)"
    : err.code === "EADDRINUSE"
    ? ` (port ${port} is taken: pass --port)`
    : ""
  console.error(`sextant-dashboard: ${err.message ?? String(e)}${hint}`)
  process.exit(1)
}
