import { Database } from "@sextant/recorder"
import { Effect, Either, Option } from "effect"
import { existsSync } from "node:fs"
import { CliError } from "../Errors.js"

/** The database when neither `--database-url` nor `SEXTANT_DATABASE_URL` names one. */
export const defaultUrl = "sqlite:./.sextant/sextant.db"

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/

/** `--database-url`, else `SEXTANT_DATABASE_URL`, else the default; a bare path is a SQLite file. */
export const resolve = (
  flag: Option.Option<string>,
  env: NodeJS.ProcessEnv = process.env
): Effect.Effect<{ readonly url: string; readonly target: Database.Target }, CliError> => {
  const given = Option.getOrUndefined(flag) ?? (env.SEXTANT_DATABASE_URL || undefined) ?? defaultUrl
  const url = SCHEME.test(given) && !/^[A-Za-z]:[\\/]/.test(given) ? given : `sqlite:${given}`
  return Either.match(Database.parseUrl(url), {
    onLeft: (e) => Effect.fail(new CliError({ message: e.message, exitCode: 2 })),
    onRight: (target) => Effect.succeed({ url, target })
  })
}

/** Fails when a SQLite file does not exist (reads never create one). */
export const requireExisting = (
  resolved: { readonly url: string; readonly target: Database.Target }
): Effect.Effect<void, CliError> =>
  resolved.target._tag === "sqlite" && resolved.target.filename !== ":memory:" &&
    !existsSync(resolved.target.filename)
    ? Effect.fail(
      new CliError({
        message: `no database at ${resolved.target.filename}: pass --database-url (or set SEXTANT_DATABASE_URL), ` +
          "or record a run there first"
      })
    )
    : Effect.void
