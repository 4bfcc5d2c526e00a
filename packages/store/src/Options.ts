/**
 * The RunStore's arguments as Schemas. Every method decodes its arguments with these before any SQL is built,
 * so a bad value is an `InvalidQuery` whose `field` is the path of the value (`limit`, `metadata.team`,
 * `status[1]`, `scope.tenantId`) and whose message says what is accepted. The read router builds its
 * parameter schemas from the same declarations, so each range and each text rule is declared once and both
 * dialects see only values they can take.
 *
 * Text rules (every string that reaches SQL): no NUL (U+0000: Postgres rejects it, SQLite cuts the string at
 * it, so `search` would match every run) and no lone surrogate (not encodable as UTF-8: each driver replaces
 * it differently). Integers that are compared with `INTEGER` columns stay within 0..2147483647 (Postgres
 * `INTEGER`), and instants within 0001-01-01..9999-12-31 (Postgres `TIMESTAMPTZ` has no year 0).
 */
import { HookEvent } from "@sextant/runtime"
import { ParseResult, Schema } from "effect"
import { signalSeverities, SignalSeverity, SignalType, signalTypes, UsageGroupBy } from "./Records.js"

const shown = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** A value's path as a caller writes it: `limit`, `metadata.team`, `status[1]`, `metadata["a b"]`. */
export const fieldPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((out, key, i) => {
    if (typeof key === "number") return `${out}[${key}]`
    const name = String(key)
    if (i === 0) return name
    return IDENTIFIER.test(name) ? `${out}.${name}` : `${out}[${JSON.stringify(name)}]`
  }, "")

/** A message annotation that replaces every inner message with `text, got <value>`. */
const says = (text: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({ message: `${text}, got ${shown(issue.actual)}`, override: true })
})

/** A message annotation used only when the value itself has the wrong type (inner messages are kept). */
const expects = (text: string) => ({
  message: (issue: ParseResult.ParseIssue) => ({ message: `${text}, got ${shown(issue.actual)}`, override: false })
})

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Why a string cannot be sent to both dialects alike, or undefined when it can. */
export const textProblem = (text: string): string | undefined => {
  const nul = text.indexOf("\u0000")
  if (nul >= 0) return `must not contain a NUL character (U+0000, at index ${nul})`
  const lone = LONE_SURROGATE.exec(text)
  if (lone !== null) return `must be well-formed Unicode (a lone surrogate at index ${lone.index})`
  return undefined
}

const safeText = "no NUL (U+0000), no lone surrogate"

/** A string both dialects store and compare alike: no NUL, no lone surrogate. */
export const SafeString = Schema.String.pipe(
  Schema.filter((s) => textProblem(s) ?? true, { jsonSchema: {}, description: `a string (${safeText})` })
).annotations({ identifier: "SafeString" })

/** Most characters a text argument may have. */
export const maxTextLength = 1000

/** A non-empty text argument of at most 1000 characters (an agent name, a tenant id, a search text). */
export const Text = Schema.String.pipe(
  Schema.filter(
    (s) =>
      textProblem(s) ??
        (s.length > 0 && s.length <= maxTextLength ||
          `must be a non-empty string of at most ${maxTextLength} characters`),
    {
      jsonSchema: { minLength: 1, maxLength: maxTextLength },
      description: `1..${maxTextLength} characters, ${safeText}`
    }
  )
).annotations({ identifier: "Text" })

/** A run id argument (any safe string; an id no run has is `RunNotFound`). */
export const RunId = SafeString.annotations({ identifier: "RunId" })

/** An integer in `min..max`, documented as such in JSON Schema and OpenAPI. */
const integerIn = (min: number, max: number) =>
  Schema.Number.pipe(Schema.int(), Schema.between(min, max)).annotations({
    ...says(`must be an integer from ${min} to ${max}`),
    jsonSchema: { type: "integer", minimum: min, maximum: max }
  })

/** The largest value of a Postgres `INTEGER` column (sequence indexes and iterations). */
export const maxIndex = 2_147_483_647

/** A page size: 1..1000. */
export const PageLimit = integerIn(1, 1000).annotations({ identifier: "PageLimit" })

/** Default page sizes of `listRuns` and `getEvents`. */
export const defaultLimits = { runs: 50, events: 100 } as const

/** A sequence index (`after`): 0..2147483647. */
export const SequenceIndex = integerIn(0, maxIndex).annotations({ identifier: "SequenceIndex" })

/** An iteration number: 0..2147483647. */
export const Iteration = integerIn(0, maxIndex).annotations({ identifier: "Iteration" })

/** How often an idle tail polls, in ms: 1..60000. */
export const PollInterval = integerIn(1, 60_000).annotations({ identifier: "PollInterval" })

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/
const MIN_INSTANT = Date.parse("0001-01-01T00:00:00.000Z")
const MAX_INSTANT = Date.parse("9999-12-31T23:59:59.999Z")

