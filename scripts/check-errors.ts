/**
 * The typed-error check, over `packages/<name>/src` (tests excluded). Errors a caller can meet must be tagged
 * (`Schema.TaggedError` / `Data.TaggedError` with a `message`), so it reports:
 *   - a `throw` of a string, or of a plain `Error` (`Error`, `TypeError`, `RangeError`, …) that is not caught
 *     in the same function (it would escape its public caller untyped);
 *   - a rethrow of a caught value still of unknown type out of a `catch` (it escapes as an untyped throw);
 *   - a plain `Error` put anywhere else (`Effect.fail(new Error(…))`, an `onTimeout`, a `catch:` mapping);
 *     only a defect (`Effect.die(new Error(…))`) may carry one;
 *   - `Effect.fail("…")` and `Effect.die("…")` (and the same on `Exit`, `Stream`, `Layer`);
 *   - an exported error class (its name ends in `Error`, it lives in an `Errors` module, or it extends `Error`)
 *     that is not a `Schema.TaggedError` / `Data.TaggedError`, or has no `message`.
 * A line may opt out with a `// check-errors: allow <why>` comment on it or just above it.
 * Prints each violation as `path:line what` and exits non-zero when there is any.
 *
 *   node --import tsx scripts/check-errors.ts [root]
 */
import { readdirSync, statSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { createProgram, isOwnSource, location } from "./internal/program.js"

// The repository by default; another tree laid out the same way (for trying the rules on examples) as the argument.
const root = resolve(process.argv[2] ?? fileURLToPath(new URL("..", import.meta.url)))

/** The built-in error constructors: throwing or failing with one loses the tag a caller matches on. */
const builtinErrors = new Set([
  "Error",
  "TypeError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "EvalError",
  "URIError",
  "AggregateError"
])
/** Modules whose `fail` puts a value in a typed error channel (an `Either`'s left is a plain value). */
const failModules = new Set(["Effect", "Exit", "Stream", "Layer", "STM", "Micro"])
const failFunctions = new Set(["fail", "failSync"])
const dieFunctions = new Set(["die", "dieSync"])
/** Functions whose thunk's throws are caught and mapped (`Effect.try({ try })`, `Either.try`, …). */
const catchingFunctions = new Set(["try", "tryPromise", "tryMap", "tryMapPromise"])

/** One rule broken at one place. */
interface Violation {
  readonly path: string
  readonly line: number
  readonly what: string
}

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : []
  })

/** `Module.fn(…)` as `[Module, fn]`, for calls such as `Effect.fail(x)`. */
const calleeOf = (call: ts.CallExpression): readonly [string, string] | undefined => {
  const callee = call.expression
  if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression)) {
    return [callee.expression.text, callee.name.text]
  }
  return undefined
}

const isStringLike = (node: ts.Expression): boolean =>
  ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)

/** The built-in error a `new X(…)` constructs, if it is one. */
const builtinErrorOf = (node: ts.Node): string | undefined =>
  ts.isNewExpression(node) && ts.isIdentifier(node.expression) && builtinErrors.has(node.expression.text)
    ? node.expression.text
    : undefined

const isFunctionLike = (node: ts.Node): node is ts.FunctionLikeDeclaration =>
  ts.isFunctionDeclaration(node) || ts.isFunctionExpression(node) || ts.isArrowFunction(node) ||
  ts.isMethodDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node) || ts.isConstructorDeclaration(node)

/** Whether a function is the thunk of `Effect.try`/`tryPromise` (its throws are caught and mapped). */
const isCaughtThunk = (fn: ts.Node): boolean => {
  let node: ts.Node = fn
  if (ts.isPropertyAssignment(node.parent) && node.parent.name.getText() === "try") node = node.parent.parent
  const call = node.parent
  if (!ts.isCallExpression(call)) return false
  const callee = calleeOf(call)
  return callee !== undefined && catchingFunctions.has(callee[1])
}

/** Whether a throw is caught before it leaves its function: a local `try` with a `catch`, or a caught thunk. */
const caughtLocally = (node: ts.Node): boolean => {
  for (let child = node, parent = node.parent; parent !== undefined; child = parent, parent = parent.parent) {
    if (ts.isTryStatement(parent) && parent.tryBlock === child && parent.catchClause !== undefined) return true
    if (isFunctionLike(parent)) return isCaughtThunk(parent)
  }
  return false
}

/** The variable a `catch (e)` binds, when `node` sits in that catch clause (and not in a nested function). */
const enclosingCatchVariable = (node: ts.Node): string | undefined => {
  for (let parent = node.parent; parent !== undefined; parent = parent.parent) {
    if (isFunctionLike(parent)) return undefined
    if (ts.isCatchClause(parent)) {
      const d = parent.variableDeclaration
      return d !== undefined && ts.isIdentifier(d.name) ? d.name.text : undefined
    }
  }
  return undefined
}

/** Whether a plain error is built to be a defect (`Effect.die(new Error(…))`), where it is allowed. */
const isDefect = (node: ts.Node): boolean => {
  const call = node.parent
  if (!ts.isCallExpression(call)) return false
  const callee = calleeOf(call)
  return callee !== undefined && dieFunctions.has(callee[1])
}

/** Whether a line (or the one above it) carries `check-errors: allow`. */
const allowed = (sf: ts.SourceFile, node: ts.Node): boolean => {
  const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line
  const lines = sf.text.split("\n")
  return [lines[line], lines[line - 1]].some((text) => text?.includes("check-errors: allow") ?? false)
}

const exported = (node: ts.ClassDeclaration): boolean =>
  node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false

