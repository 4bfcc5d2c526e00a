import { Args, Command, Options } from "@effect/cli"
import { Database, Migrations, Retention, Sweep } from "@sextant/recorder"
import { Effect, Option } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { resolve as resolvePath } from "node:path"
import { CliError } from "../../Errors.js"
import { existing, json, readLayer, schemaCheck, shared, writeLayer } from "../context.js"
import * as f from "../format.js"
import * as output from "../output.js"
import * as parse from "../parse.js"
import * as url from "../url.js"

const pending = (applied: number) =>
  Array.from({ length: Math.max(0, Migrations.latest - applied) }, (_, i) => applied + i + 1)

/** The newest applied migration, read without migrating (0 for a SQLite file that does not exist yet). */
const appliedOf = (db: { readonly url: string; readonly target: Database.Target }) =>
  db.target._tag === "sqlite" && db.target.filename !== ":memory:" && !existsSync(db.target.filename)
    ? Effect.succeed(0)
    : Effect.provide(Migrations.applied, Database.layerFromUrl(db.url, { readOnly: true }))

const migrateStatus = Command.make("status", { ...shared, json }, (o) =>
  Effect.gen(function*() {
    const db = yield* url.resolve(o.databaseUrl)
    const applied = yield* appliedOf(db)
    const result = {
      database: Database.redactUrl(db.url),
      applied,
      latest: Migrations.latest,
      pending: pending(applied)
    }
    if (o.json) return yield* output.json(result)
    yield* output.out(
      `${result.database}: at migration ${applied} of ${Migrations.latest}; ${
        result.pending.length === 0
          ? "nothing pending"
          : `pending ${result.pending.join(", ")} (run \`sextant migrate\`)`
      }\n`
    )
  })).pipe(
    Command.withDescription(
      "Applied and pending migrations. Example: sextant migrate status --database-url postgres://…"
    )
  )

/** `sextant migrate` and `sextant migrate status`. */
export const migrate = Command.make("migrate", { ...shared, json }, (o) =>
  Effect.gen(function*() {
    const db = yield* url.resolve(o.databaseUrl)
    const before = yield* appliedOf(db)
    const applied = pending(before)
    const bar = output.progress("migrated", !o.json && applied.length > 0)
    if (!o.json && applied.length > 0) {
      yield* output.err(`migrating ${Database.redactUrl(db.url)}: ${applied.length} pending (${applied.join(", ")})`)
    }
    // SQLite migrates on open; Postgres explicitly.
    yield* Effect.provide(Migrations.run, writeLayer(db.url))
    yield* bar.done(applied.length, "migrations")
    const target = Database.redactUrl(db.url)
    if (o.json) return yield* output.json({ database: target, applied, latest: Migrations.latest })
    if (applied.length === 0) yield* output.out(`${target}: up to date (migration ${Migrations.latest})\n`)
    for (const id of applied) yield* output.out(`${target}: applied migration ${id}\n`)
  })).pipe(
    Command.withDescription(
      "Apply the pending migrations (Postgres needs this once per upgrade). Example: sextant migrate --database-url postgres://user@host/db"
    ),
    Command.withSubcommands([migrateStatus])
  )

/** Fails naming the migrate command when a Postgres database is behind (SQLite migrates on open). */
const checked = (databaseUrl: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.zipRight(schemaCheck(databaseUrl), effect)

/** `sextant sweep`. */
export const sweep = Command.make("sweep", {
  ...shared,
  json,
  staleAfter: Options.text("stale-after").pipe(
    Options.withDescription("a running run with no progress for this long is interrupted"),
    Options.withDefault("1h")
  ),
  abandonAfter: Options.text("abandon-after").pipe(
    Options.withDescription("a paused run with no progress for this long is abandoned"),
    Options.withDefault("7d")
  )
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const stale = yield* parse.duration("stale-after", o.staleAfter)
    const abandon = yield* parse.duration("abandon-after", o.abandonAfter)
    const result = yield* Effect.provide(
      checked(db.url)(
        Sweep.run({ staleRunningAfter: stale, abandonedWaitingAfter: abandon, handBack: Sweep.fleetHandBack })
      ),
      writeLayer(db.url)
    ).pipe(Effect.mapError((e) => (e instanceof CliError ? e : new CliError({ message: e.message }))))
    if (o.json) return yield* output.json(result)
    yield* output.out(
      `interrupted ${result.interrupted.length} stale runs, abandoned ${result.abandoned.length} waiting runs\n`
    )
    for (const id of result.interrupted) yield* output.out(`  interrupted ${id}\n`)
    for (const id of result.abandoned) yield* output.out(`  abandoned ${id}\n`)
    for (const id of result.handedBack ?? []) yield* output.out(`  left to the fleet ${id}\n`)
  })).pipe(
    Command.withDescription(
      "End runs whose process died or whose client never came back. Example: sextant sweep --stale-after 30m"
    )
  )

/** `sextant prune`. */
export const prune = Command.make("prune", {
  ...shared,
  json,
  olderThan: Options.text("older-than").pipe(
    Options.withDescription("prune finished runs created longer ago than this: 30d, 12h"),
    Options.optional
  ),
  maxBytes: Options.text("max-bytes").pipe(
    Options.withDescription("prune the oldest finished runs until the data fits: 2GB, 500MB"),
    Options.optional
  ),
  payloadsOnly: Options.boolean("payloads-only").pipe(
    Options.withDescription("keep runs, events and usage; clear provider payloads, semantic requests, tool results")
  ),
  keepUsage: Options.boolean("keep-usage").pipe(
    Options.withDescription(
      "keep the pruned runs' token_usage rows (the per-call billing ledger) and their run rows; delete the rest"
    )
  ),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("say what would go; change nothing")),
  vacuum: Options.boolean("vacuum").pipe(Options.withDescription("VACUUM afterwards (returns the space on SQLite)")),
  batchSize: Options.integer("batch-size").pipe(
    Options.withDescription("runs per transaction (1..10000)"),
    Options.withDefault(1000)
  )
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    if (Option.isNone(o.olderThan) && Option.isNone(o.maxBytes)) {
      return yield* new CliError({ message: "prune needs --older-than (30d) or --max-bytes (2GB)", exitCode: 2 })
    }
    if (o.batchSize < 1 || o.batchSize > 10_000) {
      return yield* new CliError({ message: `--batch-size must be from 1 to 10000, got ${o.batchSize}`, exitCode: 2 })
    }
    if (o.keepUsage && o.payloadsOnly) {
      return yield* new CliError({
        message: "--keep-usage and --payloads-only do not go together (--payloads-only keeps the usage rows anyway)",
        exitCode: 2
      })
    }
    const olderThan = Option.isSome(o.olderThan) ? yield* parse.duration("older-than", o.olderThan.value) : undefined
    const maxBytes = Option.isSome(o.maxBytes) ? yield* parse.bytes("max-bytes", o.maxBytes.value) : undefined
    const bar = output.progress(o.dryRun ? "counted" : o.payloadsOnly ? "cleared" : "pruned", !o.json)
    const result = yield* Effect.provide(
      checked(db.url)(Effect.gen(function*() {
        const result = yield* Retention.prune({
          olderThan,
          maxBytes,
          payloadsOnly: o.payloadsOnly,
          keepUsage: o.keepUsage,
          dryRun: o.dryRun,
          batchSize: o.batchSize,
          onProgress: (p) => bar.update(p.runs, "runs")
        })
        yield* bar.done(result.runs, "runs")
        if (o.vacuum && !o.dryRun) yield* Retention.vacuum
        return result
      })),
      writeLayer(db.url)
    )
    if (o.json) return yield* output.json(result)
    const verb = o.dryRun ? "would prune" : "pruned"
    if (result.payloadsOnly) {
      yield* output.out(
        `${o.dryRun ? "would clear" : "cleared"} payloads of ${f.int(result.runs)} runs: ${
          f.int(result.payloadsCleared.llm_interactions)
        } model calls, ${f.int(result.payloadsCleared.tool_calls)} tool calls\n`
      )
    } else {
      yield* output.out(
        `${verb} ${f.int(result.runs)} runs${
          result.cutoff === null ? "" : ` created before ${f.when(result.cutoff)}`
        }\n`
      )
      yield* output.out(f.table(
        ["TABLE", "ROWS"],
        Object.entries(result.deleted).filter(([t]) => t !== "usage_daily").map(([t, n]) => [t, f.int(n)])
      ))
    }
    if (!o.dryRun && result.bytesFreed !== null) {
      yield* output.out(
        `freed ${f.size(result.bytesFreed)}${
          o.vacuum ? " (vacuumed)" : " inside the file (--vacuum returns it to the disk)"
        }\n`
      )
    }
    if (result.keepUsage) {
      yield* output.out("kept their run rows and token_usage rows (--keep-usage)\n")
    }
    yield* output.out("running and paused runs are never pruned; the usage rollup (usage_daily) is kept\n")
  })).pipe(
    Command.withDescription(
      "Delete (or, --payloads-only, slim) old finished runs in bounded batches. " +
        "Example: sextant prune --older-than 30d --dry-run"
    )
  )

/** The size the disk sees: a SQLite file (with its WAL), or what Postgres's tables use. */
const sizeOf = (db: { readonly target: Database.Target }) =>
  db.target._tag === "sqlite"
    ? Effect.sync(() => {
      const file = (db.target as { readonly filename: string }).filename
      return [file, `${file}-wal`].reduce((n, p) => n + (existsSync(p) ? statSync(p).size : 0), 0)
    })
    : Retention.usedBytes

/** `sextant vacuum`. */
export const vacuum = Command.make("vacuum", { ...shared, json }, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const result = yield* Effect.provide(
      checked(db.url)(Effect.gen(function*() {
        const before = yield* sizeOf(db)
        yield* Retention.vacuum
        const after = yield* sizeOf(db)
        return { database: Database.redactUrl(db.url), bytesBefore: before, bytesAfter: after }
      })),
      writeLayer(db.url)
    )
    if (o.json) return yield* output.json(result)
    yield* output.out(`${result.database}: vacuumed (${f.size(result.bytesBefore)} → ${f.size(result.bytesAfter)})\n`)
  })).pipe(
    Command.withDescription("VACUUM the database (SQLite returns free pages to the disk). Example: sextant vacuum")
  )

const onPath = (program: string) => spawnSync(program, ["--version"], { stdio: "ignore" }).status === 0

/** `sextant backup FILE`. */
export const backup = Command.make("backup", {
  ...shared,
  json,
  file: Args.text({ name: "file" }).pipe(Args.withDescription("where to write the copy (must not exist)"))
}, (o) =>
  Effect.gen(function*() {
    const db = yield* existing(o.databaseUrl)
    const file = resolvePath(o.file)
    if (existsSync(file)) {
      return yield* new CliError({ message: `${file} exists: backup never overwrites, pick a new file`, exitCode: 2 })
    }
    const bar = output.progress("backed up", !o.json, 1000, (n) => f.size(n))
    const done = (source: string, method: string) =>
      Effect.gen(function*() {
        const bytes = statSync(file).size
        yield* bar.done(bytes, "bytes")
        if (o.json) return yield* output.json({ database: source, file, method, bytes })
        yield* output.out(
          `backed up ${source} to ${file}${method === "pg_dump" ? " with pg_dump" : ""} (${f.size(bytes)})\n`
        )
      })
    /** Reports the copy's size as it grows (the SQLite copy is one statement, so only its end shows there). */
    const watched = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.raceFirst(
        effect,
        Effect.forever(
          Effect.zipRight(
            Effect.sleep("250 millis"),
            Effect.suspend(() => existsSync(file) ? bar.update(statSync(file).size, "bytes") : Effect.void)
          )
        )
      )
    if (!o.json) yield* output.err(`backing up ${Database.redactUrl(db.url)} to ${file}`)
    if (db.target._tag === "sqlite") {
      yield* watched(Effect.provide(Retention.backupSqlite(file), readLayer(db.url)))
      return yield* done(db.target.filename, "sqlite-vacuum-into")
    }
    const redacted = Database.redactUrl(db.url)
    if (!onPath("pg_dump")) {
      return yield* new CliError({
        message: `pg_dump is not on PATH: install the Postgres client tools and run ` +
          `\`pg_dump --format=custom --file ${file} ${redacted}\` (a consistent snapshot while writers run)`
      })
    }
    yield* watched(Effect.async<void, CliError>((resume) => {
      const child = spawn("pg_dump", ["--format=custom", "--file", file, "--dbname", db.url], {
        stdio: ["ignore", "ignore", "pipe"]
      })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += String(d)))
      child.on("error", (e) => resume(Effect.fail(new CliError({ message: `pg_dump failed: ${e.message}` }))))
      child.on("exit", (code) =>
        resume(
          code === 0 ? Effect.void : Effect.fail(
            new CliError({ message: `pg_dump exited with ${code}: ${stderr.trim().split("\n")[0] ?? ""}` })
          )
        ))
    }))
    yield* done(redacted, "pg_dump")
  })).pipe(
    Command.withDescription(
      "A consistent copy while writers run: SQLite online backup, or pg_dump on Postgres. " +
        "Example: sextant backup ./backups/sextant-2026-01-31.db"
    )
  )