const instantProblem = (ms: number): string | undefined =>
  Number.isNaN(ms)
    ? "is not a valid datetime"
    : ms < MIN_INSTANT || ms > MAX_INSTANT
    ? "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (in UTC)"
    : undefined

/** An ISO-8601 datetime string with an offset (`Z` or `±hh:mm`), between years 1 and 9999 in UTC. */
export const InstantString = Schema.String.pipe(
  Schema.filter((s) =>
    RFC3339.test(s)
      ? instantProblem(Date.parse(s)) ?? true
      : `must be an ISO-8601 datetime with an offset (e.g. 2026-01-31T12:00:00Z), got ${shown(s)}`, {
    jsonSchema: { format: "date-time" },
    description: "ISO-8601 with an offset (Z or ±hh:mm), e.g. 2026-01-31T12:00:00Z"
  })
).annotations({ identifier: "InstantString" })

const decodeInstantString = ParseResult.decodeUnknown(InstantString)

/** A datetime argument: a `Date` or an `InstantString`, decoded to its ISO UTC string (`toISOString`). */
export const Instant = Schema.declare([], {
  decode: () => (input, _, ast) => {
    if (typeof input === "string") {
      return ParseResult.map(decodeInstantString(input), (s) => new Date(s).toISOString())
    }
    if (input instanceof Date) {
      const problem = instantProblem(input.getTime())
      return problem === undefined
        ? ParseResult.succeed(input.toISOString())
        : ParseResult.fail(new ParseResult.Type(ast, input, problem))
    }
    return ParseResult.fail(
      new ParseResult.Type(ast, input, `must be a Date or an ISO-8601 datetime string, got ${shown(input)}`)
    )
  },
  encode: () => (value) => ParseResult.succeed(value)
}, { identifier: "Instant", jsonSchema: { type: "string", format: "date-time" } }) as Schema.Schema<
  string,
  Date | string
>

/** A run status. */
export const Status = HookEvent.RunStatus.annotations(
  says(`must be one of ${HookEvent.RunStatus.literals.join(", ")}`)
)

const decodeStatus = ParseResult.decodeUnknown(Status)
const decodeStatuses = ParseResult.decodeUnknown(Schema.Array(Status))

/** One status or a list of them, decoded to a list without repeats (an empty list matches nothing). */
export const StatusFilter = Schema.declare([], {
  decode: () => (input, _, ast) =>
    typeof input === "string"
      ? ParseResult.map(decodeStatus(input), (s) => [s])
      : Array.isArray(input)
      ? ParseResult.map(decodeStatuses(input), (list) => [...new Set(list)])
      : ParseResult.fail(
        new ParseResult.Type(ast, input, `must be a status or a list of statuses, got ${shown(input)}`)
      ),
  encode: () => (value) => ParseResult.succeed(value)
}, {
  identifier: "StatusFilter",
  jsonSchema: {
    anyOf: [
      { type: "string", enum: HookEvent.RunStatus.literals },
      { type: "array", items: { type: "string", enum: HookEvent.RunStatus.literals } }
    ]
  }
}) as unknown as Schema.Schema<
  ReadonlyArray<HookEvent.RunStatus>,
  HookEvent.RunStatus | ReadonlyArray<HookEvent.RunStatus>
>

/** Most keys a metadata filter may have. */
export const maxMetadataKeys = 50

const METADATA_KEY = /^[A-Za-z0-9_.-]{1,128}$/

const metadataProblem = (value: unknown): string | undefined => {
  if (typeof value === "string") {
    return textProblem(value) ??
      (value.length > maxTextLength ? `must be at most ${maxTextLength} characters` : undefined)
  }
  const scalar = value === null || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))
  return scalar ? undefined : `must be a string, a finite number, a boolean or null, got ${shown(value)}`
}

/** A metadata filter's value: a JSON scalar. */
export type MetadataValue = string | number | boolean | null

/**
 * A metadata exact-match filter: top-level keys matching `[A-Za-z0-9_.-]{1,128}` (at most 50), each to a JSON
 * scalar (a safe string of at most 1000 characters, a finite number, a boolean or null). Keys are checked, not
 * skipped: a key that does not fit is an error, never a silently wider filter.
 */
export const MetadataFilter = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations(
  expects("must be an object of top-level keys to exact values")
).pipe(
  Schema.filter((record) => {
    const keys = Object.keys(record)
    if (keys.length > maxMetadataKeys) return `must have at most ${maxMetadataKeys} keys, got ${keys.length}`
    // A bad key is a problem of the object (its path is `metadata`); a bad value is at `metadata.<key>`.
    const badKey = keys.find((key) => !METADATA_KEY.test(key))
    if (badKey !== undefined) return `key ${shown(badKey)} must match [A-Za-z0-9_.-]{1,128}`
    for (const key of keys) {
      const problem = metadataProblem(record[key])
      if (problem !== undefined) return { path: [key], message: problem }
    }
    return true
  }, { jsonSchema: {} })
).annotations({ identifier: "MetadataFilter" }) as unknown as Schema.Schema<
  { readonly [key: string]: MetadataValue },
  { readonly [key: string]: MetadataValue }
