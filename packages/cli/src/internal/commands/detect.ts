import { Command, Options } from "@effect/cli"
import { SqlClient } from "@effect/sql"
import { Detectors } from "@sextant/detectors"
import { Clock, Effect, Layer, Option } from "effect"
import { readFileSync } from "node:fs"
import { CliError } from "../../Errors.js"
import { encryptionFromEnv, existing, json, schemaCheck, shared, writeLayer } from "../context.js"
import * as f from "../format.js"
import * as output from "../output.js"
import * as parse from "../parse.js"

const readConfig = (file: string) =>
  Effect.try({
    try: () => JSON.parse(readFileSync(file, "utf8")) as unknown,
    catch: (e) =>
      new CliError({
        message: `--config ${file}: cannot read it as JSON (${
          (e as Error).message
        }); pass a file holding a detector configuration`,
        exitCode: 2
      })
  })

/** `sextant detect [--since]`: backfill detection over recorded runs (idempotent). */
export const detect = Command.make("detect", {
  ...shared,
  json,
  since: Options.text("since").pipe(
    Options.withDescription("evaluate runs created at or after: 7d (ago), 2026-01-31 or an ISO-8601 datetime"),
    Options.withDefault("7d")
  ),
  config: Options.text("config").pipe(
    Options.withDescription("a JSON file with the detector configuration (thresholds, live types, stall timeout)"),
    Options.optional
  )
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const since = yield* parse.instant("since", o.since, yield* Clock.currentTimeMillis)
    const config = Option.isSome(o.config) ? yield* readConfig(o.config.value) : {}
    const { result, stats, total } = yield* Effect.gen(function*() {
      const detectors = yield* Detectors
      const result = yield* detectors.backfill({ since })
      const stats = yield* detectors.stats
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ n: number }>`SELECT COUNT(*) AS n FROM failure_signals s
        JOIN agent_runs r ON r.id = s.run_id WHERE r.created_at >= ${since}`
      return { result, stats, total: Number(rows[0]?.n ?? 0) }
    }).pipe(
      // Sealed event data opens with SEXTANT_ENCRYPTION_KEYS (the detectors take the key ring when they are made).
      Effect.provide(
        Layer.provideMerge(Detectors.layer(config as never), Layer.merge(writeLayer(db.url), encryptionFromEnv))
      ),
      (effect) => Effect.zipRight(Effect.provide(schemaCheck(db.url), writeLayer(db.url)), effect),
      Effect.mapError((e) =>
        e instanceof CliError ? e : new CliError({
          message: e._tag === "DetectorConfigError" ? `detector configuration: ${e.message}` : e.message,
          exitCode: e._tag === "DetectorConfigError" ? 2 : 1
        })
      )
    )
    const out = {
      since,
      runs: result.runs,
      signals: result.signals,
      signalsSince: total,
      detectorFailures: stats.failed
    }
    if (o.json) return yield* output.json(out)
    yield* output.out(
      `evaluated ${f.int(out.runs)} runs created since ${f.when(since)}: ${f.int(out.signals)} signals stored${
        out.detectorFailures > 0 ? `, ${out.detectorFailures} detector failures` : ""
      } (idempotent: a run's signals are replaced, never duplicated)\n`
    )
  })).pipe(
    Command.withDescription(
      "Run the failure detectors over recorded runs that have ended (or stalled) and store their signals; " +
        "running it again replaces them. Example: sextant detect --since 30d --json"
    )
  )
