/**
 * The storage half of the bus's redaction pass: after the guardrails' pass (`../privacy.ts`), the agent's
 * redaction policy (key, pattern and tool-path rules; metadata-only) and the per-field size cap turn the event
 * the caller sees into the one the recorder, the notifiers and the followers get. Structural, like the
 * guardrails' pass: it walks every field of every event and delta, so a new kind is covered as it is.
 *
 * Per event it walks (1) the key and tool-path rules, remembering each value they redact, then (2) every
 * content string through the remembered values and the pattern rules, capping sizes on the way. Without a
 * policy only the size cap's walk runs, allocating nothing for an event that needs no change.
 */
import { Either } from "effect"
import { createHmac } from "node:crypto"
import { AgentConfigError } from "../../Errors.js"
import type { HookEvent } from "../../HookEvent.js"
import { type Action, blobRef, type BlobStore, defaultMaxFieldBytes, sha256 } from "../../Redaction.js"
import type { StreamDelta, TextDelta, ToolArgumentsDelta } from "../../StreamEvent.js"
import type { RedactionSpec } from "../config/redactionConfig.js"
import { contentFields, holdBack, structural } from "../privacy.js"
import { advance, ends, parsePath, type Step } from "./paths.js"

interface Named {
  readonly name: string
  readonly action: Action
}

interface Paths {
  readonly allow: ReadonlyArray<ReadonlyArray<Step>> | undefined
  readonly deny: ReadonlyArray<ReadonlyArray<Step>>
}

interface ToolPaths extends Named {
  readonly arguments: Paths | undefined
  readonly result: Paths | undefined
}

/** A validated policy, as the bus applies it. */
export interface CompiledRedaction {
  readonly metadataOnly: boolean
  /** Lower-cased key name → its rule. */
  readonly keys: ReadonlyMap<string, Named>
  readonly patterns: ReadonlyArray<Named & { readonly regex: RegExp }>
  readonly tools: ReadonlyMap<string, ReadonlyArray<ToolPaths>>
  readonly hashKey: Uint8Array | undefined
  readonly maxFieldBytes: number
  readonly blobs: BlobStore | undefined
}

/** The policy of an agent without one: the default size cap only. */
export const defaultRedaction: CompiledRedaction = {
  metadataOnly: false,
  keys: new Map(),
  patterns: [],
  tools: new Map(),
  hashKey: undefined,
  maxFieldBytes: defaultMaxFieldBytes,
  blobs: undefined
}

const bad = (field: string, message: string) =>
  Either.left(new AgentConfigError({ field, message: `${field}: ${message}` }))

/**
 * Compiles a decoded policy; the error's `field` is the path of what is wrong (`redaction.rules[1].pattern`).
 * `toolNames`: the tools a tool rule may name (undefined: any, for runs recorded from outside the loop).
 */