>

/** Where a page of runs ends: the last item's `(createdAt, id)`. */
export interface Cursor {
  readonly createdAt: string
  readonly id: string
}

/** The text form of a cursor: an opaque base64url token of at most 400 characters. */
export const CursorToken = Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,400}$/)).annotations({
  identifier: "CursorToken",
  ...says("is not a cursor returned by listRuns")
})

const CursorJson = Schema.parseJson(Schema.Tuple(Schema.Literal("r1"), InstantString, RunId))

/** A `nextCursor` token, decoded to its position; a token not made by `listRuns` is refused. */
export const Cursor = Schema.transformOrFail(
  CursorToken,
  Schema.Struct({ createdAt: Schema.String, id: Schema.String }),
  {
    strict: true,
    decode: (token, _, ast) =>
      ParseResult.decodeUnknown(CursorJson)(Buffer.from(token, "base64url").toString("utf8")).pipe(
        ParseResult.map(([, createdAt, id]) => ({ createdAt: new Date(createdAt).toISOString(), id })),
        ParseResult.mapError(() => new ParseResult.Type(ast, token))
      ),
    encode: (cursor) => ParseResult.succeed(encodeCursor(cursor))
  }
).annotations({ identifier: "Cursor", ...says("is not a cursor returned by listRuns") })

/** Encodes a cursor as the opaque token `listRuns` returns. */
export const encodeCursor = (cursor: Cursor): string =>
  Buffer.from(JSON.stringify(["r1", cursor.createdAt, cursor.id])).toString("base64url")

/** A dimension `usage` can group by. */
export const UsageDimension = UsageGroupBy.annotations(says(`must be one of ${UsageGroupBy.literals.join(", ")}`))

/** A list of distinct usage dimensions. */
export const GroupBy = Schema.Array(UsageDimension).annotations(
  expects(`must be a list of ${UsageGroupBy.literals.join(", ")}`)
).pipe(
  Schema.filter((list) => new Set(list).size === list.length || "lists a dimension twice", { jsonSchema: {} })
).annotations({ identifier: "GroupBy" })

/** A tenant restriction: only runs (and usage) of this tenant are visible. */
export const Scope = Schema.Struct({ tenantId: Text })

const optional = Schema.optional

/** Options every method accepts. */
export const CallOptions = Schema.Struct({
  /** Restricts this call to a tenant (in addition to the store's own scope, if any). */
  scope: optional(Scope)
})

/** Filters of `listRuns` and `exportRuns`; all are combined with AND. */
export const RunFilter = Schema.Struct({
  ...CallOptions.fields,
  /** One status or several (an empty list matches nothing). */
  status: optional(StatusFilter),
  /** Exact agent name. */
  agentName: optional(Text),
  /** Exact tenant id. */
  tenantId: optional(Text),
  /** Children of this run. */
  parentRunId: optional(Text),
  /** Runs of this conversation (`RunOptions.threadId`). */
  threadId: optional(Text),
  /** Runs created at or after this instant. */
  createdAfter: optional(Instant),
  /** Runs created strictly before this instant. */
  createdBefore: optional(Instant),
  /** Exact match on top-level metadata keys. */
  metadata: optional(MetadataFilter),
  /** Substring of the agent name or the run id, case-insensitive for ASCII letters; `%` and `_` are literal. */
  search: optional(Text)
})

/**
 * Whether `listRuns` counts the matches: `true` (the default) returns the exact `total`, `false` skips the
 * count, `"estimate"` returns `estimatedTotal` at a cost bounded whatever the table's size (exact up to 1,000
 * matches; beyond, the Postgres planner's estimate, or on SQLite a sample of the newest runs; see the README).
 */
export const TotalMode = Schema.Union(Schema.Boolean, Schema.Literal("estimate")).annotations({
  identifier: "TotalMode",
  ...says("must be true, false or \"estimate\"")
})
/** Whether and how `listRuns` counts the matches. */
export type TotalMode = typeof TotalMode.Type

/** Filters and page of `listRuns`. */
export const ListRunsOptions = Schema.Struct({
  ...RunFilter.fields,
  /** A `nextCursor` from the previous page. */
  cursor: optional(Cursor),
  /** 1..1000, default 50. */
  limit: Schema.optionalWith(PageLimit, { default: () => defaultLimits.runs }),
  /** `true` (default): the exact `total`; `false`: no count; `"estimate"`: `estimatedTotal`, at a bounded cost. */
  includeTotal: Schema.optionalWith(TotalMode, { default: () => true })
})

