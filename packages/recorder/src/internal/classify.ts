import type { SqlError } from "@effect/sql"

// Connection exceptions (08), serialization failure, deadlock, insufficient resources (53), lock not available,
// admin/crash shutdown and "cannot connect now" (57P01-57P03).
const PG_TRANSIENT = /^(08|40001$|40P01$|53|55P03$|57P0[123]$)/
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR)/
const NODE_TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"])
const MESSAGE_TRANSIENT = /timed out|terminated|connection (error|ended|closed)|not queryable|acquire connection/i

/** The driver's error code (SQLite `SQLITE_*`, Postgres SQLSTATE, Node `E*`), if any. */
export const errorCode = (error: SqlError.SqlError): string | undefined => {
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/** Whether a failed statement may succeed when tried again (busy, locked, connection lost…). */
export const isTransient = (error: SqlError.SqlError): boolean => {
  const code = errorCode(error)
  if (code !== undefined) return PG_TRANSIENT.test(code) || SQLITE_TRANSIENT.test(code) || NODE_TRANSIENT.has(code)
  const causeMessage = (error.cause as { message?: unknown } | undefined)?.message
  return MESSAGE_TRANSIENT.test(`${error.message} ${typeof causeMessage === "string" ? causeMessage : ""}`)
}

/** A short description of a failed statement for error messages. */
export const describe = (error: SqlError.SqlError): string => {
  const cause = error.cause as { message?: unknown } | undefined
  const code = errorCode(error)
  const detail = typeof cause?.message === "string" ? cause.message : error.message
  return code === undefined ? detail : `${detail} (${code})`
}