/** What an exported class's `extends` says about it as an error, or undefined when it is not an error class. */
const checkErrorClass = (
  checker: ts.TypeChecker,
  node: ts.ClassDeclaration,
  inErrorsModule: boolean
): string | undefined => {
  const name = node.name?.text ?? "<anonymous>"
  const heritage = node.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]
  const base = heritage?.expression
  const text = base?.getText() ?? ""
  const tagged = /\b(Schema|Data)\.TaggedError\b/.test(text)
  const plain = base !== undefined && ts.isIdentifier(base) && builtinErrors.has(base.text)
  const untagged = /\b(Data\.Error|YieldableError)\b/.test(text)
  const isError = name.endsWith("Error") || inErrorsModule || tagged || plain || untagged
  if (!isError) return undefined
  if (!tagged) {
    return plain
      ? `class ${name} extends ${text}: make it a Schema.TaggedError (or Data.TaggedError) with a message`
      : `class ${name} is an error but not a Schema.TaggedError / Data.TaggedError`
  }
  const hasMessageMember = node.members.some((m) => m.name !== undefined && m.name.getText() === "message")
  if (hasMessageMember) return ""
  // Schema.TaggedError<X>()("Tag", fields): the fields; Data.TaggedError("Tag")<{ … }>: the type argument.
  let fieldsType: ts.Type | undefined
  if (ts.isCallExpression(base!) && /Schema\.TaggedError/.test(text)) {
    const fields = base!.arguments[1]
    if (fields !== undefined) fieldsType = checker.getTypeAtLocation(fields)
  } else if (heritage?.typeArguments?.[0] !== undefined) {
    fieldsType = checker.getTypeFromTypeNode(heritage.typeArguments[0])
  }
  if (fieldsType === undefined || fieldsType.getProperty("message") === undefined) {
    return `class ${name}: a tagged error without a message field (say what was wrong and what to do)`
  }
  return ""
}

const main = (): number => {
  const packagesDir = join(root, "packages")
  const files = readdirSync(packagesDir).flatMap((dir) => {
    const src = join(packagesDir, dir, "src")
    try {
      return statSync(src).isDirectory() ? sourceFiles(src) : []
    } catch {
      return []
    }
  })
  const program = createProgram(root, files)
  const checker = program.getTypeChecker()
  const violations: Array<Violation> = []

  for (const sf of program.getSourceFiles()) {
    if (!isOwnSource(root, sf.fileName) || sf.isDeclarationFile) continue
    const report = (node: ts.Node, what: string) => {
      if (allowed(sf, node)) return
      const { line, path } = location(root, node)
      violations.push({ path, line, what })
    }
    const inErrorsModule = /^Errors?\.ts$/.test(basename(sf.fileName))
    const visit = (node: ts.Node): void => {
      if (ts.isThrowStatement(node)) {
        const thrown = node.expression
        const builtin = builtinErrorOf(thrown)
        // A rethrow narrowed to a tagged class (`if (e instanceof NotJson) throw e`) is typed; an unknown is not.
        const rethrown = ts.isIdentifier(thrown) && enclosingCatchVariable(node) === thrown.text &&
          (checker.getTypeAtLocation(thrown).flags & (ts.TypeFlags.Unknown | ts.TypeFlags.Any)) !== 0
        if (isStringLike(thrown)) {
          if (!caughtLocally(node)) report(node, "throws a string: throw (or fail with) a tagged error")
        } else if (builtin !== undefined) {
          if (!caughtLocally(node)) report(node, `throws a plain ${builtin}: throw (or fail with) a tagged error`)
        } else if (rethrown && !caughtLocally(node)) {
          report(node, `rethrows the caught '${thrown.text}' of unknown type: map it to a tagged error`)
        }
      } else if (ts.isNewExpression(node)) {
        const builtin = builtinErrorOf(node)
        if (builtin !== undefined && !ts.isThrowStatement(node.parent) && !isDefect(node)) {
          const call = node.parent
          const callee = ts.isCallExpression(call) ? calleeOf(call) : undefined
          report(
            node,
            callee !== undefined && failModules.has(callee[0]) && failFunctions.has(callee[1])
              ? `${callee[0]}.${callee[1]}(new ${builtin}(…)): fail with a tagged error`
              : `a plain ${builtin} is made here outside a defect: use a tagged error`
          )
        }
      } else if (ts.isCallExpression(node)) {
        const callee = calleeOf(node)
        const arg = node.arguments[0]
        if (callee !== undefined && arg !== undefined && failModules.has(callee[0]) && isStringLike(arg)) {
          if (failFunctions.has(callee[1])) {
            report(node, `${callee[0]}.${callee[1]}("…") fails with a string: fail with a tagged error`)
          } else if (dieFunctions.has(callee[1])) {
            report(node, `${callee[0]}.${callee[1]}("…") dies with a string: die with an Error, or fail typed`)
          }
        }
      } else if (ts.isClassDeclaration(node) && exported(node)) {
        const problem = checkErrorClass(checker, node, inErrorsModule)
        if (problem !== undefined && problem !== "") report(node.name ?? node, problem)
      }
      ts.forEachChild(node, visit)
    }
    visit(sf)
  }

  violations.sort((a, b) => a.path.localeCompare(b.path) || a.line - b.line)
  for (const v of violations) console.log(`${v.path}:${v.line} ${v.what}`)
  if (violations.length > 0) {
    console.log(`check:errors: ${violations.length} violation(s) of the typed-error rules`)
    return 1
  }
  console.log(`check:errors: ${files.length} source files follow the typed-error rules`)
  return 0
}

process.exitCode = main()
