/**
 * The check of a list of notifiers at the boundary (`Notifiers.layer`, `AgentRuntime.make`, a run's
 * `notifiers`): each entry is a notifier (plain JavaScript can pass `undefined` or anything), composites
 * included, and no two of the leaves the dispatcher runs share a name, since `stats()` reports counters by name.
 */
import { Duration } from "effect"
import { InvalidNotifiers } from "../Errors.js"
import type { Notifier } from "../Notifier.js"
import { childrenOf } from "./notifierKeys.js"

/** What is wrong with a list: where (a path below the list) and what (a message without the path). */
export interface ListProblem {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const describe = (u: unknown): string =>
  u === undefined ? "undefined" : u === null ? "null" : Array.isArray(u) ? "an array" : `a ${typeof u}`

/** Why a value is not a notifier, or undefined when it is one. */
const notANotifier = (u: unknown): string | undefined => {
  if (typeof u !== "object" || u === null) {
    return `must be a Notifier (see Notifier.make), got ${describe(u)}`
  }
  const n = u as Partial<Notifier>
  if (typeof n.name !== "string" || n.name.trim() === "") return "must be a Notifier with a non-empty name"
  if (typeof n.handle !== "function") return `must be a Notifier: '${n.name}' has no handle function`
  if (typeof n.capacity !== "number" || !Number.isInteger(n.capacity) || n.capacity < 1) {
    return `must be a Notifier: '${n.name}' has no positive integer capacity`
  }
  if (n.strategy !== "dropping" && n.strategy !== "sliding") {
    return `must be a Notifier: '${n.name}' has no strategy ("dropping" or "sliding")`
  }
  if (!Duration.isDuration(n.timeout)) return `must be a Notifier: '${n.name}' has no timeout Duration`
  return undefined
}

/** A path below the list as the caller wrote it (`notifiers[1].children[0]`). */
export const render = (path: ReadonlyArray<string | number>): string =>
  path.reduce<string>((out, key) => (typeof key === "number" ? `${out}[${key}]` : `${out}.${key}`), "notifiers")

/**
 * Checks a list of notifiers; `taken` holds the names already in use (the runtime's, for a run's own). The
 * first problem is returned; a getter that throws while an entry is read is a problem of that entry.
 */
export const checkNotifiers = (
  list: unknown,
  taken: ReadonlySet<string> = new Set()
): ListProblem | undefined => {
  if (!Array.isArray(list)) return { path: [], message: `must be an array of notifiers, got ${describe(list)}` }
  const seen = new Map<string, ReadonlyArray<string | number>>()
  const visit = (items: ReadonlyArray<unknown>, at: ReadonlyArray<string | number>): ListProblem | undefined => {
    for (let i = 0; i < items.length; i++) {
      const path = [...at, i]
      let why: string | undefined
      let children: ReadonlyArray<unknown> | undefined
      let name = ""
      try {
        const item = items[i]
        why = notANotifier(item)
        if (why === undefined) {
          name = (item as Notifier).name
          children = childrenOf(item as Notifier)
        }
      } catch (error) {
        why = `could not be read (${error instanceof Error ? error.message : String(error)})`
      }
      if (why !== undefined) return { path, message: why }
      if (children !== undefined) {
        const inner = visit(children, [...path, "children"])
        if (inner !== undefined) return inner
        continue
      }
      const first = seen.get(name)
      const clash = first !== undefined
        ? `the notifier at ${render(first)} is named '${name}' too`
        : taken.has(name)
        ? `the runtime already has a notifier named '${name}'`
        : undefined
      if (clash !== undefined) {
        return {
          path: [...path, "name"],
          message: `${clash}: stats() counts by name, so give each notifier its own name`
        }
      }
      seen.set(name, path)
    }
    return undefined
  }
  return visit(list, [])
}

/** The names of the notifiers the dispatcher runs for a (checked) list: its leaves, composites flattened. */
export const leafNames = (list: ReadonlyArray<Notifier>): ReadonlyArray<string> =>
  list.flatMap((n) => {
    const children = childrenOf(n)
    return children === undefined ? [n.name] : leafNames(children)
  })

/** The `InvalidNotifiers` for a list of notifiers, or undefined when every entry is a notifier with its own name. */
export const invalidNotifiers = (notifiers: unknown): InvalidNotifiers | undefined => {
  const problem = checkNotifiers(notifiers)
  if (problem === undefined) return undefined
  const field = render(problem.path)
  return new InvalidNotifiers({ field, message: `${field}: ${problem.message}` })
}
