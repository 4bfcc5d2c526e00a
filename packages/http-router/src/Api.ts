/**
 * The read API as an `HttpApi`: every route with its typed path, query and header parameters, success
 * schemas and errors. `OpenApi.fromApi(ReadApi)` (served at `/openapi.json`) documents it, and
 * `HttpApiClient.make(ReadApi)` derives a typed client.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, OpenApi } from "@effect/platform"
import { Records, RunNotFound } from "@sextant/store"
import { Context, Schema } from "effect"
import { Forbidden, InternalError, InvalidParameter, RouteNotFound, Unauthorized } from "./Errors.js"

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

const problem = (message: string) => ({ message: () => ({ message, override: true }) })
const intParam = (min: number, max: number, description: string) =>
  Schema.NumberFromString.pipe(Schema.int(), Schema.between(min, max)).annotations({
    ...problem(
      max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`
    ),
    description
  })
const Limit = intParam(1, 1000, "Page size, 1..1000")
const Index = (description: string) => intParam(0, Number.MAX_SAFE_INTEGER, description)
const Text = (description: string) =>
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(1000)).annotations({
    ...problem("must be a non-empty string of at most 1000 characters"),
    description
  })
const DateTimeParam = (description: string) =>
  Schema.String.annotations({ description: `${description} (ISO-8601 with an offset, e.g. 2026-01-31T12:00:00Z)` })
const Status = Records.RunStatus.annotations(problem(`must be one of ${Records.RunStatus.literals.join(", ")}`))
const optional = Schema.optionalWith
const exact = { exact: true } as const

/** Query parameters shared by `/runs` and `/export`. */
const filterParams = {
  status: optional(Schema.Union(Status, Schema.Array(Status)), exact).annotations({
    description: "Run status; repeat the parameter for several"
  }),
  agentName: optional(Text("Agent name"), exact),
  tenantId: optional(Text("Tenant id"), exact),
  parentRunId: optional(Text("Parent run id"), exact),
  createdAfter: optional(DateTimeParam("Runs created at or after"), exact),
  createdBefore: optional(DateTimeParam("Runs created before"), exact),
  metadata: optional(
    Schema.String.annotations({ description: "JSON object: exact match on top-level metadata keys" }),
    exact
  ),
  search: optional(Text("Case-insensitive substring of the agent name or run id"), exact)
}

/** Query parameters of `GET /runs`. */
export const RunsParams = Schema.Struct({
  ...filterParams,
  cursor: optional(Schema.String.annotations({ description: "nextCursor of the previous page" }), exact),
  limit: optional(Limit, exact)
})
/** Query parameters of `GET /export`. */
export const ExportParams = Schema.Struct(filterParams)

const RunId = HttpApiSchema.param("runId", Schema.String)
const Iteration = Schema.Struct({ iteration: optional(Index("Only rows of this iteration"), exact) })
const items = <S extends Schema.Schema.Any>(item: S, identifier: string) =>
  Schema.Struct({ items: Schema.Array(item) }).annotations({ identifier })

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
          after: optional(Index("Events after this sequence index"), exact),
          limit: optional(Limit, exact)
        })
      )
      .addSuccess(Records.EventPage)
      .addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("streamEvents")`/runs/${RunId}/events/stream`
      .setUrlParams(Schema.Struct({
        after: optional(Index("Events after this sequence index (the Last-Event-ID header wins)"), exact),
        follow: optional(
          Schema.BooleanFromString.annotations({
            ...problem("must be true or false"),
            description: "Keep streaming after the terminal event"
          }),
          exact
        )
      }))
      .setHeaders(Schema.Struct({
        "last-event-id": optional(Index("Resume after this sequence index"), exact)
      }))
      .addSuccess(SseBody)
      .addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getTraces")`/runs/${RunId}/traces`.setUrlParams(Iteration)
      .addSuccess(items(Records.TraceEntry, "TraceList")).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getToolCalls")`/runs/${RunId}/tool-calls`.setUrlParams(Iteration)
      .addSuccess(items(Records.ToolCall, "ToolCallList")).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getLlmCalls")`/runs/${RunId}/llm-calls`.setUrlParams(Iteration)
      .addSuccess(items(Records.LlmCall, "LlmCallList")).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getPauses")`/runs/${RunId}/pauses`
      .addSuccess(items(Records.PausePair, "PauseList")).addError(RunNotFound, { status: 404 })
  )
  .add(
    HttpApiEndpoint.get("getRunTree")`/runs/${RunId}/tree`.addSuccess(Records.RunTree).addError(RunNotFound, {
      status: 404
    })
  )
  .add(
    HttpApiEndpoint.get("usage", "/usage")
      .setUrlParams(Schema.Struct({
        groupBy: optional(
          Schema.Union(Schema.String, Schema.Array(Schema.String)).annotations({
            description: "tenant, agent, model and/or day: comma-separated or repeated"
          }),
          exact
        ),
        from: optional(DateTimeParam("Model calls at or after"), exact),
        to: optional(DateTimeParam("Model calls before"), exact),
        tenantId: optional(Text("Tenant id"), exact)
      }))
      .addSuccess(items(Records.UsageGroup, "UsageList"))
  )
  .add(HttpApiEndpoint.get("exportRuns", "/export").setUrlParams(ExportParams).addSuccess(NdjsonBody))
  .middleware(Authorization)
{}

/** The whole read API. */
export class ReadApi extends HttpApi.make("sextant-read")
  .add(MetaGroup)
  .add(RunsGroup)
  .addError(InvalidParameter)
  .addError(RouteNotFound)
  .addError(InternalError)
  .annotate(OpenApi.Title, "Sextant read API")
  .annotate(
    OpenApi.Description,
    "Recorded agent runs: lists, events (paged and SSE), calls, pauses, trees, usage, export"
  )
{}
