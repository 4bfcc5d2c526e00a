/**
 * CPU profiles of a piece of work, taken in-process with V8's sampling profiler (the one `node --cpu-prof`
 * uses, driven through `node:inspector`), summarised as the share of busy samples by where the code lives
 * (Effect's fiber runtime, a Sextant source file, the SQLite driver, GC, …), the top functions by self time,
 * and the inclusive share of samples under frames that match given markers. `BENCH_PROFILE_DIR` keeps the
 * raw `.cpuprofile` files (open them in Chrome DevTools or speedscope).
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { findSourceMap } from "node:module"
import { join } from "node:path"
import { num, table } from "./measure.js"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
  readonly children?: ReadonlyArray<number>
}

/** A V8 CPU profile (the `.cpuprofile` format). */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples?: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

/** Profiles `work` with a 100 µs sampling interval. */
export const cpuProfile = async (label: string, work: () => Promise<unknown>): Promise<CpuProfile> => {
  const session = new Session()
  session.connect()
  try {
    await session.post("Profiler.enable")
    await session.post("Profiler.setSamplingInterval", { interval: 100 })
    await session.post("Profiler.start")
    const outcome = await work().then(() => undefined, (error: unknown) => ({ error }))
    const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: CpuProfile }
    const dir = process.env.BENCH_PROFILE_DIR
    if (dir !== undefined && dir !== "") writeFileSync(join(dir, `${label}.cpuprofile`), JSON.stringify(profile))
    if (outcome !== undefined) throw outcome.error
    return profile
  } finally {
    session.disconnect()
  }
}

/** Where a frame's code lives, for the by-area breakdown. */
export const areaOf = (frame: CallFrame): string => {
  const { functionName: f, url } = frame
  if (f === "(garbage collector)") return "GC"
  if (f === "(program)") return "V8 / native (program)"
  const pkg = /\/packages\/([^/]+)\/(?:src|bench)\/(.*)$/.exec(url)
  if (pkg !== null) return `sextant ${pkg[1]}: ${pkg[2]!.replace(/\.ts$/, "")}`
  const mod = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (mod !== null) {
    if (mod[1] === "effect") return `effect: ${mod[2]!.replace(/^dist\/(esm|cjs)\//, "").replace(/\.js$/, "")}`
    return mod[1]!
  }
  if (url.startsWith("node:")) return "node internals"
  if (url === "") return "native / builtins"
  return url.replace(/^file:\/\//, "")
}

/**
 * The 1-based source line of a frame: tsx compiles TypeScript with whitespace minified (one line a module),
 * so lines of Sextant's own files come from the module's source map (tsx enables source maps).
 */
const lineOf = (frame: CallFrame): number => {
  if (frame.url.includes("/packages/")) {
    try {
      const entry = findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) as
        | { readonly originalLine?: number }
        | undefined
      if (entry?.originalLine !== undefined) return entry.originalLine + 1
    } catch {
      // No source map: the generated line it is.
    }
  }
  return frame.lineNumber + 1
}

const frameKey = (frame: CallFrame): string => {
  const where = areaOf(frame)
  return `${frame.functionName === "" ? "(anonymous)" : frame.functionName} — ${where}${
    frame.url === "" ? "" : `:${lineOf(frame)}`
  }`
}

/** A profile summarised: busy samples, shares by area and by function, marker shares. */
export interface ProfileSummary {
  readonly busySamples: number
  readonly byArea: ReadonlyArray<readonly [string, number]>
  readonly topSelf: ReadonlyArray<readonly [string, number]>
  readonly markers: ReadonlyArray<readonly [string, number]>
}

/**
 * Summarises a profile. Shares are of busy samples (idle excluded). A marker's share counts every sample with a
 * frame matching it anywhere on the stack (`name url`), so markers overlap and do not add up.
 */
export const summarise = (
  profile: CpuProfile,
  markers: ReadonlyArray<readonly [string, RegExp]> = [],
  top = 12
): ProfileSummary => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const hits = new Map<number, number>()
  if (profile.samples !== undefined && profile.samples.length > 0) {
    for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1)
  } else for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0)
  let busy = 0
  const area = new Map<string, number>()
  const self = new Map<string, number>()
  const marked = new Map<string, number>()
  for (const [id, count] of hits) {
    const node = byId.get(id)!
    if (node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(root)") continue
    busy += count
    const a = areaOf(node.callFrame)
    area.set(a, (area.get(a) ?? 0) + count)
    const k = frameKey(node.callFrame)
    self.set(k, (self.get(k) ?? 0) + count)
    if (markers.length > 0) {
      const stack: Array<string> = []
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const f = byId.get(cur)!.callFrame
        stack.push(`${f.functionName} ${f.url}`)
      }
      for (const [name, re] of markers) {
        if (stack.some((s) => re.test(s))) marked.set(name, (marked.get(name) ?? 0) + count)
      }
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, v / Math.max(1, busy)] as const)
  return {
    busySamples: busy,
    byArea: sorted(area).slice(0, top),
    topSelf: sorted(self).slice(0, top),
    markers: markers.map(([name]) => [name, (marked.get(name) ?? 0) / Math.max(1, busy)] as const)
  }
}

const pct = (x: number) => `${num(100 * x, 1)}%`

/** The summary as markdown: two tables (by area, top functions) and the marker shares. */
export const summaryMarkdown = (s: ProfileSummary): string =>
  [
    `${s.busySamples.toLocaleString("en-US")} busy samples (100 µs interval).`,
    "",
    table(["where (self time)", "share"], s.byArea.map(([k, v]) => [k, pct(v)]), "|---|---:|"),
    "",
    table(["top functions by self time", "share"], s.topSelf.map(([k, v]) => [`\`${k}\``, pct(v)]), "|---|---:|"),
    ...(s.markers.length === 0 ? [] : [
      "",
      table(
        ["samples with this on the stack (inclusive; overlapping)", "share"],
        s.markers.map(([k, v]) => [k, pct(v)]),
        "|---|---:|"
      )
    ])
  ].join("\n")
