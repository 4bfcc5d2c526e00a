/**
 * The host's extra routes (`ReadRouterOptions.routes`): each a Web handler registered on the API's router, so
 * the API's own routes win, and a handler that throws is the router's JSON 500 like any other failure.
 */
import { HttpApiBuilder, HttpApp } from "@effect/platform"
import { Effect } from "effect"
import { ReadApi } from "../Api.js"
import { InvalidRouterOptions } from "../Errors.js"
import type { ExtraRoute } from "../ReadRouter.js"
import { docsPath } from "./docs.js"

/** The paths the API serves itself (`:param` segments as the router spells them). */
const apiPaths = (): ReadonlySet<string> => {
  const paths = new Set<string>([docsPath])
  for (const group of Object.values(ReadApi.groups)) {
    for (const endpoint of Object.values(group.endpoints)) paths.add(endpoint.path)
  }
  return paths
}

/** Throws (at make time, naming the option) when an extra route is malformed or is one of the API's own. */
export const checkRoutes = (routes: ReadonlyArray<ExtraRoute>): void => {
  const taken = apiPaths()
  routes.forEach((route, i) => {
    const path: unknown = route.path
    const spelled = typeof path === "string" ? path.replace(/\{(\w+)\}/g, ":$1") : path
    if (typeof path !== "string" || !path.startsWith("/")) {
      throw new InvalidRouterOptions({
        field: `routes[${i}].path`,
        message: `routes[${i}].path must be a string starting with "/", got ${JSON.stringify(path)}`
      })
    }
    if (taken.has(spelled as string)) {
      throw new InvalidRouterOptions({
        field: `routes[${i}].path`,
        message: `routes[${i}].path ${path} is a route of the read API: choose another path`
      })
    }
  })
}

/** Registers the extra routes. */
export const extraRoutes = (routes: ReadonlyArray<ExtraRoute>) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.forEach(routes, (route) =>
      router.get(
        route.path,
        HttpApp.fromWebHandler(async (request) => await route.handle(request))
      ), { discard: true })
  )
