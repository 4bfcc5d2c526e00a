/**
 * `make`: the read router with the app's routes added (the app's files are read on first use, once), and the
 * bearer-token `authorize` of the standalone server.
 */
import { makeReadRouter, type ReadRouter, type ReadRouterOptions, unauthorized } from "@sextant/http-router"
import { timingSafeEqual } from "node:crypto"
import type { DashboardOptions } from "../Dashboard.js"
import { DashboardError } from "../Errors.js"
import { type Asset, defaultUiDir, load, missing } from "./assets.js"
import { routes } from "./ui.js"

/** Builds the router with the app beside its API; throws when the app was never built. */
export const make = (options: DashboardOptions): ReadRouter => {
  const dir = options.uiDir ?? defaultUiDir()
  const problem = missing(dir)
  if (problem !== undefined) throw new DashboardError({ reason: "not_built", message: problem })
  let assets: ReadonlyMap<string, Asset> | undefined
  const { uiDir: _, ...router } = options
  return makeReadRouter({ ...router, routes: [...(options.routes ?? []), ...routes(() => (assets ??= load(dir)))] })
}

const digest = (s: string) => new TextEncoder().encode(s)

/** Accepts exactly `Bearer <token>`; compares in constant time (lengths first, which reveals only the length). */
export const bearer = (token: string): NonNullable<ReadRouterOptions["authorize"]> => {
  if (token === "") {
    throw new DashboardError({ reason: "bad_option", field: "authToken", message: "authToken must not be empty" })
  }
  const expected = digest(token)
  return (request) => {
    const header = request.headers.authorization ?? ""
    const given = digest(header.startsWith("Bearer ") ? header.slice(7) : "")
    const ok = given.length === expected.length && timingSafeEqual(given, expected)
    return ok ? { subject: "dashboard" } : unauthorized("A valid bearer token is required.")
  }
}
