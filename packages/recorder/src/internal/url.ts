import { Either } from "effect"
import { acceptedUrlForms, DatabaseUrlError } from "../Errors.js"

/** Where a database URL points. */
export type Target =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "pg"; readonly url: string }

/** The URL with any password replaced by `***`, safe for messages and logs. */
export const redact = (url: string): string => url.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@")

/** Parses a database URL into a target, or a `DatabaseUrlError` listing the accepted forms. */
export const parse = (url: string): Either.Either<Target, DatabaseUrlError> => {
  const bad = (why: string) =>
    Either.left(
      new DatabaseUrlError({
        url: redact(url),
        message: `${why}: '${redact(url)}'. Accepted forms: ${acceptedUrlForms.join(", ")}`
      })
    )
  if (typeof url !== "string" || url.trim() === "") return bad("empty database URL")
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      const parsed = new URL(url)
      if (parsed.hostname === "") return bad("a Postgres URL needs a host")
    } catch {
      return bad("not a valid Postgres URL")
    }
    return Either.right({ _tag: "pg", url })
  }
  if (/^sqlite:/i.test(url)) {
    const rest = url.slice("sqlite:".length)
    if (rest === ":memory:") return Either.right({ _tag: "sqlite", filename: ":memory:" })
    const filename = rest.replace(/^\/\/(?=[./])/, "")
    if (filename === "" || filename.startsWith(":")) return bad("a SQLite URL needs a file path or ':memory:'")
    return Either.right({ _tag: "sqlite", filename })
  }
  return bad("unsupported database URL")
}
