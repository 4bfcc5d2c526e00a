/**
 * The doc-comment check: every public export of every package — what `packages/<name>/src/index.ts` exposes,
 * followed through `export * as Module` and `export *` — has a doc comment (the `export * as` line itself
 * included). Prints each missing one as `path:line name` and exits non-zero when any is missing.
 *
 *   node --import tsx scripts/check-docs.ts [root]
 */
import { existsSync, readdirSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { createProgram, isOwnSource, location } from "./internal/program.js"

// The repository by default; another tree laid out the same way (for trying the rules on examples) as the argument.
const root = resolve(process.argv[2] ?? fileURLToPath(new URL("..", import.meta.url)))

/** A declaration that needs a doc comment and has none. */
interface Missing {
  readonly path: string
  readonly line: number
  readonly name: string
}

/** The node a declaration's doc comment is attached to (a `const`'s comment sits on its statement). */
const commentHost = (node: ts.Node): ts.Node =>
  ts.isVariableDeclaration(node) && ts.isVariableDeclarationList(node.parent) ? node.parent.parent : node

/** Whether a node carries a `/** … *\/` comment with some text (a lone tag is not documentation). */
const hasDoc = (node: ts.Node): boolean =>
  ts.getJSDocCommentsAndTags(commentHost(node)).some((doc) =>
    ts.isJSDoc(doc) ? ts.getTextOfJSDocComment(doc.comment)?.trim() !== "" && doc.comment !== undefined : false
  )

const main = (): number => {
  const packages = readdirSync(join(root, "packages")).filter((dir) =>
    existsSync(join(root, "packages", dir, "src", "index.ts"))
  )
  const entries = packages.map((dir) => join(root, "packages", dir, "src", "index.ts"))
  const program = createProgram(root, entries)
  const checker = program.getTypeChecker()
  const missing = new Map<string, Missing>()
  const visited = new Set<string>()
  const checked = new Set<string>()

  const require = (node: ts.Node, name: string) => {
    const sf = node.getSourceFile()
    if (!isOwnSource(root, sf.fileName)) return
    const { line, path } = location(root, node)
    const key = `${path}:${line}`
    checked.add(key)
    if (hasDoc(node)) return
    if (!missing.has(key)) missing.set(key, { path, line, name })
  }

  const visitModule = (moduleSymbol: ts.Symbol, prefix: string) => {
    const key = `${prefix}|${moduleSymbol.declarations?.[0]?.getSourceFile().fileName ?? moduleSymbol.name}`
    if (visited.has(key)) return
    visited.add(key)
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const name = `${prefix}${exported.name}`
      let target = exported
      if (exported.flags & ts.SymbolFlags.Alias) {
        for (const declaration of exported.declarations ?? []) {
          // `export * as Module from "./Module.js"`: the line itself says what the module is for.
          if (ts.isNamespaceExport(declaration)) require(declaration.parent, name)
        }
        target = checker.getAliasedSymbol(exported)
      }
      const declarations = target.declarations ?? []
      const moduleFile = declarations.find(ts.isSourceFile)
      if (moduleFile !== undefined) {
        visitModule(target, `${name}.`)
        continue
      }
      for (const declaration of declarations) {
        require(declaration, name)
        if (ts.isModuleDeclaration(declaration)) visitModule(target, `${name}.`)
      }
    }
  }

  for (const entry of entries) {
    const sf = program.getSourceFile(entry)
    const symbol = sf === undefined ? undefined : checker.getSymbolAtLocation(sf)
    if (symbol === undefined) {
      console.error(`${relative(root, entry)}: cannot be read as a module`)
      return 2
    }
    visitModule(symbol, "")
  }

  const sorted = [...missing.values()].sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line)
  for (const m of sorted) console.log(`${m.path}:${m.line} ${m.name}`)
  if (sorted.length > 0) {
    console.log(`check:docs: ${sorted.length} public export(s) without a doc comment`)
    return 1
  }
  console.log(`check:docs: all ${checked.size} public exports of ${packages.length} packages have a doc comment`)
  return 0
}

process.exitCode = main()
