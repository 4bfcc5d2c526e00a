/**
 * The built single-page app (`dist/ui/`, made by `vite build`), read once into memory: each file with its
 * content type, a strong ETag, a gzip variant for text, and its cache policy (a year, immutable, for the
 * content-hashed files under `assets/`; revalidate-always for the rest).
 */
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { extname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

/** One file of the app. */
export interface Asset {
  readonly body: Uint8Array<ArrayBuffer>
  readonly gzip: Uint8Array<ArrayBuffer> | undefined
  readonly type: string
  readonly etag: string
  readonly immutable: boolean
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2"
}

const COMPRESSIBLE = /^(text\/|application\/json|image\/svg)/
// Vite names every emitted file `<name>-<8+ char hash>.<ext>` under `assets/`.
const HASHED = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/

/** A strong ETag of some bytes. */
export const etagOf = (bytes: Uint8Array | string): string =>
  `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"`

/** The folder of the built app in this package (`dist/ui/`, beside `src/` and `dist/` alike). */
export const defaultUiDir = (): string => fileURLToPath(new URL("../../dist/ui/", import.meta.url))

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })

/** Why the app cannot be served from `dir`, or undefined when it can. */
export const missing = (dir: string): string | undefined =>
  existsSync(join(dir, "index.html"))
    ? undefined
    : `the dashboard's built UI is missing (no ${
      join(dir, "index.html")
    }): run \`npm run build:ui -w @sextant/dashboard\``

/** Reads every file of the app, keyed by its path relative to `dir` (`index.html`, `assets/index-abc.js`). */
export const load = (dir: string): ReadonlyMap<string, Asset> => {
  const assets = new Map<string, Asset>()
  for (const path of walk(dir)) {
    const name = relative(dir, path).split(sep).join("/")
    const body = new Uint8Array(readFileSync(path))
    const type = TYPES[extname(name)] ?? "application/octet-stream"
    const gzip = COMPRESSIBLE.test(type) && body.length > 1024
      ? new Uint8Array(gzipSync(body, { level: 9 }))
      : undefined
    assets.set(name, { body, gzip, type, etag: etagOf(body), immutable: HASHED.test(name) })
  }
  return assets
}
