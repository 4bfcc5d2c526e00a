/**
 * What every query needs: the client, its dialect, the SELECT lists, the store's own tenant scope, and the
 * helpers each per-run query shares (tenant conditions, error mapping, the visibility check of a run).
 */
import { type SqlClient, SqlError, type Statement } from "@effect/sql"
import { Encryption, Tables } from "@sextant/recorder"
import { Effect } from "effect"
import type { ParseError } from "effect/ParseResult"
import { RunNotFound, StoreError } from "../../Errors.js"
import type * as Api from "../../RunStore.js"
import * as Notifications from "../notifications.js"
import * as rows from "../rows.js"
import type { Reader } from "../sqliteReader.js"

/** The query context of one store. */
export interface QueryContext {
  /** Builds (and, without a reader, runs) every statement. */
  readonly sql: SqlClient.SqlClient
  readonly pg: boolean
  readonly cols: rows.Columns
  /** The store's own scope; every query also applies it. */
  readonly scope: Api.Scope | undefined
  /** Runs a statement built with `sql`: on the store's own SQLite connection when it has one, else through `sql`. */
  readonly rows: <A>(statement: Statement.Statement<A>) => Effect.Effect<ReadonlyArray<A>, SqlError.SqlError>
  /** Wakes live tails on Postgres commits (`notifications.ts`); absent on SQLite, where tails poll. */
  readonly hub: Notifications.Hub | undefined
}

const throughClient = <A>(statement: Statement.Statement<A>): Effect.Effect<ReadonlyArray<A>, SqlError.SqlError> =>
  statement

/** Whether a failure is a sealed value that could not be opened (no key, wrong key). */
const isUnsealError = (e: unknown): e is Encryption.UnsealError =>
  e instanceof Encryption.EncryptionKeyMissing || e instanceof Encryption.DecryptionFailed

/**
 * Opens the sealed values of the rows with the key ring (values not sealed pass through untouched). A sealed
 * value without its key, or with a wrong one, fails the read with the typed error as the cause.
 */
const opening = (ring: Encryption.Keyring | undefined) => <A>(rows: ReadonlyArray<A>) => {
  try {
    return Effect.succeed(Tables.openSealed(ring, rows))
  } catch (cause) {
    return Effect.fail(
      new SqlError.SqlError({
        cause,
        message: isUnsealError(cause) ? cause.message : `sealed content could not be opened: ${String(cause)}`
      })
    )
  }
}

/**
 * The context over a client (and the store's own SQLite reader, when it opened the database itself); `ring`
 * opens sealed content (`Encryption`).
 */
export const make = (
  sql: SqlClient.SqlClient,
  scope: Api.Scope | undefined,
  reader?: Reader,
  ring?: Encryption.Keyring
): QueryContext => {
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const run = reader?.rows ?? throughClient
  const open = opening(ring)
  return {
    sql,
    pg,
    cols: rows.columns(pg),
    scope,
    rows: (statement) => Effect.flatMap(run(statement), open),
    hub: Notifications.make(sql)
  }
}

/**
 * A text parameter as the recorder stores it (`Tables.escapeText`): ids, names and search texts are compared
 * with the stored form, so every one passes through here before it reaches SQL.
 */
export const stored = (text: string): string => Tables.escapeText(text)

/** Tenant conditions of the store's scope and the call's scope (on a table with a `tenant_id` column). */
export const scoped = (ctx: QueryContext, callScope: Api.Scope | undefined): Array<Statement.Fragment> =>
  [ctx.scope, callScope].flatMap((s) => (s === undefined ? [] : [ctx.sql`tenant_id = ${stored(s.tenantId)}`]))

/** A condition that always holds (for optional filters). */
export const always = (ctx: QueryContext): Statement.Fragment => ctx.sql.literal("1=1")

/**
 * `WHERE` and the conditions, or nothing at all when there are none: `sql.and([])` compiles to `WHERE 1=1`,
 * which SQLite does not recognise as "no filter", so an unfiltered `COUNT(*)` would lose its b-tree count.
 */
export const where = (ctx: QueryContext, conditions: ReadonlyArray<Statement.Fragment>): Statement.Fragment =>
  conditions.length === 0 ? ctx.sql.literal("") : ctx.sql`WHERE ${ctx.sql.and(conditions)}`

const storeError = (e: SqlError.SqlError | ParseError) =>
  e._tag === "SqlError" && isUnsealError(e.cause)
    // Encrypted content without its key: the message says which key and how to give it; the cause is typed.
    ? new StoreError({ message: e.cause.message, cause: e.cause })
    : new StoreError({
      message: e._tag === "ParseError" ? `a row could not be decoded: ${e.message}` : `database error: ${e.message}`,
      cause: e
    })

/** Runs a statement, mapping a database or decoding failure to `StoreError`. */
export const query = <A, R>(
  effect: Effect.Effect<A, SqlError.SqlError | ParseError, R>
): Effect.Effect<A, StoreError, R> => Effect.mapError(effect, storeError)

/** The `RunNotFound` of a run that does not exist or is outside the scope. */
export const notFound = (runId: string): RunNotFound => new RunNotFound({ runId, message: `Run '${runId}' not found.` })

/** The status of a run visible within the scopes (the run id as the caller knows it), or undefined. */
export const statusOf = (ctx: QueryContext, runId: string, callScope: Api.Scope | undefined) =>
  query(
    ctx.rows(
      ctx.sql<{ readonly status: string }>`SELECT status FROM agent_runs WHERE ${
        ctx.sql.and([ctx.sql`id = ${stored(runId)}`, ...scoped(ctx, callScope)])
      }`
    )
  ).pipe(Effect.map((found) => (found.length === 0 ? undefined : Tables.unescapeText(String(found[0]!.status)))))

/** The run's status and the sequence index of its last recorded event (undefined when not visible). */
export const progressOf = (ctx: QueryContext, runId: string, callScope: Api.Scope | undefined) =>
  query(
    ctx.rows(
      ctx.sql<{ readonly status: string; readonly last_sequence_index: unknown }>`SELECT status, last_sequence_index
        FROM agent_runs WHERE ${ctx.sql.and([ctx.sql`id = ${stored(runId)}`, ...scoped(ctx, callScope)])}`
    )
  ).pipe(Effect.map((found) =>
    found.length === 0 ? undefined : {
      status: Tables.unescapeText(String(found[0]!.status)),
      last: found[0]!.last_sequence_index == null ? -1 : Number(found[0]!.last_sequence_index)
    }
  ))

/** Fails with `RunNotFound` unless the run exists within the scopes; yields its status. */
export const requireRun = (
  ctx: QueryContext,
  runId: string,
  callScope: Api.Scope | undefined
): Effect.Effect<string, RunNotFound | StoreError> =>
  Effect.flatMap(
    statusOf(ctx, runId, callScope),
    (status) => (status === undefined ? Effect.fail(notFound(runId)) : Effect.succeed(status))
  )

const ID_CHUNK = 500

/** Splits ids into chunks under every dialect's parameter limit. */
export const chunks = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += ID_CHUNK) out.push(items.slice(i, i + ID_CHUNK))
  return out
}
