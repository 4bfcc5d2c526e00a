/**
 * The HTTP errors of the read router. Each is a JSON body `{ _tag, message, … }` with its status code.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** 400: a path, query or header parameter is malformed or out of range; `parameter` names it. */
export class InvalidParameter extends Schema.TaggedError<InvalidParameter>()("InvalidParameter", {
  parameter: Schema.String,
  message: Schema.String
}, HttpApiSchema.annotations({ status: 400, description: "A parameter is malformed or out of range" })) {}

/** 401: the request carries no valid credentials (returned by the host's `authorize`). */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 401, description: "Missing or invalid credentials" })) {}

/** 403: the credentials are valid but not allowed to read (returned by the host's `authorize`). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 403, description: "Not allowed" })) {}

/** 404: no route matches the method and path. */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()("RouteNotFound", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 404, description: "No such route" })) {}

/** 500: the server failed; the cause is logged, never sent. */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", {
  message: Schema.String
}, HttpApiSchema.annotations({ status: 500, description: "The server failed (the cause is logged)" })) {}

/** A `makeReadRouter` option is malformed; `field` names it (thrown when the router is made, never at request time). */
export class InvalidRouterOptions extends Schema.TaggedError<InvalidRouterOptions>()("InvalidRouterOptions", {
  field: Schema.String,
  message: Schema.String
}) {}
