#!/usr/bin/env bash
# The consumer smoke test: build, pack every package, install the tarballs into a fresh project outside this
# repository — once alone, once next to an app that already depends on `effect` — then run a tiny agent on
# SQLite, the read router under Express, and `tsc --noEmit` (strict, NodeNext, skipLibCheck: false).
# The app installs only the SQLite driver (drivers are optional peers): a postgres:// URL must fail with
# DriverNotInstalled naming `pg` and `@effect/sql-pg`, and nothing may pull `pg` in.
# This is what a stranger does after `npm install @sextant/...`; it catches what in-repo tests cannot
# (missing compiled output, wrong exports, duplicated effect copies, undeclared dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/sextant-smoke-XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { echo "smoke: $*"; }

step "build"
npm run build --silent
mkdir -p "$work/tarballs"
for dir in packages/*/; do
  (cd "$dir" && npm pack --silent --pack-destination "$work/tarballs" >/dev/null)
done
tarballs=$(ls "$work"/tarballs/*.tgz)
effect_range=$(node -p 'require("./packages/runtime/package.json").peerDependencies.effect')
# Versions the app pins for its own tools, taken from this repository's lockfile so the run is reproducible.
ver() { node -p "require('./node_modules/$1/package.json').version"; }

consumer() { # name, extra dependencies installed first (the "existing app")
  local name=$1; shift
  local dir="$work/$name"
  mkdir -p "$dir"
  cp scripts/consumer/app.ts scripts/consumer/tsconfig.json "$dir/"
  cat > "$dir/package.json" <<JSON
{ "name": "sextant-consumer-$name", "private": true, "type": "module",
  "allowScripts": { "better-sqlite3": true, "esbuild": true } }
JSON
  cd "$dir"
  if [ "$#" -gt 0 ]; then
    step "$(basename "$dir"): the app's own dependencies first: $*"
    npm install --no-audit --no-fund --loglevel=error "$@" >/dev/null
  fi
  step "$(basename "$dir"): npm install the tarballs, the SQLite driver (no pg), express and the tools"
  # shellcheck disable=SC2086
  npm install --no-audit --no-fund --loglevel=error $tarballs "@effect/sql-sqlite-node@$(cd "$repo" && ver @effect/sql-sqlite-node)" \
    "better-sqlite3@$(cd "$repo" && ver better-sqlite3)" \
    "express@$(cd "$repo" && ver express)" "@types/express@$(cd "$repo" && ver @types/express)" \
    "@types/node@$(cd "$repo" && ver @types/node)" "typescript@$(cd "$repo" && ver typescript)" \
    "tsx@$(cd "$repo" && ver tsx)" >/dev/null
  local copies
  copies=$(node -e '
    const fs = require("node:fs"), path = require("node:path"), found = new Set()
    const walk = (dir) => { for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue
      const p = path.join(dir, e.name)
      if (e.name === "effect" && fs.existsSync(path.join(p, "package.json"))) found.add(require(path.resolve(p, "package.json")).version + " at " + p)
      if (e.name.startsWith("@") || e.name === "node_modules" || fs.existsSync(path.join(p, "node_modules"))) walk(e.name.startsWith("@") || e.name === "node_modules" ? p : path.join(p, "node_modules"))
    } }
    walk("node_modules"); console.log([...found].join("\n"))')
  if [ "$(printf "%s\n" "$copies" | grep -c .)" -ne 1 ]; then
    echo "smoke: expected exactly one copy of effect, found:"; echo "$copies"; exit 1
  fi
  step "$(basename "$dir"): one copy of effect (${copies%% at *}); tsc --noEmit (strict, NodeNext, skipLibCheck false)"
  npx tsc -p tsconfig.json
  step "$(basename "$dir"): run the app"
  node --import tsx app.ts
  step "$(basename "$dir"): npx sextant --help (the CLI's bin from its tarball)"
  npx sextant --version
  npx sextant --help >/dev/null
  cd "$repo"
}

consumer alone
consumer with-effect "effect@$effect_range"
step "passed (effect peer range $effect_range)"
