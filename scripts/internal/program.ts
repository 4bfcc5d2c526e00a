/**
 * A TypeScript program over the repository's sources, compiled with the shared base options (so workspace
 * imports resolve to `src/` through the `@sextant/source` condition), for the convention checks.
 */
import { join, relative, sep } from "node:path"
import ts from "typescript"

/** A program rooted at `files`, with the options of `tsconfig.base.json`; nothing is emitted. */
export const createProgram = (root: string, files: ReadonlyArray<string>): ts.Program => {
  const configPath = join(root, "tsconfig.base.json")
  const read = ts.readConfigFile(configPath, ts.sys.readFile)
  if (read.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"))
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath)
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    composite: false,
    declaration: false,
    declarationMap: false,
    incremental: false,
    sourceMap: false
  }
  return ts.createProgram({ rootNames: [...files], options })
}

/** Whether a file is one of the packages' own sources (`packages/<name>/src/…`, not a dependency). */
export const isOwnSource = (root: string, fileName: string): boolean => {
  const path = relative(root, fileName).split(sep).join("/")
  return /^packages\/[^/]+\/src\//.test(path) && !path.includes("node_modules/")
}

/** A node's `path:line` position, the path relative to the repository root. */
export const location = (root: string, node: ts.Node): { readonly path: string; readonly line: number } => {
  const sf = node.getSourceFile()
  return {
    path: relative(root, sf.fileName).split(sep).join("/"),
    line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1
  }
}
