/**
 * The read API as an `HttpApi`: every route with its typed path, query and header parameters, success
 * schemas and errors. `OpenApi.fromApi(ReadApi)` documents it (a router serves its own document, with the
 * security scheme of its options, at `/openapi.json`), and `HttpApiClient.make(ReadApi)` derives a typed client.
 *
 * Every parameter schema is built from the store's `Options`: the ranges, the text rules (no NUL, no lone
 * surrogate) and the messages are declared once, and a value the store would refuse is a 400 here already.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, OpenApi } from "@effect/platform"
import { Options, Records, RunNotFound, ThreadNotFound, Views } from "@sextant/store"
import { Context, JSONSchema, Option, ParseResult, Schema } from "effect"
import * as AST from "effect/SchemaAST"
import { ContentEncrypted, Forbidden, InternalError, InvalidParameter, RouteNotFound, Unauthorized } from "./Errors.js"
import { defaultSecurity, fixDocument } from "./internal/openapi.js"

/** Who is reading: what the host's `authorize` returned. A `tenantId` restricts every route to that tenant. */
export interface Principal {
  /** Who the caller is (for the host's own logs). */
  readonly subject?: string | undefined
  /** When set, every route only sees this tenant's runs and usage; other runs are 404. */
  readonly tenantId?: string | undefined
}

/** The principal of the current request. */
export class CurrentPrincipal
  extends Context.Tag("@sextant/http-router/CurrentPrincipal")<CurrentPrincipal, Principal>()
{}

/** Runs the host's `authorize` on every route except `/health` and `/openapi.json`. */
export class Authorization extends HttpApiMiddleware.Tag<Authorization>()("@sextant/http-router/Authorization", {
  failure: Schema.Union(Unauthorized, Forbidden),
  provides: CurrentPrincipal
}) {}

const DecimalString = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (s, _, ast) =>
    /^-?\d{1,16}$/.test(s) ? ParseResult.succeed(Number(s)) : ParseResult.fail(new ParseResult.Type(ast, s)),
  encode: (n) => ParseResult.succeed(String(n))
})

/** The JSON Schema of a schema, inlined (no `$defs`: a parameter's schema stands alone in the document). */
const jsonSchemaOf = (schema: Schema.Schema.Any): Record<string, unknown> => {
  const { $schema: _, $defs, $ref, ...rest } = JSONSchema.make(schema) as unknown as {
    $schema?: string
    $defs?: Record<string, Record<string, unknown>>
    $ref?: string
  }
  const named = $ref === undefined ? undefined : $defs?.[$ref.replace("#/$defs/", "")]
  return { ...named, ...rest }
}

/** A parameter schema documented as `jsonSchema` with a description (the schema decodes, the document describes). */
const documented = <A, I>(schema: Schema.Schema<A, I>, description: string, jsonSchema: object) =>
  schema.annotations({ description, jsonSchema: { ...jsonSchema, description } })

/**
 * A query or header integer: decimal digits, then the store's schema (its range and its message). The
 * document shows the integer's range, not the string it travels as.
 */
const integerParam = (schema: Schema.Schema<number>, description: string, fallback?: number) => {
  const message = AST.getMessageAnnotation(schema.ast)
  const decoded = DecimalString.pipe(Schema.compose(schema))
  return documented(
    Option.isSome(message) ? decoded.annotations({ message: message.value }) : decoded,
    description,
    { ...jsonSchemaOf(schema), ...(fallback === undefined ? {} : { default: fallback }) }
  )
}

const limit = (fallback: number) =>
  integerParam(Options.PageLimit, `Page size, 1..1000 (default ${fallback})`, fallback)
const index = (description: string) => integerParam(Options.SequenceIndex, description)
const text = (description: string) => Options.Text.annotations({ description })
const instant = (description: string) =>
  Options.InstantString.annotations({
    description: `${description} (ISO-8601 with an offset, e.g. 2026-01-31T12:00:00Z)`
  })
const optional = Schema.optionalWith
const exact = { exact: true } as const

const Statuses = documented(
  Options.StatusFilter,
  "Run status; repeat the parameter for several",
  jsonSchemaOf(Schema.Union(Options.Status, Schema.Array(Options.Status)))
)

const JsonText = Schema.transformOrFail(Schema.String, Schema.Unknown, {
  strict: true,
  decode: (s, _, ast) =>
    ParseResult.try({
      try: () => JSON.parse(s) as unknown,
      catch: () => new ParseResult.Type(ast, s, "must be a JSON object, e.g. {\"team\":\"red\"}")
    }),
  encode: (value) => ParseResult.succeed(JSON.stringify(value))
})

const Metadata = documented(
  JsonText.pipe(Schema.compose(Options.MetadataFilter)),
  "JSON object: exact match on top-level metadata keys ([A-Za-z0-9_.-], at most 50) to scalar values",
  { type: "string", contentMediaType: "application/json" }
)

const CommaList = Schema.transform(
  Schema.Union(Schema.String, Schema.Array(Schema.String)),
  Schema.Array(Schema.String),
  {
    strict: true,
    decode: (value) =>
      (typeof value === "string" ? [value] : value).flatMap((g) => g.split(",")).map((g) => g.trim()).filter((g) =>
        g !== ""
      ),
    encode: (list) => list.join(",")
  }
)

