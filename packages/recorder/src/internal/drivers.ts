/**
 * The database drivers are optional peer dependencies: each is imported (dynamically) only when a URL of its
 * scheme is opened, so an app on SQLite never needs `pg` and one on Postgres never builds `better-sqlite3`.
 * A package that is not installed is a `DriverNotInstalled` naming what to install; any other failure to load
 * one (a native build for another Node version) is a `SqlError` with the driver's own message.
 */
import { SqlError } from "@effect/sql"
import { Effect, FiberRef } from "effect"
import { DriverNotInstalled, driverPackages } from "../Errors.js"

/** A database the recorder can open. */
export type Dialect = "sqlite" | "postgres"

/**
 * How a package is imported: `import()` from this module, replaceable (in tests) to stand for an install that
 * lacks a package.
 */
export const importer = FiberRef.unsafeMake<(specifier: string) => Promise<unknown>>((specifier) => import(specifier))

const NOT_FOUND = new Set(["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"])

/** The package a "cannot find" error names (`Cannot find package 'pg' imported from …`), if it is one. */
const missingPackage = (cause: unknown): string | undefined => {
  const error = cause as { code?: unknown; message?: unknown } | undefined
  if (typeof error?.code !== "string" || !NOT_FOUND.has(error.code)) return undefined
  const message = typeof error.message === "string" ? error.message : ""
  const named = /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1]
  if (named === undefined) return "?"
  // A path (`/app/node_modules/pg/index.js`) or a deep import (`pg/lib/x`): the package's name.
  const match = /(?:^|[\\/]node_modules[\\/])((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(named)
  return (match?.[1] ?? named).replace(/\\/g, "/")
}

const schemes = { sqlite: "sqlite: URL", postgres: "postgres:// URL" } as const

/** The error for a dialect whose package `missing` is not installed. */
export const notInstalled = (dialect: Dialect, missing: string): DriverNotInstalled => {
  const packages = driverPackages[dialect]
  return new DriverNotInstalled({
    dialect,
    packages,
    missing,
    message: `a ${schemes[dialect]} needs the ${dialect === "sqlite" ? "SQLite" : "Postgres"} driver, and ` +
      `'${missing}' is not installed: run \`npm install ${packages.join(" ")}\` in your app ` +
      "(drivers are optional peer dependencies of @sextant/recorder and @sextant/store)"
  })
}

/** Imports one of a dialect's driver packages (its module namespace), or fails naming what to install. */
export const load = <A>(
  dialect: Dialect,
  specifier: string
): Effect.Effect<A, DriverNotInstalled | SqlError.SqlError> =>
  Effect.flatMap(FiberRef.get(importer), (importPackage) =>
    Effect.tryPromise({
      try: () => importPackage(specifier) as Promise<A>,
      catch: (cause) => {
        const missing = missingPackage(cause)
        return missing === undefined
          ? new SqlError.SqlError({
            cause,
            message: `cannot load the ${dialect === "sqlite" ? "SQLite" : "Postgres"} driver '${specifier}': ${
              (cause as { message?: unknown } | undefined)?.message ?? String(cause)
            }`
          })
          : notInstalled(dialect, missing === "?" ? specifier : missing)
      }
    }))

/** A CommonJS package's export (`better-sqlite3`, `pg`), as `import()` hands it over. */
export const defaultExport = <A>(namespace: unknown): A =>
  ((namespace as { default?: unknown }).default ?? namespace) as A