/** Filters and page of `listThreads` (newest activity first). */
export const ListThreadsOptions = Schema.Struct({
  ...CallOptions.fields,
  /** Exact tenant id. */
  tenantId: optional(Text),
  /** A `nextCursor` from the previous page. */
  cursor: optional(Cursor),
  /** 1..1000, default 50. */
  limit: Schema.optionalWith(PageLimit, { default: () => defaultLimits.runs })
})

/** Options of `getEvents`. */
export const GetEventsOptions = Schema.Struct({
  ...CallOptions.fields,
  /** Events with a sequence index strictly greater than this. */
  after: optional(SequenceIndex),
  /** 1..1000, default 100. */
  limit: Schema.optionalWith(PageLimit, { default: () => defaultLimits.events })
})

/** Options of `streamEvents`. */
export const StreamEventsOptions = Schema.Struct({
  ...CallOptions.fields,
  /** Start after this sequence index (default: from the first event). */
  after: optional(SequenceIndex),
  /** Keep tailing after a terminal event (default false: the stream ends after it). */
  follow: optional(Schema.Boolean.annotations(says("must be true or false"))),
  /** How often an idle tail polls, in ms (1..60000, default 250). */
  pollIntervalMs: Schema.optionalWith(PollInterval, { default: () => 250 })
})

/** Options of `getTraces`, `getToolCalls` and `getLlmCalls`. */
export const IterationOptions = Schema.Struct({
  ...CallOptions.fields,
  /** Only rows of this iteration. */
  iteration: optional(Iteration)
})

/** Options of `getStreamChunks`: chunks `after` a sequence, `limit` 1..1000 (default 1000). */
export const StreamChunksOptions = Schema.Struct({
  ...CallOptions.fields,
  /** Chunks with a sequence strictly greater than this. */
  after: optional(SequenceIndex),
  /** 1..1000, default 1000. */
  limit: Schema.optionalWith(PageLimit, { default: () => 1000 })
})

/** Options of `usage`. */
export const UsageOptions = Schema.Struct({
  ...CallOptions.fields,
  /** Dimensions to group by (none: one row of grand totals). */
  groupBy: Schema.optionalWith(GroupBy, { default: () => [] }),
  /** Model calls recorded at or after this instant. */
  from: optional(Instant),
  /** Model calls recorded strictly before this instant. */
  to: optional(Instant),
  /** Only this tenant's model calls. */
  tenantId: optional(Text)
})

/** A signal type filter: one of the catalogue's types (`Records.signalTypes`). */
export const SignalTypeFilter = SignalType.annotations(says(`must be one of ${signalTypes.join(", ")}`))

/** A severity filter: `LOW`, `MEDIUM`, `HIGH` or `CRITICAL`. */
export const SeverityFilter = SignalSeverity.annotations(says(`must be one of ${signalSeverities.join(", ")}`))

/** Which signals a read returns: `exclude` (default) only live ones, `include` live and shadow, `only` shadow. */
export const ShadowMode = Schema.Literal("exclude", "include", "only").annotations({
  identifier: "ShadowMode",
  ...says("must be exclude, include or only")
})
/** Which signals a read returns. */
export type ShadowMode = typeof ShadowMode.Type

/** Options of `getRunSignals`. */
export const RunSignalsOptions = Schema.Struct({
  ...CallOptions.fields,
  /** `exclude` (default): live signals only; `include`: shadow ones too; `only`: shadow ones only. */
  shadow: Schema.optionalWith(ShadowMode, { default: () => "exclude" as const })
})

/** Filters and page of `listSignals` (newest detection first); all are combined with AND. */
export const ListSignalsOptions = Schema.Struct({
  ...RunSignalsOptions.fields,
  /** Exact agent name. */
  agentName: optional(Text),
  /** One signal type. */
  type: optional(SignalTypeFilter),
  /** One severity. */
  severity: optional(SeverityFilter),
  /** Exact tenant id. */
  tenantId: optional(Text),
  /** Signals detected at or after this instant. */
  since: optional(Instant),
  /** Signals detected strictly before this instant. */
  until: optional(Instant),
  /** A `nextCursor` from the previous page. */
  cursor: optional(Cursor),
  /** 1..1000, default 50. */
  limit: Schema.optionalWith(PageLimit, { default: () => defaultLimits.runs })
})

/** Options of a store. */
export const RunStoreOptions = Schema.Struct({
  /** Restricts every query of this store to one tenant. */
  scope: optional(Scope),
  /**
   * Postgres: run reads as named (prepared) statements, planned once per connection (default true). Set false
   * behind a connection pooler in transaction mode that does not support them (PgBouncer before 1.21).
   */
  preparedStatements: optional(Schema.Boolean)
})
