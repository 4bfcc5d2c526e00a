/**
 * The API reference at `/docs`: @effect/platform's Scalar page (its script inlined, so it works offline) over
 * the same document as `/openapi.json`, with the router's security scheme, behind the host's `authorize`
 * (a refusal is the same 401/403 JSON as on every other authorized route).
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiScalar,
  HttpServerRequest,
  HttpServerResponse,
  OpenApi
} from "@effect/platform"
import { Context, Effect, Layer } from "effect"
import { Authorization, ReadApi } from "../Api.js"
import { fixDocument, type Security } from "./openapi.js"

/** Where the reference is served, relative to the router. */
export const docsPath = "/docs"

const pathOf = (url: string) => url.split("?")[0]

/** The Scalar page and the middleware that puts it behind `authorize`. */
export const layer = (security: Security | undefined) => {
  const documented = ReadApi.annotate(
    OpenApi.Transform,
    (spec) => fixDocument(spec as OpenApi.OpenAPISpec, security) as never
  )
  const page = HttpApiScalar.layer({
    path: docsPath,
    // No font download: the page must render on a machine without internet access.
    scalar: { withDefaultFonts: false, defaultOpenAllTags: true }
  }).pipe(
    Layer.provide(Layer.succeed(HttpApi.Api, { api: documented as never, context: Context.empty() }))
  )
  const gate = HttpApiBuilder.middleware(Effect.map(Authorization, (authorize) => (app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (pathOf(request.url) !== docsPath) return yield* app
      const outcome = yield* Effect.either(authorize)
      if (outcome._tag === "Left") {
        const e = outcome.left
        return yield* HttpServerResponse.json(
          { _tag: e._tag, message: e.message },
          { status: e._tag === "Forbidden" ? 403 : 401 }
        ).pipe(Effect.orDie)
      }
      return yield* app
    })))
  return Layer.merge(page, gate)
}