const GroupBy = documented(
  CommaList.pipe(Schema.compose(Options.GroupBy)),
  "tenant, agent, model and/or day: comma-separated or repeated, each at most once",
  { type: "string", pattern: "^(tenant|agent|model|day)(,(tenant|agent|model|day))*$" }
)

/** Query parameters shared by `/runs` and `/export`. */
const filterParams = {
  status: optional(Statuses, exact),
  agentName: optional(text("Agent name"), exact),
  tenantId: optional(text("Tenant id"), exact),
  parentRunId: optional(text("Parent run id"), exact),
  threadId: optional(text("Thread (conversation) id"), exact),
  createdAfter: optional(instant("Runs created at or after"), exact),
  createdBefore: optional(instant("Runs created before"), exact),
  metadata: optional(Metadata, exact),
  search: optional(
    text("Substring of the agent name or run id (ASCII letters case-insensitive; % and _ literal)"),
    exact
  )
}

const totalModes = { true: true, false: false, estimate: "estimate" } as const

const IncludeTotal = documented(
  Schema.transformOrFail(Schema.String, Options.TotalMode, {
    strict: true,
    decode: (s, _, ast) =>
      Object.hasOwn(totalModes, s)
        ? ParseResult.succeed(totalModes[s as keyof typeof totalModes])
        : ParseResult.fail(new ParseResult.Type(ast, s, `must be true, false or "estimate", got ${JSON.stringify(s)}`)),
    encode: (mode) => ParseResult.succeed(String(mode))
  }),
  "Count the matches: true (default) returns the exact `total`; false skips the count; estimate returns " +
    "`estimatedTotal` at a bounded cost (exact up to 1,000 matches; beyond, on Postgres the planner's row " +
    "estimate from EXPLAIN, i.e. pg_class.reltuples for an unfiltered list; on SQLite an exact b-tree count " +
    "without a filter, else the share of matches among the newest 10,000 runs scaled to the table)",
  { type: "string", enum: ["true", "false", "estimate"], default: "true" }
)

/** Query parameters of `GET /runs`. */
export const RunsParams = Schema.Struct({
  ...filterParams,
  cursor: optional(Options.CursorToken.annotations({ description: "nextCursor of the previous page" }), exact),
  limit: optional(limit(Options.defaultLimits.runs), exact),
  includeTotal: optional(IncludeTotal, exact)
})
/** Query parameters of `GET /export`. */
export const ExportParams = Schema.Struct(filterParams)

const RunId = HttpApiSchema.param("runId", Options.RunId.annotations({ description: "The run id" }))
const StreamId = HttpApiSchema.param(
  "streamId",
  Options.RunId.annotations({ description: "The stream id (the call's id, as `getStreams` lists it)" })
)
const ThreadId = HttpApiSchema.param("threadId", Options.RunId.annotations({ description: "The thread id" }))
const Iteration = Schema.Struct({
  iteration: optional(integerParam(Options.Iteration, "Only rows of this iteration"), exact)
})

const Shadow = Options.ShadowMode.annotations({
  description: "exclude (default): live signals only; include: shadow signals too; only: shadow signals only"
})

/** Query parameters of `GET /signals`. */
export const SignalsParams = Schema.Struct({
  agentName: optional(text("Agent name"), exact),
  type: optional(
    Options.SignalTypeFilter.annotations({ description: "Signal type (one of the detectors' catalogue)" }),
    exact
  ),
  severity: optional(Options.SeverityFilter.annotations({ description: "Severity" }), exact),
  tenantId: optional(text("Tenant id"), exact),
  since: optional(instant("Signals detected at or after"), exact),
  until: optional(instant("Signals detected before"), exact),
  shadow: optional(Shadow, exact),
  cursor: optional(Options.CursorToken.annotations({ description: "nextCursor of the previous page" }), exact),
  limit: optional(limit(Options.defaultLimits.runs), exact)
})

const NdjsonBody = Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "application/x-ndjson" }))
const SseBody = Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" }))

/** The routes that need no authorization. */
export class MetaGroup extends HttpApiGroup.make("meta")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.Struct({ status: Schema.Literal("ok") })))
  .add(
    HttpApiEndpoint.get("openapi", "/openapi.json").addSuccess(
      Schema.Unknown.annotations({ description: "OpenAPI 3.1" })
    )
  )
{}

