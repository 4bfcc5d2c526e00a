/**
 * Builds the app into `dist/ui/` before the dashboard's tests when it is missing or older than its sources,
 * once for all test files (they serve it concurrently, so none may rebuild it while another reads it).
 */
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))

const newest = (dir: string): number =>
  readdirSync(dir).reduce((latest, name) => {
    const path = join(dir, name)
    const stat = statSync(path)
    return Math.max(latest, stat.isDirectory() ? newest(path) : stat.mtimeMs)
  }, 0)

export default async function setup() {
  const index = join(root, "dist/ui/index.html")
  const sources = Math.max(newest(join(root, "ui")), statSync(join(root, "vite.config.ts")).mtimeMs)
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return
  const { build } = await import("vite")
  await build({ configFile: join(root, "vite.config.ts") })
}
