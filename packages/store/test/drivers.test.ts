/**
 * The store opens its database through the recorder's driver loading: a URL whose driver (an optional peer) is
 * not installed rejects with `DriverNotInstalled` naming the packages. The install that lacks them is stood for
 * by the recorder's loader seam, failing with Node's own "Cannot find module" for the hidden packages.
 */
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Drivers from "../../recorder/src/internal/drivers.js"
import { DriverNotInstalled, RunStore } from "../src/index.js"

const empty = mkdtempSync(join(tmpdir(), "sextant-no-drivers-"))
afterAll(() => rmSync(empty, { recursive: true, force: true }))
const require = createRequire(import.meta.url)
const without = (...hidden: ReadonlyArray<string>) => (specifier: string): Promise<unknown> =>
  hidden.includes(specifier)
    ? Promise.resolve().then(() => require(join(empty, "node_modules", specifier)))
    : import(specifier)

describe("RunStore without a driver", () => {
  it("rejects a postgres:// URL without pg with DriverNotInstalled naming pg and @effect/sql-pg", async () => {
    const exit = await Effect.runPromiseExit(
      Layer.launch(RunStore.layerFromUrl("postgres://reader:secret@127.0.0.1:5432/app")).pipe(
        Effect.locally(Drivers.importer, without("pg"))
      )
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
    expect(error).toBeInstanceOf(DriverNotInstalled)
    expect(error).toMatchObject({ dialect: "postgres", missing: "pg" })
    expect(error?.message).toContain("npm install pg @effect/sql-pg")
    expect(error?.message).not.toContain("secret")
  })
})