export const compileRedaction = (
  spec: RedactionSpec | undefined,
  toolNames: ReadonlySet<string> | undefined
): Either.Either<CompiledRedaction, AgentConfigError> => {
  if (spec === undefined) return Either.right(defaultRedaction)
  const keys = new Map<string, Named>()
  const patterns: Array<Named & { readonly regex: RegExp }> = []
  const tools = new Map<string, Array<ToolPaths>>()
  for (const [i, rule] of (spec.rules ?? []).entries()) {
    const at = `redaction.rules[${i}]`
    if (rule.action === "hash" && spec.hashKey === undefined) {
      return bad("redaction.hashKey", `rule ${i} hashes, so the policy needs a hashKey (at least 16 bytes)`)
    }
    if (rule.keys !== undefined) {
      const named = { name: rule.name ?? `keys:${rule.keys.join(",")}`, action: rule.action }
      for (const key of rule.keys) keys.set(key.toLowerCase(), named)
    } else if (rule.pattern !== undefined) {
      let regex: RegExp
      try {
        regex = typeof rule.pattern === "string"
          ? new RegExp(rule.pattern, "g")
          : new RegExp(
            rule.pattern.source,
            rule.pattern.flags.includes("g") ? rule.pattern.flags : rule.pattern.flags + "g"
          )
      } catch (error) {
        return bad(`${at}.pattern`, `is not a regular expression (${(error as Error).message})`)
      }
      if (regex.test("")) return bad(`${at}.pattern`, "matches the empty string, so it would match everywhere")
      regex.lastIndex = 0
      patterns.push({ name: rule.name ?? `pattern:${regex.source}`, action: rule.action, regex })
    } else if (rule.tool !== undefined) {
      if (toolNames !== undefined && !toolNames.has(rule.tool)) {
        return bad(`${at}.tool`, `'${rule.tool}' is not one of the agent's tools`)
      }
      const paths: Partial<Record<"arguments" | "result", Paths>> = {}
      for (const side of ["arguments", "result"] as const) {
        const list = rule[side]
        if (list === undefined) continue
        const parsed: Record<"allow" | "deny", Array<ReadonlyArray<Step>>> = { allow: [], deny: [] }
        for (const kind of ["allow", "deny"] as const) {
          for (const [j, source] of (list[kind] ?? []).entries()) {
            const p = parsePath(source)
            if (typeof p === "string") return bad(`${at}.${side}.${kind}[${j}]`, p)
            parsed[kind].push(p)
          }
        }
        paths[side] = { allow: list.allow === undefined ? undefined : parsed.allow, deny: parsed.deny }
      }
      const list = tools.get(rule.tool) ?? []
      list.push({
        name: rule.name ?? `tool:${rule.tool}`,
        action: rule.action,
        arguments: paths.arguments,
        result: paths.result
      })
      tools.set(rule.tool, list)
    }
  }
  return Either.right({
    metadataOnly: spec.metadataOnly ?? false,
    keys,
    patterns,
    tools,
    hashKey: spec.hashKey === undefined
      ? undefined
      : typeof spec.hashKey === "string"
      ? new TextEncoder().encode(spec.hashKey)
      : spec.hashKey,
    maxFieldBytes: spec.maxFieldBytes ?? defaultMaxFieldBytes,
    blobs: spec.blobs
  })
}

/** What the bus applies after the guardrails' pass, for every consumer but the caller's stream. */
export interface StoragePass {
  /** The event as the recorder and the observers get it (a `run.paused` keeps its execution state). */
  readonly event: (event: HookEvent) => HookEvent
  /** The deltas the observers may get now (pattern matches may hold text back until the call ends). */
  readonly delta: (delta: StreamDelta) => ReadonlyArray<StreamDelta>
  /** The held-back text of a model call. */
  readonly flush: (correlationId: string) => ReadonlyArray<StreamDelta>
  /** The full values of fields truncated since the last call, for the blob store (written before the events). */
  readonly takeBlobs: () => ReadonlyArray<{ readonly sha256: string; readonly bytes: Uint8Array }>
  readonly blobs: BlobStore | undefined
}

/** The replacement of a masked value. */
export const MASK = "[redacted]"

const DROP: unique symbol = Symbol("drop")

/** Content fields holding a whole JSON value: emptied by metadata-only; below them, no key is structural. */
const jsonFields = contentFields
/** Of those, the ones an event may leave out (metadata-only omits them; the others become `null`). */
const optionalJson: ReadonlySet<string> = new Set([
  "output",
  "metadata",
  "providerRequest",
  "providerResponse",
  "samples",
  "value"
])
/** Fields capped as a whole JSON value (the others only string by string). */
const cappedWhole: ReadonlySet<string> = new Set(["arguments", "result", "data", "value", "submission", "output"])
/** Metadata kept by metadata-only besides the structural fields: errors, names and references. */
const metadataKeys: ReadonlySet<string> = new Set([
  "error",
  "endpoint",
  "streamId",
  "threadId",
  "costNote",
  "tools",
  "encoding",
  "redacted"
])
/** Events whose `reason` is the kernel's, not a person's (an approval's reason is content). */
const systemReasons: ReadonlySet<string> = new Set([
  "ProviderRetry",
  "PolicyDenied",
  "GuardrailBlocked",
  "RunCancelled"
])

const isPlain = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Cuts `text` to at most `n` UTF-16 units without leaving half a surrogate pair. */
const prefix = (text: string, n: number) => {
  const cut = text.slice(0, n)
  const last = cut.charCodeAt(cut.length - 1)
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut
}

/**
 * Makes a run's storage pass. `calls`: the tool calls a resumed segment's submission may answer (a client
 * result names its call, not its tool), so tool rules apply to a submitted result too.
 */
