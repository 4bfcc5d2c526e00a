/**
 * @sextant/http-router: the RunStore over HTTP, mountable in node:http, Express, Fastify, Hono and any
 * Fetch-based host.
 */
/** The read API definition (for OpenAPI and typed clients) and the principal. */
export * from "./Api.js"
/** HTTP errors. */
export * from "./Errors.js"
/** The router and its handlers. */
export * from "./ReadRouter.js"