/** The read routes, each behind `Authorization`. */
export class RunsGroup extends HttpApiGroup.make("runs")
  .add(HttpApiEndpoint.get("listRuns", "/runs").setUrlParams(RunsParams).addSuccess(Records.RunPage))
  .add(
    HttpApiEndpoint.get("getRun")`/runs/${RunId}`.addSuccess(Records.RunDetail).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getEvents")`/runs/${RunId}/events`
      .setUrlParams(
        Schema.Struct({
          after: optional(index("Events after this sequence index"), exact),
          limit: optional(limit(Options.defaultLimits.events), exact)
        })
      )
      .addSuccess(Records.EventPage)
      .addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("streamEvents")`/runs/${RunId}/events/stream`
      .setUrlParams(Schema.Struct({
        after: optional(index("Events after this sequence index (the Last-Event-ID header wins)"), exact),
        follow: optional(
          Schema.BooleanFromString.annotations({
            message: () => ({ message: "must be true or false", override: true }),
            description: "Keep streaming after the terminal event"
          }),
          exact
        )
      }))
      .setHeaders(Schema.Struct({
        "last-event-id": optional(index("Resume after this sequence index"), exact)
      }))
      .addSuccess(SseBody)
      .addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getTraces")`/runs/${RunId}/traces`.setUrlParams(Iteration)
      .addSuccess(Records.TraceList).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getToolCalls")`/runs/${RunId}/tool-calls`.setUrlParams(Iteration)
      .addSuccess(Records.ToolCallList).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getLlmCalls")`/runs/${RunId}/llm-calls`.setUrlParams(Iteration)
      .addSuccess(Records.LlmCallList).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getPauses")`/runs/${RunId}/pauses`
      .addSuccess(Records.PauseList).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getStreams")`/runs/${RunId}/streams`.setUrlParams(Iteration)
      .addSuccess(Records.StreamList).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getStreamChunks")`/runs/${RunId}/streams/${StreamId}/chunks`
      .setUrlParams(
        Schema.Struct({
          after: optional(index("Chunks after this sequence"), exact),
          limit: optional(limit(1000), exact)
        })
      )
      .addSuccess(Records.StreamChunkList).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getRunTree")`/runs/${RunId}/tree`.addSuccess(Records.RunTree).addError(RunNotFound, {
      status: 404
    })
  )
  .add(
    HttpApiEndpoint.get("getRunSignals")`/runs/${RunId}/signals`
      .setUrlParams(Schema.Struct({ shadow: optional(Shadow, exact) }))
      .addSuccess(Records.SignalList).addError(RunNotFound, { status: 404 })
  )
  .add(HttpApiEndpoint.get("listSignals", "/signals").setUrlParams(SignalsParams).addSuccess(Records.SignalPage))
  .add(
    HttpApiEndpoint.get("listThreads", "/threads")
      .setUrlParams(Schema.Struct({
        tenantId: optional(text("Tenant id"), exact),
        cursor: optional(Options.CursorToken.annotations({ description: "nextCursor of the previous page" }), exact),
        limit: optional(limit(Options.defaultLimits.runs), exact)
      }))
      .addSuccess(Records.ThreadPage)
  )
  .add(
    HttpApiEndpoint.get("getThread")`/threads/${ThreadId}`.addSuccess(Records.ThreadDetail).addError(
      ThreadNotFound,
      { status: 404 }
    )
  )
  .add(
    HttpApiEndpoint.get("usage", "/usage")
      .setUrlParams(Schema.Struct({
        groupBy: optional(GroupBy, exact),
        from: optional(instant("Model calls at or after"), exact),
        to: optional(instant("Model calls before"), exact),
        tenantId: optional(text("Tenant id"), exact)
      }))
      .addSuccess(Records.UsageList)
  )
  .add(HttpApiEndpoint.get("exportRuns", "/export").setUrlParams(ExportParams).addSuccess(NdjsonBody))
  .middleware(Authorization)
{}

/**
 * Views for a UI (the dashboard's own routes, public like the rest): runs as table rows, the waiting runs and a
 * run's typed timeline.
 */
export class ViewsGroup extends HttpApiGroup.make("views")
  .add(HttpApiEndpoint.get("listRunRows", "/run-rows").setUrlParams(RunsParams).addSuccess(Views.RunRowPage))
  .add(
    HttpApiEndpoint.get("listWaiting", "/waiting")
      .setUrlParams(Schema.Struct({
        agentName: optional(text("Agent name"), exact),
        tenantId: optional(text("Tenant id"), exact),
        limit: optional(limit(Options.defaultLimits.runs), exact)
      }))
      .addSuccess(Views.WaitingList)
  )
  .add(
    HttpApiEndpoint.get("getTimeline")`/runs/${RunId}/timeline`.addSuccess(Views.Timeline).addError(RunNotFound, {
      status: 404
    })
  )
  .middleware(Authorization)
{}

/** The whole read API. Its OpenAPI document lists the error bodies the router sends and an HTTP bearer scheme. */
export class ReadApi extends HttpApi.make("sextant-read")
  .add(MetaGroup)
  .add(RunsGroup)
  .add(ViewsGroup)
  .addError(InvalidParameter)
  .addError(RouteNotFound)
  .addError(InternalError)
  .addError(ContentEncrypted)
  .annotate(OpenApi.Title, "Sextant read API")
  .annotate(
    OpenApi.Description,
    "Recorded agent runs: lists, events (paged and SSE), calls, pauses, trees, failure signals, usage, export. Every error is a " +
      "JSON body with a `_tag` and a `message`; a path no route matches is a 404 `RouteNotFound`."
  )
  .annotate(OpenApi.Transform, (spec) => fixDocument(spec as OpenApi.OpenAPISpec, defaultSecurity))
{}
