/**
 * Values made by another copy of `effect` than the runtime's. An app on effect 4 (npm's `latest`) that
 * installs Sextant gets a second, private effect 3 for it; the app's Schemas and Effects then look like
 * nothing to the runtime (effect 4 marks its values with `~effect/…` string keys, effect 3 with
 * `Symbol.for("effect/…")` symbols), and the mistake surfaces far away ("needs a Schema"). This module
 * recognises such values and says which versions are loaded and how to dedupe them.
 *
 * Another copy of effect 3 shares the symbols, and the runtime reads Schemas by their structure, so its
 * values work (effect itself logs a version mismatch when it runs an Effect of another 3.x version).
 */
import { Effect } from "effect"

/** Node's `module` built-in when the host has it (Node ≥ 20.16), read lazily so Web hosts import nothing Node-only. */
const nodeModule = (): typeof import("node:module") | undefined =>
  (globalThis as { readonly process?: { readonly getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule?.("node:module") as typeof import("node:module") | undefined

/** The version of the `effect` the runtime runs on, as its own Effect values carry it. */
export const ownVersion: string =
  (Effect.void as unknown as { readonly [key: symbol]: { readonly _V?: string } | undefined })[
    Symbol.for("effect/Effect")
  ]?._V ?? "3"

/** What a value from another copy is (`Schema`, `Effect`, `Layer`…) and its effect major version. */
export interface Foreign {
  readonly kind: string
  readonly major: number
}

/** Effect 4's value markers (string keys), by the kind of value they mark. */
const effect4Markers: ReadonlyArray<readonly [string, string]> = [
  ["~effect/Schema/Schema", "Schema"],
  ["~effect/Layer", "Layer"],
  ["~effect/Effect", "Effect"],
  ["~effect/Stream", "Stream"],
  ["~effect/Duration", "Duration"]
]

/** The kind of an effect-4 value, when `u` is one. */
export const foreignOf = (u: unknown): Foreign | undefined => {
  if ((typeof u !== "object" && typeof u !== "function") || u === null) return undefined
  try {
    for (const [key, kind] of effect4Markers) if (key in u) return { kind, major: 4 }
  } catch {
    // A Proxy whose `has` trap throws is not an effect value.
  }
  return undefined
}

/** Versions of older effect 3 copies, which register their global store as `effect/GlobalValue/globalStoreId/<v>`. */
const registeredVersions = (): ReadonlyArray<string> =>
  Object.getOwnPropertySymbols(globalThis).flatMap((s) => {
    const match = /^effect\/GlobalValue\/globalStoreId\/(.+)$/.exec(s.description ?? "")
    return match === null ? [] : [match[1]!]
  })

/** The version of the `effect` the app resolves (from the working directory), if it can be read. */
const appVersion = (): string | undefined => {
  try {
    const createRequire = nodeModule()?.createRequire
    if (createRequire === undefined) return undefined
    const require = createRequire(`${process.cwd()}/package.json`)
    const version = (require("effect/package.json") as { readonly version?: unknown }).version
    return typeof version === "string" ? version : undefined
  } catch {
    return undefined
  }
}

/** The best name for the other copy's version: the app's effect when it is of that major, else `4.x`. */
const otherVersion = (foreign: Foreign): string => {
  const candidates = [appVersion(), ...registeredVersions()]
  const sameMajor = candidates.find((v) => v !== undefined && v !== ownVersion && v.startsWith(`${foreign.major}.`))
  return sameMajor ?? `${foreign.major}.x`
}

/**
 * What a value from another copy of effect is, with both versions and how to end up with one copy; callers
 * put what the value is in front (`tools[0].parameters: is a Schema from effect 4.1.0, but …`).
 */
export const mismatchMessage = (foreign: Foreign): string =>
  `${foreign.kind === "Effect" ? "an" : "a"} ${foreign.kind} from effect ${
    otherVersion(foreign)
  }, but @sextant/runtime runs on effect ${ownVersion}: two copies of effect are loaded, and the values of one ` +
  `mean nothing to the other. Use one copy: \`npm ls effect\` shows both; install an effect that satisfies ` +
  `@sextant/runtime's peer dependency (effect ^3.22.4) in your app, so that npm dedupes it`

/** The versions in a mismatch, for a typed error's fields. */
export const versionsOf = (foreign: Foreign): { readonly runtime: string; readonly found: string } => ({
  runtime: ownVersion,
  found: otherVersion(foreign)
})
