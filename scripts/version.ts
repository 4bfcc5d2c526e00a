// The release script's first step: sets one version on every workspace package and pins their internal
// `@sextant/*` ranges to it (the packages are versioned together). Usage:
//   node --import tsx scripts/version.ts 0.3.0 && npm install && npm run check:packages
// Publishing is then `npm run build && npm publish --workspaces` (from a clean tree that passed .ci/run).
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import semver from "semver"

const next = process.argv[2]
if (next === undefined || semver.valid(next) === null) {
  console.error("usage: scripts/version.ts <semver>, e.g. 0.3.0")
  process.exit(2)
}
const pin = (deps: Record<string, string> | undefined) => {
  for (const name of Object.keys(deps ?? {})) if (name.startsWith("@sextant/")) deps![name] = next
}
for (const dir of readdirSync("packages")) {
  const path = `packages/${dir}/package.json`
  const pkg = JSON.parse(readFileSync(path, "utf8"))
  pkg.version = next
  pin(pkg.dependencies)
  pin(pkg.devDependencies)
  pin(pkg.peerDependencies)
  writeFileSync(path, `${JSON.stringify(pkg, null, 2)}\n`)
  console.log(`${pkg.name} ${next}`)
}
