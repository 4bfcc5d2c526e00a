// Checks that every workspace package is publishable as a stranger installs it: compiled entry points,
// only dist + README + LICENSE in the tarball, metadata, one version for all packages with internal
// ranges pinned to it, `effect` and `@effect/*` as peers, and no shipped dependency whose `engines`
// excludes the Node versions we support. Run by .ci/run; prints each problem and exits non-zero.
import { readdirSync, readFileSync } from "node:fs"
import semver from "semver"

const root = JSON.parse(readFileSync("package.json", "utf8"))
const lock = JSON.parse(readFileSync("package-lock.json", "utf8"))
const supportedNode = root.engines.node
const problems: Array<string> = []
const names = readdirSync("packages")
const manifests = names.map((dir) => ({ dir, pkg: JSON.parse(readFileSync(`packages/${dir}/package.json`, "utf8")) }))
const version = manifests[0].pkg.version

for (const { dir, pkg } of manifests) {
  const bad = (what: string) => problems.push(`packages/${dir}/package.json: ${what}`)
  if (pkg.private) bad("is private (a published package must not be)")
  if (pkg.version !== version) bad(`version ${pkg.version} differs from ${version} (packages are versioned together)`)
  for (
    const field of ["description", "license", "repository", "homepage", "bugs", "keywords", "engines", "main", "types"]
  ) {
    if (pkg[field] === undefined) bad(`has no "${field}"`)
  }
  if (pkg.sideEffects !== false) bad(`"sideEffects" must be false`)
  const files = pkg.files ?? []
  if (!files.includes("dist") || files.some((f: string) => /^(src|test|bench)/.test(f))) {
    bad(`"files" must ship dist only`)
  }
  const main = pkg.exports?.["."]
  if (main?.types !== "./dist/index.d.ts" || main?.import !== "./dist/index.js") {
    bad(`exports "." needs types/import in dist`)
  }
  if (pkg.exports?.["./package.json"] !== "./package.json") bad(`exports has no "./package.json"`)
  for (const [dep, range] of Object.entries<string>(pkg.dependencies ?? {})) {
    if (dep.startsWith("@sextant/") && range !== version) bad(`dependency ${dep}@${range} is not pinned to ${version}`)
    if (dep === "effect" || dep.startsWith("@effect/")) bad(`${dep} must be a peer dependency, not a dependency`)
  }
  if (pkg.peerDependencies?.effect === undefined) bad(`has no peer dependency on effect`)
}

// Shipped dependencies (not dev-only) must run on every Node version we support. better-sqlite3 (under the
// optional SQLite driver peer) lists each Node major it has been built against, so no open range can be a
// subset of its own: it is checked against the majors it lists instead.
const listsMajors = new Set(["node_modules/better-sqlite3"])
for (
  const [path, entry] of Object.entries<{ dev?: boolean; link?: boolean; engines?: { node?: string } }>(lock.packages)
) {
  if (path === "" || entry.dev || entry.link || entry.engines?.node === undefined) continue
  const range = entry.engines.node
  if (listsMajors.has(path)) {
    if (!semver.satisfies("20.18.1", range)) problems.push(`${path} no longer supports Node 20`)
    continue
  }
  if (!semver.subset(supportedNode, range, { includePrerelease: false })) {
    problems.push(`${path} (shipped) wants node ${range}, but we support ${supportedNode}`)
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p)
  process.exit(1)
}
console.log(`check-packages: ${manifests.length} packages publishable at ${version}`)
