/**
 * The RunStore over the `SqlClient` in context: checks that the database carries the current Sextant schema
 * (the store never migrates), then assembles the service from the queries in `queries/`.
 */
import { SqlClient } from "@effect/sql"
import { Database, Encryption, Migrations, MigrationsPending } from "@sextant/recorder"
import { Effect, Option } from "effect"
import * as Options from "../Options.js"
import type * as Api from "../RunStore.js"
import * as decode from "./decode.js"
import * as pgReader from "./pgReader.js"
import * as calls from "./queries/calls.js"
import * as context from "./queries/context.js"
import * as events from "./queries/events.js"
import * as exports from "./queries/export.js"
import * as runs from "./queries/runs.js"
import * as signals from "./queries/signals.js"
import * as streams from "./queries/streams.js"
import * as threads from "./queries/threads.js"
import * as tree from "./queries/tree.js"
import * as usage from "./queries/usage.js"
import * as views from "./queries/views.js"
import type { Reader } from "./sqliteReader.js"

const decodeStoreOptions = decode.options(Options.RunStoreOptions)

/** The command that migrates a database (named in `MigrationsPending`). */
export const migrateCommand = (url = "<database-url>") => `npx sextant migrate --database-url ${url}`

/** Fails with `MigrationsPending` unless the database is at the recorder's newest migration (or later). */
export const checkSchema = (url?: string) =>
  Effect.gen(function*() {
    const applied = yield* context.query(Migrations.applied)
    if (applied >= Migrations.latest) return
    const where = applied === 0
      ? `this database has no Sextant schema (migration 0 of ${Migrations.latest})`
      : `this database's Sextant schema is at migration ${applied} of ${Migrations.latest}`
    return yield* new MigrationsPending({
      applied,
      latest: Migrations.latest,
      message: `${where}: run \`${migrateCommand(url)}\` (the RunStore reads only; it never migrates)`
    })
  })

/** The service over a query context. */
export const service = (ctx: context.QueryContext): Api.RunStoreService => ({
  listRuns: runs.listRuns(ctx),
  getRun: runs.getRun(ctx),
  getEvents: events.getEvents(ctx),
  streamEvents: events.streamEvents(ctx),
  getTraces: calls.perRun(ctx, calls.traces),
  getToolCalls: calls.perRun(ctx, calls.toolCalls),
  getLlmCalls: calls.perRun(ctx, calls.llmCalls),
  getPauses: events.getPauses(ctx),
  getStreams: streams.getStreams(ctx),
  getStreamChunks: streams.getStreamChunks(ctx),
  getRunTree: tree.getRunTree(ctx),
  getThread: threads.getThread(ctx),
  listThreads: threads.listThreads(ctx),
  getRunSignals: signals.getRunSignals(ctx),
  listSignals: signals.listSignals(ctx),
  usage: usage.usage(ctx),
  listRunRows: views.listRunRows(ctx),
  listWaiting: views.listWaiting(ctx),
  getTimeline: views.getTimeline(ctx),
  exportRecords: exports.exportRecords(ctx),
  exportRuns: exports.exportRuns(ctx)
})

/**
 * Makes the store over the `SqlClient` in context (`url` only names the database in messages); `reader`, the
 * store's own SQLite connection, runs the statements when the store opened the database itself.
 */
export const make = (
  options?: Api.RunStoreOptions,
  url?: string,
  reader?: Reader,
  ring?: Encryption.Keyring
): Effect.Effect<Api.RunStoreService, Api.MakeError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const { preparedStatements, scope } = yield* decodeStoreOptions(options)
    const sql = yield* SqlClient.SqlClient
    yield* checkSchema(url)
    // Sealed content opens with the `Encryption` key ring in context (or the one given).
    const keys = ring ?? Option.getOrUndefined(yield* Encryption.current)
    // Postgres over a client `Database` built: reads as named statements on its pool (see `pgReader.ts`).
    const pool = reader === undefined && preparedStatements !== false ? Database.pgPoolOf(sql) : undefined
    return service(context.make(sql, scope, reader ?? (pool === undefined ? undefined : pgReader.make(pool)), keys))
  })
