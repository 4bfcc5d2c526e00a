/**
 * Arguments decoded at the boundary: a Schema failure becomes an `InvalidQuery` naming the path of the value
 * (`limit`, `metadata.team`, `status[1]`, `scope.tenantId`) and saying what is accepted.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { InvalidQuery } from "../Errors.js"
import { fieldPath } from "../Options.js"

/** The `InvalidQuery` of a decode failure; `root` names a lone argument (`runId`), otherwise the path does. */
export const invalidQuery = (error: ParseResult.ParseError, root?: string): InvalidQuery => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = issue?.path ?? []
  const field = fieldPath(root === undefined ? path : [root, ...path]) || "options"
  return new InvalidQuery({ field, message: `${field}: ${issue?.message ?? "is invalid"}` })
}

/** A decoder of an options object (absent means `{}`); excess properties are ignored. */
export const options = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (input: I | undefined): Effect.Effect<A, InvalidQuery> =>
    Either.match(decode(input ?? {}), {
      onLeft: (e) => Effect.fail(invalidQuery(e)),
      onRight: Effect.succeed
    })
}

/** A decoder of one named argument. */
export const argument = <A, I>(name: string, schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (input: I): Effect.Effect<A, InvalidQuery> =>
    Either.match(decode(input), {
      onLeft: (e) => Effect.fail(invalidQuery(e, name)),
      onRight: Effect.succeed
    })
}
