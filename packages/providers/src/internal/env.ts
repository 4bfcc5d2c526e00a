import { Config, Effect, Option, Redacted } from "effect"
import { ProviderConfigError } from "../Errors.js"

/** A required API key from the environment; missing or empty is a `ProviderConfigError` naming the variable. */
export const requiredKey = (
  variable: string,
  provider: string
): Effect.Effect<Redacted.Redacted, ProviderConfigError> =>
  Effect.flatMap(optionalKey(variable), (key) =>
    Option.match(key, {
      onNone: () =>
        new ProviderConfigError({
          setting: variable,
          message: `${variable} is not set: the ${provider} provider needs an API key in ${variable}`
        }),
      onSome: Effect.succeed
    }))

/** An optional API key; an empty value counts as absent. */
export const optionalKey = (variable: string): Effect.Effect<Option.Option<Redacted.Redacted>, ProviderConfigError> =>
  Config.option(Config.redacted(variable)).pipe(
    Effect.map(Option.filter((key) => Redacted.value(key).trim() !== "")),
    Effect.mapError((error) => new ProviderConfigError({ setting: variable, message: `${variable}: ${error.message}` }))
  )

/** Checks a base URL is an absolute http(s) URL. */
export const checkUrl = (setting: string, url: string): Effect.Effect<string, ProviderConfigError> => {
  try {
    const parsed = new URL(url)
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return Effect.succeed(url.replace(/\/+$/, ""))
  } catch {
    // reported below
  }
  return new ProviderConfigError({ setting, message: `${setting} must be an absolute http(s) URL, got '${url}'` })
}

/** An optional base URL from the environment (empty counts as absent), checked when present. */
export const optionalUrl = (variable: string): Effect.Effect<string | undefined, ProviderConfigError> =>
  Config.option(Config.string(variable)).pipe(
    Effect.mapError((error) =>
      new ProviderConfigError({ setting: variable, message: `${variable}: ${error.message}` })
    ),
    Effect.flatMap((value) =>
      Option.isNone(value) || value.value.trim() === ""
        ? Effect.succeed(undefined)
        : checkUrl(variable, value.value.trim())
    )
  )
