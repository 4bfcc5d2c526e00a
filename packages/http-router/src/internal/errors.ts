/**
 * Every failure as one of the API's JSON errors: a decode failure is a 400 naming the parameter, no route is
 * a 404, the typed errors pass, anything else is a logged 500; a final guard never lets an empty 5xx out.
 */
import { HttpApiBuilder, type HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Options } from "@sextant/store"
import type { StoreError } from "@sextant/store"
import { Cause, Effect } from "effect"
import { ReadApi } from "../Api.js"
import { ContentEncrypted, InternalError, InvalidParameter, RouteNotFound } from "../Errors.js"

/**
 * A store failure whose cause is encrypted content the store could not open, as the API's `ContentEncrypted`
 * (naming the key and how to give it), else `undefined`.
 */
export const contentEncrypted = (e: StoreError): ContentEncrypted | undefined => {
  const cause = e.cause as { readonly _tag?: unknown; readonly keyId?: unknown } | undefined
  if (cause?._tag !== "EncryptionKeyMissing" && cause?._tag !== "DecryptionFailed") return undefined
  const keyId = typeof cause.keyId === "string" ? cause.keyId : "?"
  return new ContentEncrypted({
    keyId,
    reason: cause._tag,
    message: cause._tag === "EncryptionKeyMissing"
      ? `The stored content is encrypted with key '${keyId}', which this server was not given: give the RunStore ` +
        "the keys (the `Encryption` layer, or SEXTANT_ENCRYPTION_KEYS in the server's environment)."
      : `The stored content is encrypted with key '${keyId}' and does not decrypt with the key this server has ` +
        "under that id: the key is wrong (check SEXTANT_ENCRYPTION_KEYS or the `Encryption` layer of the RunStore)."
  })
}

/** The body of every 500. */
export const internalError = new InternalError({ message: "The server failed; the cause is in the server log." })

const knownErrors = new Set([
  "InvalidParameter",
  "Unauthorized",
  "Forbidden",
  "RunNotFound",
  "ThreadNotFound",
  "RouteNotFound",
  "InternalError",
  "ContentEncrypted"
])

interface DecodeFailure {
  readonly _tag?: string
  readonly issues?: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>
}

/** The 400 of a parameter that did not decode: `parameter` is its name, the message gives the path inside it. */
const invalidParameter = (e: DecodeFailure) => {
  const issue = e.issues?.[0]
  const parameter = issue === undefined || issue.path.length === 0 ? "request" : String(issue.path[0])
  const path = issue === undefined ? parameter : Options.fieldPath(issue.path) || parameter
  return new InvalidParameter({ parameter, message: `${path}: ${issue?.message ?? "is invalid"}` })
}

/** The API's error mapping, as `HttpApiBuilder` middleware. */
export const mapping = HttpApiBuilder.middleware(ReadApi, (app) =>
  app.pipe(
    Effect.catchAllCause((cause) =>
      Effect.gen(function*() {
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some") {
          const e = failure.value as DecodeFailure
          if (e._tag === "HttpApiDecodeError") return yield* invalidParameter(e)
          if (e._tag === "RouteNotFound") {
            const request = yield* HttpServerRequest.HttpServerRequest
            return yield* new RouteNotFound({ message: `No route for ${request.method} ${request.url.split("?")[0]}` })
          }
          if (e._tag !== undefined && knownErrors.has(e._tag)) return yield* Effect.failCause(cause)
        }
        if (Cause.isInterruptedOnly(cause)) return yield* Effect.failCause(cause)
        yield* Effect.logError("sextant read router: request failed", cause)
        return yield* internalError
      })
    )
  ) as never)

const emptyServerError = (response: HttpServerResponse.HttpServerResponse) =>
  response.status >= 500 && response.body._tag === "Empty"

/** The last guard: a 500 is always a JSON body, never empty. */
export const guard = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<never, R> =>
  app.pipe(
    Effect.flatMap((response) =>
      emptyServerError(response)
        ? Effect.zipRight(
          Effect.logError(`sextant read router: an empty ${response.status} was replaced by a JSON error body`),
          HttpServerResponse.json(internalError, { status: response.status })
        )
        : Effect.succeed(response)
    ),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause) as never
        : Effect.zipRight(
          Effect.logError("sextant read router: unhandled failure", cause),
          HttpServerResponse.json(internalError, { status: 500 })
        )
    ),
    Effect.orDie
  )
