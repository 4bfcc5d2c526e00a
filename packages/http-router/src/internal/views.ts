/**
 * The handlers of the view routes: the store's views in the principal's scope, errors mapped as on every route.
 */
import { HttpApiBuilder } from "@effect/platform"
import type { RunStoreService } from "@sextant/store"
import { ReadApi } from "../Api.js"
import { withScope, withScopeAll } from "./handlers.js"

/** The `views` group over a store. */
export const viewsGroup = (store: RunStoreService) =>
  HttpApiBuilder.group(ReadApi, "views", (h) =>
    h
      .handle("listRunRows", ({ urlParams }) => withScopeAll((scope) => store.listRunRows({ ...urlParams, scope })))
      .handle("listWaiting", ({ urlParams }) => withScopeAll((scope) => store.listWaiting({ ...urlParams, scope })))
      .handle("getTimeline", ({ path }) => withScope((scope) => store.getTimeline(path.runId, { scope }))))
