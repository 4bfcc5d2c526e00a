/**
 * The OpenAPI document as the router really behaves: the 400 body is `InvalidParameter` (the framework's
 * `HttpApiDecodeError` is never sent: the router turns it into `InvalidParameter`), routes without parameters
 * list no 400, the unauthenticated routes list no 401/403, and the authorized routes name the security scheme
 * the host's `authorize` checks (HTTP bearer unless the router's options say otherwise; none without `authorize`).
 */
import type { OpenApi } from "@effect/platform"

/** How the document describes the credentials `authorize` checks. */
export interface Security {
  /** The scheme's key in `components.securitySchemes`. */
  readonly name: string
  /** The OpenAPI security scheme. */
  readonly scheme: OpenApi.OpenAPISecurityScheme
}

/** The scheme of a router whose options name none: HTTP bearer. */
export const defaultSecurity: Security = {
  name: "bearer",
  scheme: {
    type: "http",
    scheme: "bearer",
    description: "Checked by the host's authorize: 401 without valid credentials, 403 when they may not read"
  }
}

const UNSENT_SCHEMAS = ["HttpApiDecodeError", "Issue", "PropertyKey"]
const UNAUTHENTICATED_TAG = "meta"

const invalidParameter = {
  description: "A parameter is malformed or out of range: `parameter` names it, `message` says what is accepted",
  content: { "application/json": { schema: { $ref: "#/components/schemas/InvalidParameter" } } }
}

const runNotFound = {
  description: "No such run, or a run outside the principal's tenant (the two are indistinguishable)",
  content: { "application/json": { schema: { $ref: "#/components/schemas/RunNotFound" } } }
}

const threadNotFound = {
  description: "No run of this thread is visible: it does not exist, or it belongs to another tenant",
  content: { "application/json": { schema: { $ref: "#/components/schemas/ThreadNotFound" } } }
}

/** Whether a response's schema mentions a component. */
const mentions = (response: unknown, name: string) => JSON.stringify(response ?? null).includes(`/schemas/${name}"`)

const fixOperation = (op: OpenApi.OpenAPISpecOperation, security: Security | undefined) => {
  const open = op.tags.includes(UNAUTHENTICATED_TAG)
  const responses = op.responses as Record<string, unknown>
  if (op.parameters.length === 0) delete responses["400"]
  else responses["400"] = invalidParameter
  // A matched route never answers RouteNotFound (the document's description says when that is sent).
  if (mentions(responses["404"], "RunNotFound")) responses["404"] = runNotFound
  else if (mentions(responses["404"], "ThreadNotFound")) responses["404"] = threadNotFound
  else delete responses["404"]
  if (open || security === undefined) {
    delete responses["401"]
    delete responses["403"]
  }
  op.security = open || security === undefined ? [] : [{ [security.name]: [] }]
}

/** The document of `ReadApi` for a security scheme (undefined: the routes are open, no scheme is named). */
export const fixDocument = (spec: OpenApi.OpenAPISpec, security: Security | undefined): OpenApi.OpenAPISpec => {
  const doc = structuredClone(spec)
  for (const path of Object.values(doc.paths)) {
    for (const op of Object.values(path) as Array<OpenApi.OpenAPISpecOperation>) fixOperation(op, security)
  }
  for (const name of UNSENT_SCHEMAS) delete doc.components.schemas[name]
  doc.components.securitySchemes = security === undefined ? {} : { [security.name]: security.scheme }
  doc.security = []
  return doc
}
