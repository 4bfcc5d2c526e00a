#!/usr/bin/env node
/**
 * `sextant-detect <database-url> --since <iso-datetime> [--config <file.json>]`: runs the detectors over the
 * runs recorded since then and stores their signals (idempotent: running it twice writes no duplicate).
 * Encrypted content opens with `SEXTANT_ENCRYPTION_KEYS`. The configuration file holds a `Config.DetectorConfig` as JSON; an invalid one names the bad setting.
 */
import { Database, Encryption } from "@sextant/recorder"
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { Detectors } from "../Detectors.js"

const usage = "usage: sextant-detect <database-url> --since <iso-datetime> [--config <file.json>]"
const args = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}
const url = args[0] !== undefined && !args[0].startsWith("--") ? args[0] : process.env.DATABASE_URL
const since = flag("--since")
if (url === undefined || url === "" || since === undefined || args.includes("--help") || args.includes("-h")) {
  console.error(usage)
  process.exit(2)
}
const configFile = flag("--config")
let config: unknown = {}
try {
  config = configFile === undefined ? {} : JSON.parse(readFileSync(configFile, "utf8"))
} catch (error) {
  console.error(`cannot read the configuration ${configFile}: ${(error as Error).message}`)
  process.exit(2)
}

const program = Effect.gen(function*() {
  const detectors = yield* Detectors
  const result = yield* detectors.backfill({ since })
  const stats = yield* detectors.stats
  console.log(
    `${Database.redactUrl(url)}: evaluated ${result.runs} run(s), ${result.signals} signal(s) stored` +
      (stats.failed > 0 ? `, ${stats.failed} detector failure(s)` : "")
  )
})

Effect.runPromise(
  // Sealed event data opens with the keys of SEXTANT_ENCRYPTION_KEYS (without them such a run fails, naming the key).
  program.pipe(Effect.provide(
    Detectors.layer(config as never).pipe(
      Layer.provide(Layer.merge(Database.layerFromUrl(url), Encryption.layerFromEnv()))
    )
  ))
).catch((error) => {
  console.error(`detection failed: ${error?.message ?? String(error)}`)
  process.exitCode = 1
})