export const makeStoragePass = (
  policy: CompiledRedaction,
  calls: ReadonlyArray<{ readonly id: string; readonly name: string }> = []
): StoragePass => {
  const cap = policy.maxFieldBytes
  const active = policy.keys.size > 0 || policy.patterns.length > 0 || policy.tools.size > 0
  let counts: Map<string, number> | undefined
  const bump = (name: string, n = 1) => {
    if (counts !== undefined) counts.set(name, (counts.get(name) ?? 0) + n)
  }
  const hashes = new Map<string, string>()
  const hmac = (text: string) => {
    let h = hashes.get(text)
    if (h === undefined) {
      h = `hmac-sha256:${createHmac("sha256", policy.hashKey!).update(text).digest("hex")}`
      if (hashes.size < 10_000) hashes.set(text, h)
    }
    return h
  }
  const replacement = (action: Action, value: unknown): unknown | typeof DROP =>
    action === "drop"
      ? DROP
      : action === "mask"
      ? MASK
      : hmac(typeof value === "string" ? value : JSON.stringify(value))

  // The tool of each call id seen (or given), for a submission's results, which name the call only.
  const toolOfCall = new Map<string, string>(calls.map((c) => [c.id, c.name]))
  // Values a key or path rule redacted, replaced wherever they reappear in the run (as the guardrails' mapping).
  const learned = new Map<string, { readonly text: string; readonly name: string }>()
  const learnedList: Array<string> = []
  let matcher: RegExp | undefined
  const learn = (value: unknown, rule: Named) => {
    if (typeof value === "string") {
      if (value.length < 4 || learned.has(value)) return
      const text = rule.action === "drop" ? "" : rule.action === "mask" ? MASK : hmac(value)
      learned.set(value, { text, name: rule.name })
      learnedList.push(value)
      const escaped = JSON.stringify(value).slice(1, -1)
      if (escaped !== value) {
        learned.set(escaped, { text, name: rule.name })
        learnedList.push(escaped)
      }
      matcher = undefined
    } else if (Array.isArray(value)) {
      for (const item of value) learn(item, rule)
    } else if (isPlain(value)) {
      for (const item of Object.values(value)) learn(item, rule)
    }
  }
  const redactWhole = (rule: Named, value: unknown) => {
    bump(rule.name)
    learn(value, rule)
    return replacement(rule.action, value)
  }

  /** A tool's arguments or result through the rule's allow and deny paths. */
  const applyPaths = (
    value: unknown,
    rule: Named,
    allow: ReadonlyArray<ReadonlyArray<Step>> | undefined,
    deny: ReadonlyArray<ReadonlyArray<Step>>
  ): unknown => {
    if (ends(deny)) return redactWhole(rule, value)
    const allowHere = allow !== undefined && ends(allow) ? undefined : allow
    if (allowHere === undefined && deny.length === 0) return value
    const container = Array.isArray(value) || isPlain(value)
    if (allowHere !== undefined && (!container || allowHere.length === 0)) return redactWhole(rule, value)
    if (!container) return value
    if (Array.isArray(value)) {
      return value.map((item, i) => {
        const v = applyPaths(item, rule, allowHere && advance(allowHere, i), advance(deny, i))
        return v === DROP ? null : v
      })
    }
    const out: Record<string, unknown> = {}
    for (const [k, item] of Object.entries(value as Record<string, unknown>)) {
      const v = applyPaths(item, rule, allowHere && advance(allowHere, k), advance(deny, k))
      if (v !== DROP) out[k] = v
    }
    return out
  }
  const throughTool = (rules: ReadonlyArray<ToolPaths>, side: "arguments" | "result", value: unknown) => {
    let out = value
    for (const rule of rules) {
      const paths = rule[side]
      if (paths !== undefined) {
        const v = applyPaths(out, rule, paths.allow, paths.deny)
        out = v === DROP ? null : v
      }
    }
    return out
  }
  // Tool messages' texts already through their rules: every later request repeats the history.
  const toolTexts = new Map<string, string>()
  /** A tool message's content: its result as JSON text (or as a plain string). */
  const throughToolText = (rules: ReadonlyArray<ToolPaths>, content: string) => {
    const known = toolTexts.get(content)
    if (known !== undefined) {
      if (known !== content) bump(rules[0]!.name)
      return known
    }
    const out = toolText(rules, content)
    if (toolTexts.size < 10_000) toolTexts.set(content, out)
    return out
  }
  const toolText = (rules: ReadonlyArray<ToolPaths>, content: string) => {
    let parsed: unknown = content
    try {
      parsed = JSON.parse(content)
    } catch {
      // a plain-text result: the whole of it is `$`
    }
    const out = throughTool(rules, "result", parsed)
    if (out === parsed) return content
    return typeof out === "string" ? out : out === null ? "" : JSON.stringify(out)
  }

  // JSON texts already through the key rules (a run's history repeats them).
  const jsonTexts = new Map<string, string>()
  /**
   * A string holding a JSON object or array (a traced run's input, a tool that returns JSON text): key rules
   * apply inside it as inside a structured value, so `{"password": …}` sent as text is redacted too.
   */
  const throughJsonText = (text: string): string => {
    const first = text.charCodeAt(0)
    if (first !== 123 && first !== 91) return text // `{` or `[`
    const known = jsonTexts.get(text)
    if (known !== undefined) return known
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return text
    }
    const v = structure(parsed, true)
    const out = v === parsed ? text : JSON.stringify(v === DROP ? null : v)
    if (jsonTexts.size < 10_000) jsonTexts.set(text, out)
    return out
  }

  /** Phase 1: key rules and tool paths (and remembering what they redact). */
  const structure = (value: unknown, inJson: boolean): unknown => {
    if (typeof value === "string") return policy.keys.size > 0 ? throughJsonText(value) : value
    if (Array.isArray(value)) {
      let changed = false
      const out = value.map((item) => {
        const v = structure(item, inJson)
        if (v !== item) changed = true
        return v === DROP ? null : v
      })
      return changed ? out : value
    }
    if (!isPlain(value)) return value
    const toolName = typeof value["toolName"] === "string"
      ? value["toolName"]
      : typeof value["name"] === "string" && "arguments" in value
      ? value["name"]
      : typeof value["callId"] === "string"
      ? toolOfCall.get(value["callId"])
      : undefined
    if (toolName !== undefined && policy.tools.size > 0) {
      const id = typeof value["id"] === "string" ? value["id"] : value["correlationId"]
      if (typeof id === "string" && !toolOfCall.has(id) && toolOfCall.size < 10_000) toolOfCall.set(id, toolName)
    }
    const toolRules = toolName === undefined ? undefined : policy.tools.get(toolName)
    let out: Record<string, unknown> | undefined
    const keys = Object.keys(value)
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      const item = value[k]
      if (k === "redacted" && !inJson) {
        if (out !== undefined) out[k] = item
        continue
      }
      let v: unknown = item
      // An event's own ids and names are never rewritten; inside content (a tool's result…) every key is content.
      const keyRule = !inJson && structural.has(k) ? undefined : policy.keys.get(k.toLowerCase())
      if (keyRule !== undefined) {
        v = redactWhole(keyRule, item)
        if (v === DROP) v = inJson ? DROP : typeof item === "string" ? "" : null
      } else {
        if (toolRules !== undefined) {
          if (k === "arguments" || k === "result") v = throughTool(toolRules, k, item)
          else if (k === "content" && value["_tag"] === "tool" && typeof item === "string") {
            v = throughToolText(toolRules, item)
          }
        }
        v = structure(v, inJson || jsonFields.has(k))
      }
      if (v !== item && out === undefined) {
        out = {}
        for (let j = 0; j < i; j++) out[keys[j]!] = value[keys[j]!]
      }
      if (out !== undefined && v !== DROP) out[k] = v
    }
    return out ?? value
  }

  // Strings already scrubbed, with their result, what it replaced, and how many learned values they were checked
  // against (a run's history repeats: a string seen needs checking only against the values learned since).
  const scrubbed = new Map<string, { out: string; hits: ReadonlyArray<string>; checked: number }>()
  const scrub = (text: string): string => {
    const known = scrubbed.get(text)
    if (known !== undefined) {
      let hit = false
      for (let i = known.checked; !hit && i < learnedList.length; i++) hit = text.includes(learnedList[i]!)
      if (!hit) {
        known.checked = learnedList.length
        for (const name of known.hits) bump(name)
        return known.out
      }
    }
    const hits: Array<string> = []
    let out = text
    if (learned.size > 0) {
      matcher ??= new RegExp(
        [...learned.keys()].sort((a, b) => b.length - a.length).map(escapeRegex).join("|"),
        "g"
      )
      matcher.lastIndex = 0
      if (matcher.test(out)) {
        out = out.replace(matcher, (m) => {
          const hit = learned.get(m)!
          hits.push(hit.name)
          return hit.text
        })
      }
    }
    for (const p of policy.patterns) {
      p.regex.lastIndex = 0
      if (!p.regex.test(out)) continue
      out = out.replace(p.regex, (m) => {
        hits.push(p.name)
        return p.action === "drop" ? "" : p.action === "mask" ? MASK : hmac(m)
      })
    }
    for (const name of hits) bump(name)
    if (scrubbed.size < 10_000) scrubbed.set(text, { out, hits, checked: learnedList.length })
    return out
  }

  let blobs: Array<{ readonly sha256: string; readonly bytes: Uint8Array }> = []
  const offloaded = new Set<string>()
  const truncate = (bytes: Uint8Array) => {
    const hash = sha256(bytes)
    bump("sizeCap")
    if (policy.blobs !== undefined && !offloaded.has(hash)) {
      offloaded.add(hash)
      blobs.push({ sha256: hash, bytes })
    }
    return { bytes: bytes.byteLength, sha256: hash, ...(policy.blobs === undefined ? {} : { blob: blobRef(hash) }) }
  }
  const encoder = new TextEncoder()
  let size = 0
  let whole = 0
  /** Phase 2: content strings through the remembered values and the patterns; sizes capped on the way. */
  const finish = (value: unknown, key: string | undefined, inJson: boolean): unknown => {
    if (typeof value === "string") {
      size += value.length + 2
      if (!inJson && key !== undefined && structural.has(key)) return value
      const text = active ? scrub(value) : value
      // Inside a value capped as a whole, its strings are not capped one by one (its marker hashes all of it).
      if (whole > 0 || text.length * 3 <= cap || Buffer.byteLength(text) <= cap) return text
      const t = truncate(encoder.encode(text))
      return `${prefix(text, Math.min(1024, cap >> 4))}… [truncated: ${t.bytes} bytes, sha256:${t.sha256}${
        t.blob === undefined ? "" : `, ${t.blob}`
      }]`
    }
    if (Array.isArray(value)) {
      let changed = false
      const out = value.map((item) => {
        const v = finish(item, undefined, inJson)
        if (v !== item) changed = true
        return v
      })
      return changed ? out : value
    }
    if (!isPlain(value)) {
      size += 8
      return value
    }
    let out: Record<string, unknown> | undefined
    const keys = Object.keys(value)
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      const item = value[k]
      if (k === "redacted" && !inJson) {
        if (out !== undefined) out[k] = item
        continue
      }
      const before = size
      const asWhole = cappedWhole.has(k) && typeof item === "object" && item !== null
      if (asWhole) whole++
      let v: unknown
      try {
        v = finish(item, k, inJson || jsonFields.has(k))
      } finally {
        if (asWhole) whole--
      }
      if (asWhole && (size - before) * 6 > cap) {
        const bytes = encoder.encode(JSON.stringify(v))
        if (bytes.byteLength > cap) v = { truncated: truncate(bytes) }
      }
      if (v !== item && out === undefined) {
        out = {}
        for (let j = 0; j < i; j++) out[keys[j]!] = value[keys[j]!]
      }
      if (out !== undefined) out[k] = v
    }
    return out ?? value
  }

  /** Metadata-only: every content string emptied, every content JSON value left out (or `null`). */
  const strip = (value: unknown, key: string | undefined, tag: string): unknown => {
    if (key !== undefined && (structural.has(key) || metadataKeys.has(key))) return value
    if (key === "reason" && systemReasons.has(tag)) return value
    if (key !== undefined && jsonFields.has(key)) {
      if (value === null) return value
      bump("metadataOnly")
      return optionalJson.has(key) ? DROP : null
    }
    if (typeof value === "string") {
      if (value === "") return value
      bump("metadataOnly")
      return ""
    }
    if (Array.isArray(value)) {
      let changed = false
      const out = value.map((item) => {
        const v = strip(item, key, tag)
        if (v !== item) changed = true
        return v === DROP ? null : v
      })
      return changed ? out : value
    }
    if (!isPlain(value)) return value
    let changed = false
    const out: Record<string, unknown> = {}
    for (const [k, item] of Object.entries(value)) {
      const v = strip(item, k, tag)
      if (v !== item) changed = true
      if (v !== DROP) out[k] = v
    }
    return changed ? out : value
  }

  const withCounts = (event: Record<string, unknown>): Record<string, unknown> => {
    if (counts === undefined || counts.size === 0) return event
    const merged: Record<string, number> = { ...(event["redacted"] as Record<string, number> | undefined) }
    for (const [name, n] of counts) merged[name] = (merged[name] ?? 0) + n
    return { ...event, redacted: merged }
  }

  /**
   * Whether something in `value` may be over the cap: a string longer than a third of it (UTF-8 takes at most
   * three bytes a UTF-16 unit), or a value capped as a whole whose estimate is. No allocation: the walk the
   * size cap alone costs on every event.
   */
  let estimate = 0
  const mayExceed = (value: unknown, key: string | undefined): boolean => {
    if (typeof value === "string") {
      estimate += value.length + 2
      return value.length * 3 > cap
    }
    if (typeof value !== "object" || value === null) {
      estimate += 8
      return false
    }
    const before = estimate
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (mayExceed(value[i], undefined)) return true
    } else {
      for (const k in value) if (mayExceed((value as Record<string, unknown>)[k], k)) return true
    }
    return key !== undefined && cappedWhole.has(key) && (estimate - before) * 6 > cap
  }

  const content = (event: Record<string, unknown>): Record<string, unknown> => {
    if (policy.metadataOnly) return strip(event, undefined, event["_tag"] as string) as Record<string, unknown>
    if (!active) {
      estimate = 0
      if (!mayExceed(event, undefined)) return event
    }
    const structured = active ? structure(event, false) as Record<string, unknown> : event
    size = 0
    return finish(structured, undefined, false) as Record<string, unknown>
  }

  // Streamed text per model call (and tool-argument index), as the guardrails' pass released it.
  const streams = new Map<string, { raw: string; sent: number; last: TextDelta | ToolArgumentsDelta }>()
  const keyOf = (d: TextDelta | ToolArgumentsDelta) =>
    d._tag === "TextDelta" ? `${d.correlationId}\u0000text` : `${d.correlationId}\u0000${d.index}`
  const scrubStream = (raw: string) => {
    const saved = counts
    counts = undefined
    const out = scrub(raw)
    counts = saved
    return out
  }
  const structuredRules = policy.keys.size > 0 || policy.tools.size > 0

  return {
    blobs: policy.blobs,
    takeBlobs: () => {
      const taken = blobs
      blobs = []
      return taken
    },
    event: (event) => {
      counts = new Map()
      try {
        if (event._tag === "RunPaused" && event.state !== undefined) {
          const { state, ...rest } = event
          return { ...withCounts(content(rest)), state } as HookEvent
        }
        return withCounts(content(event as unknown as Record<string, unknown>)) as unknown as HookEvent
      } finally {
        counts = undefined
      }
    },
    delta: (d) => {
      if (d._tag === "StreamStarted") return [d]
      if (d._tag === "StreamChunk") {
        if (d.data instanceof Uint8Array) return policy.metadataOnly ? [{ ...d, data: null }] : [d]
        if (policy.metadataOnly) return [{ ...d, data: null }]
        const saved = counts
        counts = undefined
        const data = scrubValue(d.data)
        counts = saved
        return [data === d.data ? d : { ...d, data: data as typeof d.data }]
      }
      if (policy.metadataOnly) return []
      // Partial JSON cannot be read by key or path: with such rules, argument deltas stay with the caller.
      if (d._tag === "ToolArgumentsDelta" && structuredRules) return []
      if (!active) return [d]
      const key = keyOf(d)
      const entry = streams.get(key) ?? { raw: "", sent: 0, last: d }
      entry.raw += d.delta
      entry.last = d
      streams.set(key, entry)
      const out = scrubStream(entry.raw)
      const end = Math.max(entry.sent, out.length - holdBack)
      if (end <= entry.sent) return []
      const released = out.slice(entry.sent, end)
      entry.sent = end
      return [{ ...d, delta: released }]
    },
    flush: (correlationId) => {
      const out: Array<StreamDelta> = []
      for (const [key, entry] of streams) {
        if (!key.startsWith(`${correlationId}\u0000`)) continue
        streams.delete(key)
        const rest = scrubStream(entry.raw).slice(entry.sent)
        if (rest !== "") out.push({ ...entry.last, delta: rest })
      }
      return out
    }
  }

  function scrubValue(value: unknown): unknown {
    const structured = active ? structure(value, true) : value
    size = 0
    const v = finish(structured, undefined, true)
    return v === DROP ? null : v
  }
}
