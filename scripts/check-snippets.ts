// Type-checks every TypeScript code block of the READMEs and docs (```ts / ```typescript fences): each block
// is written to .tsc/snippets as its own module and compiled against the workspace sources, so a snippet
// that lacks an import, calls an API that changed or mistypes a field fails CI. A block that is
// deliberately not a whole program must say so with ```ts fragment (use sparingly).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

const docs = [
  "README.md",
  ...readdirSync("packages").map((p) => `packages/${p}/README.md`),
  ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)
].filter((path) => {
  try {
    readFileSync(path)
    return true
  } catch {
    return false
  }
})

const out = ".tsc/snippets"
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const origins = new Map<string, string>()
for (const doc of docs) {
  const text = readFileSync(doc, "utf8")
  const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm
  let match: RegExpExecArray | null
  let n = 0
  while ((match = fence.exec(text)) !== null) {
    if (match[2]!.includes("fragment")) continue
    n++
    const line = text.slice(0, match.index).split("\n").length + 1
    const file = join(out, `${doc.replace(/[/.]/g, "_")}_${n}.ts`)
    // `export {}` makes each block a module, so top-level await and same-named declarations are allowed.
    writeFileSync(file, `${match[3]}\nexport {}\n`)
    origins.set(file, `${doc}:${line}`)
  }
}

const base = ts.readConfigFile("tsconfig.base.json", ts.sys.readFile).config
const options = ts.convertCompilerOptionsFromJson(
  {
    ...base.compilerOptions,
    composite: false,
    incremental: false,
    noEmit: true,
    declaration: false,
    declarationMap: false,
    noUnusedLocals: false,
    lib: ["ES2022", "DOM"]
  },
  "."
).options
const program = ts.createProgram([...origins.keys()], options)
const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file && origins.has(d.file.fileName))
for (const d of diagnostics) {
  const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
  const [doc, start] = origins.get(d.file!.fileName)!.split(":")
  console.error(`${doc}:${Number(start) + line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`)
}
console.log(`check-snippets: ${origins.size} snippets in ${docs.length} documents, ${diagnostics.length} errors`)
process.exit(diagnostics.length > 0 ? 1 : 0)
