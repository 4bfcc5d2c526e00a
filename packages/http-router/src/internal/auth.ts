/**
 * Authorization: the host's `authorize` runs on every authorized route; a refusal is a 401/403 JSON body, a
 * principal's `tenantId` becomes the scope of every query, and anything else `authorize` does is a logged 500.
 */
import { HttpServerRequest } from "@effect/platform"
import { Options } from "@sextant/store"
import { Effect, Layer } from "effect"
import { Authorization, type Principal } from "../Api.js"
import { Forbidden, Unauthorized } from "../Errors.js"
import type { AuthRequest, ReadRouterOptions } from "../ReadRouter.js"

/** A refusal returned or thrown by `authorize`. */
export class AuthRejection {
  constructor(
    /** 401 (no or bad credentials) or 403 (not allowed). */
    readonly status: 401 | 403,
    /** Sent to the client as the body's `message`. */
    readonly message: string
  ) {}
}

/** A 401 refusal for `authorize` to return or throw. */
export const unauthorized = (message = "Missing or invalid credentials."): AuthRejection =>
  new AuthRejection(401, message)

/** A 403 refusal for `authorize` to return or throw. */
export const forbidden = (message = "Not allowed."): AuthRejection => new AuthRejection(403, message)

const callAuthorize = (authorize: NonNullable<ReadRouterOptions["authorize"]>, view: AuthRequest) =>
  Effect.tryPromise({
    try: async () => {
      try {
        return await authorize(view)
      } catch (e) {
        if (e instanceof AuthRejection) return e
        throw e
      }
    },
    catch: (cause) => cause
  }).pipe(Effect.orDie)

/** A principal's tenant must be one the store can query: a bad one is the host's bug (a logged 500), not a 400. */
const checkPrincipal = (principal: Principal) => {
  const tenantId: unknown = principal.tenantId
  if (tenantId === undefined) return Effect.succeed(principal)
  const problem = typeof tenantId !== "string" || tenantId === ""
    ? "an empty or non-string tenantId"
    : Options.textProblem(tenantId) === undefined
    ? undefined
    : `a tenantId that ${Options.textProblem(tenantId)}`
  return problem === undefined
    ? Effect.succeed(principal)
    : Effect.die(new Error(`authorize returned a principal with ${problem}`))
}

/** The `Authorization` middleware over the host's `authorize` (without one, every request is allowed, unscoped). */
export const layer = (authorize: ReadRouterOptions["authorize"]) =>
  Layer.succeed(
    Authorization,
    Effect.gen(function*() {
      if (authorize === undefined) return {}
      const request = yield* HttpServerRequest.HttpServerRequest
      const outcome = yield* callAuthorize(authorize, {
        method: request.method,
        url: request.url,
        headers: request.headers
      })
      if (outcome instanceof AuthRejection) {
        return yield* outcome.status === 403
          ? new Forbidden({ message: outcome.message })
          : new Unauthorized({ message: outcome.message })
      }
      if (outcome === null || typeof outcome !== "object") {
        return yield* new Unauthorized({ message: "Not authorized." })
      }
      return yield* checkPrincipal(outcome)
    })
  )
