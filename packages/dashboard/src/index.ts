/**
 * @sextant/dashboard: the embedded dashboard — every recorded run, its timeline, payloads, delegation tree and
 * cost in a browser, served beside the read API under any mount, or standalone.
 */
/** The dashboard: `make` / `makeDashboard`, `serve`, `bearer`. */
export * as Dashboard from "./Dashboard.js"
/** The dashboard's router (the read router with the app at `/ui/`). */
export { makeDashboard } from "./Dashboard.js"
/** Tagged errors. */
export * from "./Errors.js"
