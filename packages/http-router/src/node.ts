/**
 * `@sextant/http-router/node`: the read router as a Node `(req, res)` handler for `node:http`, Express and
 * Fastify. Kept out of the main entry point so a Web host (Hono, Bun, Workers, Deno) imports nothing Node-only.
 */
import type * as Http from "node:http"
import * as internal from "./internal/node.js"
import type { HandlerOptions, ReadRouter } from "./ReadRouter.js"

/** A Node handler (`(req, res)`) for `node:http`, Express (`app.use(prefix, handler)`) and Fastify (`reply.hijack()`). */
export const toNodeHandler: (
  router: ReadRouter,
  options?: HandlerOptions
) => (req: Http.IncomingMessage, res: Http.ServerResponse) => void = internal.toNodeHandler
