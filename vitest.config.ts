import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const root = fileURLToPath(new URL(".", import.meta.url))
const packages = readdirSync(`${root}packages`)

// Workspace packages (and their subpath entry points, e.g. `@sextant/http-router/node`) resolve to their
// TypeScript sources, so tests never need a build first.
const alias = [
  { find: /^@sextant\/([^/]+)\/([^/]+)$/, replacement: `${root}packages/$1/src/$2.ts` },
  { find: /^@sextant\/([^/]+)$/, replacement: `${root}packages/$1/src/index.ts` }
]

export default defineConfig({
  test: {
    projects: packages.map((dir) => ({
      resolve: { alias },
      test: {
        name: dir,
        root: `${root}packages/${dir}`,
        include: ["test/**/*.test.ts"],
        // The dashboard's browser tests serve its built app: build it first when its sources changed.
        ...(dir === "dashboard" ? { globalSetup: ["test/globalSetup.ts"] } : {}),
        testTimeout: 60_000,
        hookTimeout: 60_000
      }
    }))
  }
})
