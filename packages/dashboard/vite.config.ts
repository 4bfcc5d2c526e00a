/**
 * Builds the single-page app (`ui/`) into `dist/ui/`: relative asset URLs (`base: "./"`, so it works under any
 * mount), content-hashed file names (served with a year of cache), JSX for Preact, no source maps shipped.
 */
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

const here = fileURLToPath(new URL(".", import.meta.url))

export default defineConfig({
  root: `${here}ui`,
  base: "./",
  logLevel: "warn",
  resolve: { conditions: ["@sextant/source"] },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: `${here}dist/ui`,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0
  }
})
