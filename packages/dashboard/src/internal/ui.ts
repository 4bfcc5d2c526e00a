/**
 * The app's routes beside the read API: `/ui` redirects to `/ui/`; `/ui/<file>` serves a file of the build;
 * every other `/ui/...` path is a page of the app (deep links), served as `index.html` with a `<base>` that
 * points back at `/ui/`, so relative asset URLs work under any mount and at any depth. Conditional requests
 * get 304s; text is gzipped when the client accepts it.
 */
import type { ExtraRoute } from "@sextant/http-router"
import { type Asset, etagOf } from "./assets.js"

/** The policy of the page: scripts, styles and calls only from this origin; frames (the API reference) too. */
const CSP = [
  "default-src 'self'",
  // The API reference page (Scalar) runs its inline script and a WebAssembly module inside a same-origin frame,
  // which inherits this policy; no `eval` of strings is allowed.
  "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'"
].join("; ")

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

const gzipAccepted = (request: Request) => /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")

const matches = (request: Request, etag: string) =>
  (request.headers.get("if-none-match") ?? "").split(",").some((t) => t.trim().replace(/^W\//, "") === etag)

const send = (
  request: Request,
  body: Uint8Array<ArrayBuffer>,
  gzip: Uint8Array<ArrayBuffer> | undefined,
  headers: Record<string, string>,
  etag: string
): Response => {
  const useGzip = gzip !== undefined && gzipAccepted(request)
  const tag = useGzip ? `${etag.slice(0, -1)}-gz"` : etag
  const common: Record<string, string> = {
    ...headers,
    etag: tag,
    "x-content-type-options": "nosniff",
    ...(gzip === undefined ? {} : { vary: "accept-encoding" })
  }
  if (matches(request, tag) || matches(request, etag)) return new Response(null, { status: 304, headers: common })
  return new Response(useGzip ? gzip : body, {
    status: 200,
    headers: { ...common, ...(useGzip ? { "content-encoding": "gzip" } : {}) }
  })
}

const cacheOf = (asset: Asset) => (asset.immutable ? "public, max-age=31536000, immutable" : "no-cache")

/** `index.html` for a page `depth` folders below `/ui/`: its `<base>` leads back to `/ui/`. */
const indexFor = (index: Asset, depth: number, cache: Map<number, { body: Uint8Array<ArrayBuffer>; etag: string }>) => {
  const hit = cache.get(depth)
  if (hit !== undefined) return hit
  const base = depth === 0 ? "./" : "../".repeat(depth)
  const html = new TextDecoder().decode(index.body).replace(/<base href="[^"]*"\s*\/?>/, `<base href="${base}" />`)
  const made = { body: new TextEncoder().encode(html), etag: etagOf(html) }
  if (cache.size < 64) cache.set(depth, made)
  return made
}

/** The app's routes over its loaded files. */
export const routes = (assets: () => ReadonlyMap<string, Asset>): ReadonlyArray<ExtraRoute> => {
  const pages = new Map<number, { body: Uint8Array<ArrayBuffer>; etag: string }>()
  const handle = (request: Request): Response => {
    const path = new URL(request.url).pathname
    // Relative, so the browser resolves it against the mount it used (`/api/sextant/ui` → `/api/sextant/ui/`).
    // (The router matches `/ui/` to the `/ui` route too: only the path without the slash is redirected.)
    if (path === "/ui") return new Response(null, { status: 302, headers: { location: "ui/" } })
    const rest = path.startsWith("/ui/") ? path.slice(4) : ""
    let name: string
    try {
      name = decodeURIComponent(rest)
    } catch {
      return json(400, { _tag: "InvalidParameter", parameter: "path", message: "path: is not valid URL encoding" })
    }
    const files = assets()
    const asset = files.get(name)
    if (asset !== undefined && name !== "index.html") {
      return send(
        request,
        asset.body,
        asset.gzip,
        { "content-type": asset.type, "cache-control": cacheOf(asset) },
        asset.etag
      )
    }
    if (name.startsWith("assets/")) {
      return json(404, { _tag: "RouteNotFound", message: `No file ${name} in the dashboard's build.` })
    }
    const index = files.get("index.html")!
    const page = indexFor(index, Math.max(0, name.split("/").length - 1), pages)
    return send(request, page.body, undefined, {
      "content-type": index.type,
      "cache-control": "no-cache",
      "content-security-policy": CSP,
      "referrer-policy": "same-origin"
    }, page.etag)
  }
  return [{ path: "/ui", handle }, { path: "/ui/*", handle }]
}
