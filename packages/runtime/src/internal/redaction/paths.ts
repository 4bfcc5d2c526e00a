/**
 * The JSON paths of a tool rule: `$`, `.key`, `["key"]`, `[0]` and the wildcards `.*` / `[*]`.
 */

/** One step of a path: an object key, an array index, or any key or index. */
export type Step = string | number | typeof any

/** The wildcard step. */
export const any: unique symbol = Symbol("any")

/** A parsed path, or why it does not parse. */
export const parsePath = (source: string): ReadonlyArray<Step> | string => {
  if (!source.startsWith("$")) return `must start with '$' (e.g. "$.user.email"), got ${JSON.stringify(source)}`
  const steps: Array<Step> = []
  let i = 1
  while (i < source.length) {
    const rest = source.slice(i)
    const dot = /^\.(\*|[A-Za-z_$][\w$-]*)/.exec(rest)
    if (dot !== null) {
      steps.push(dot[1] === "*" ? any : dot[1]!)
      i += dot[0].length
      continue
    }
    const bracket = /^\[(\*|\d+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\]/.exec(rest)
    if (bracket !== null) {
      const inner = bracket[1]!
      steps.push(
        inner === "*" ? any : /^\d+$/.test(inner) ? Number(inner) : (JSON.parse(`"${inner.slice(1, -1)}"`) as string)
      )
      i += bracket[0].length
      continue
    }
    return `cannot read ${JSON.stringify(source)} at position ${i} (use .key, ["key"], [0], .* or [*])`
  }
  return steps
}

const stepMatches = (step: Step, key: string | number) =>
  step === any || step === key || (typeof step === "number" && String(step) === String(key))

/** Paths still alive below a key: those whose next step matches it, advanced by one. */
export const advance = (
  paths: ReadonlyArray<ReadonlyArray<Step>>,
  key: string | number
): ReadonlyArray<ReadonlyArray<Step>> => {
  const out: Array<ReadonlyArray<Step>> = []
  for (const p of paths) if (p.length > 0 && stepMatches(p[0]!, key)) out.push(p.slice(1))
  return out
}

/** Whether one of the (advanced) paths ends here. */
export const ends = (paths: ReadonlyArray<ReadonlyArray<Step>>): boolean => paths.some((p) => p.length === 0)
