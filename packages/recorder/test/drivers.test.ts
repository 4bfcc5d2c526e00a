/**
 * Drivers are optional peers, imported only for their URL scheme. An install without one is stood for by the
 * loader seam (`drivers.ts`'s `importer`) resolving the hidden packages where they are not installed: the
 * failures are Node's own "cannot find" errors, as in an app that lacks the package.
 */
import { Agent, ScriptedModel } from "@sextant/runtime"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { pgDatabase } from "../../../test-support/databases.js"
import { Database, DriverNotInstalled, driverPackages, Migrations, SqlRecorder } from "../src/index.js"
import * as Drivers from "../src/internal/drivers.js"

const empty = mkdtempSync(join(tmpdir(), "sextant-no-drivers-"))
afterAll(() => rmSync(empty, { recursive: true, force: true }))
const require = createRequire(import.meta.url)

/** An importer for an app in which `hidden` are not installed: Node's real "Cannot find module" for them. */
const without = (...hidden: ReadonlyArray<string>) => (specifier: string): Promise<unknown> =>
  hidden.includes(specifier)
    ? Promise.resolve().then(() => require(join(empty, "node_modules", specifier)))
    : import(specifier)

const failureOf = <E>(exit: Exit.Exit<unknown, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  return Option.getOrThrow(Cause.failureOption(exit.cause))
}

const agent = Agent.makeSync({ name: "drivers", instructions: "Answer." })
const model = ScriptedModel.layer([{ text: "ok" }])

describe("optional drivers", () => {
  it("a postgres:// URL without pg fails with DriverNotInstalled naming the packages to install", async () => {
    const exit = await Effect.runPromiseExit(
      agent.run("hi").pipe(
        Effect.provide(Layer.merge(model, SqlRecorder.layerFromUrl("postgres://u:secret@127.0.0.1:5432/app"))),
        Effect.locally(Drivers.importer, without("pg"))
      )
    )
    const error = failureOf(exit)
    expect(error).toBeInstanceOf(DriverNotInstalled)
    expect(error).toMatchObject({ _tag: "DriverNotInstalled", dialect: "postgres", missing: "pg" })
    expect((error as DriverNotInstalled).packages).toEqual(["pg", "@effect/sql-pg"])
    expect(error.message).toContain("npm install pg @effect/sql-pg")
    expect(error.message).toContain("'pg' is not installed")
    expect(error.message).not.toContain("secret")
  })

  it("names the Effect driver when only @effect/sql-pg is missing", async () => {
    const exit = await Effect.runPromiseExit(
      Layer.launch(Database.layerFromUrl("postgres://127.0.0.1:5432/app")).pipe(
        Effect.locally(Drivers.importer, without("@effect/sql-pg"))
      )
    )
    expect(failureOf(exit)).toMatchObject({ _tag: "DriverNotInstalled", missing: "@effect/sql-pg" })
  })

  it("a sqlite: URL without better-sqlite3 fails with DriverNotInstalled and creates nothing", async () => {
    const dir = join(empty, "app", "data")
    const exit = await Effect.runPromiseExit(
      agent.run("hi").pipe(
        Effect.provide(Layer.merge(model, SqlRecorder.layerFromUrl(`sqlite:${join(dir, "runs.db")}`))),
        Effect.locally(Drivers.importer, without("better-sqlite3", "@effect/sql-sqlite-node"))
      )
    )
    const error = failureOf(exit)
    expect(error).toMatchObject({ _tag: "DriverNotInstalled", dialect: "sqlite" })
    expect(error.message).toContain(`npm install ${driverPackages.sqlite.join(" ")}`)
    expect(existsSync(dir)).toBe(false)
  })

  it("a Postgres app never loads the SQLite driver: it migrates and records without better-sqlite3", async () => {
    const result = await Effect.runPromise(
      Effect.gen(function*() {
        const url = yield* pgDatabase
        yield* Migrations.run.pipe(Effect.provide(Database.layerFromUrl(url)))
        return yield* agent.run("hi").pipe(Effect.provide(Layer.merge(model, SqlRecorder.layerFromUrl(url))))
      }).pipe(
        Effect.scoped,
        Effect.locally(Drivers.importer, without("better-sqlite3", "@effect/sql-sqlite-node"))
      )
    )
    expect(result).toMatchObject({ status: "success", answer: "ok" })
  })

  it("a driver that is installed but cannot load is a SqlError with the driver's own message", async () => {
    const exit = await Effect.runPromiseExit(
      Layer.launch(Database.layerFromUrl("postgres://127.0.0.1:5432/app")).pipe(
        Effect.locally(Drivers.importer, (specifier) =>
          specifier === "pg"
            ? Promise.reject(new Error("The module was compiled against a different Node.js version"))
            : import(specifier))
      )
    )
    const error = failureOf(exit)
    expect(error).toMatchObject({ _tag: "SqlError" })
    expect(error.message).toContain("cannot load the Postgres driver 'pg': The module was compiled")
  })
})
