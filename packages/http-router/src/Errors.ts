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

/**
 * 500: the stored content is encrypted and this server cannot open it: it was not given the key `keyId` names
 * (`reason: "EncryptionKeyMissing"`), or its key under that id is wrong (`"DecryptionFailed"`). The message
 * says how to give the keys; no ciphertext is ever sent.
 */
export class ContentEncrypted extends Schema.TaggedError<ContentEncrypted>()("ContentEncrypted", {
  keyId: Schema.String,
  reason: Schema.Literal("EncryptionKeyMissing", "DecryptionFailed"),
  message: Schema.String
}, HttpApiSchema.annotations({ status: 500, description: "The content is encrypted and the server lacks its key" })) {}

/** A `makeReadRouter` option is malformed; `field` names it (thrown when the router is made, never at request time). */
export class InvalidRouterOptions extends Schema.TaggedError<InvalidRouterOptions>()("InvalidRouterOptions", {
  field: Schema.String,
  message: Schema.String
}) {}
