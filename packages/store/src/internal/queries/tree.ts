/**
 * A run's family: ancestors walked parent by parent, descendants level by level, never visiting a run twice
 * (a corrupt parent cycle ends instead of looping), and the usage totals of the subtree.
 */
import { Effect } from "effect"
import * as Options from "../../Options.js"
import type * as R from "../../Records.js"
import type * as Api from "../../RunStore.js"
import * as decode from "../decode.js"
import * as mappers from "../mappers.js"
import { chunks, notFound, query, type QueryContext, scoped, stored } from "./context.js"
import { decodeRunId } from "./runs.js"
import { subtreeTotals } from "./usage.js"

const MAX_TREE_DEPTH = 1000

const decodeCall = decode.options(Options.CallOptions)

/** Runs whose `column` is one of `ids` (as the caller knows them), within the scopes. */
const runsWhere = (
  ctx: QueryContext,
  ids: ReadonlyArray<string>,
  column: "id" | "parent_run_id",
  callScope: Api.Scope | undefined
) =>
  query(Effect.forEach(chunks(ids.map(stored)), (chunk) =>
    Effect.flatMap(
      ctx.rows(
        ctx.sql`SELECT ${ctx.sql.literal(ctx.cols.summary)} FROM agent_runs WHERE ${
          ctx.sql.and([ctx.sql`${ctx.sql(column)} IN ${ctx.sql.in(chunk)}`, ...scoped(ctx, callScope)])
        } ORDER BY created_at, id`
      ),
      mappers.runSummaries
    ))).pipe(Effect.map((pages) => pages.flat()))

/** Ancestors, nearest first, until the root, a cycle, or a parent outside the scope. */
const ancestorsOf = (ctx: QueryContext, self: R.RunSummary, scope: Api.Scope | undefined, seen: Set<string>) =>
  Effect.gen(function*() {
    const ancestors: Array<R.RunSummary> = []
    let parentId = self.parentRunId
    while (parentId !== null && !seen.has(parentId) && ancestors.length < MAX_TREE_DEPTH) {
      const [parent] = yield* runsWhere(ctx, [parentId], "id", scope)
      if (parent === undefined) break
      seen.add(parent.id)
      ancestors.push(parent)
      parentId = parent.parentRunId
    }
    return ancestors
  })

/** Descendants by parent id, and every id of the subtree (the run's included). */
const descendantsOf = (ctx: QueryContext, self: R.RunSummary, scope: Api.Scope | undefined, seen: Set<string>) =>
  Effect.gen(function*() {
    const childrenOf = new Map<string, Array<R.RunSummary>>()
    const subtree = [self.id]
    let level = [self.id]
    for (let depth = 0; level.length > 0 && depth < MAX_TREE_DEPTH; depth++) {
      const found = (yield* runsWhere(ctx, level, "parent_run_id", scope)).filter((r) => !seen.has(r.id))
      for (const child of found) {
        seen.add(child.id)
        subtree.push(child.id)
        childrenOf.set(child.parentRunId!, [...(childrenOf.get(child.parentRunId!) ?? []), child])
      }
      level = found.map((r) => r.id)
    }
    return { childrenOf, subtree }
  })

/** `getRunTree`. */
export const getRunTree = (ctx: QueryContext): Api.RunStoreService["getRunTree"] => (runId, options) =>
  Effect.gen(function*() {
    const id = yield* decodeRunId(runId)
    const { scope } = yield* decodeCall(options)
    const [self] = yield* runsWhere(ctx, [id], "id", scope)
    if (self === undefined) return yield* notFound(id)
    const seen = new Set([self.id])
    const ancestors = yield* ancestorsOf(ctx, self, scope, seen)
    const { childrenOf, subtree } = yield* descendantsOf(ctx, self, scope, seen)
    const node = (r: R.RunSummary): R.RunTreeNode => ({ run: r, children: (childrenOf.get(r.id) ?? []).map(node) })
    return {
      run: self,
      ancestors: ancestors.reverse(),
      children: node(self).children,
      subtreeTotals: { ...(yield* subtreeTotals(ctx, subtree)), runCount: subtree.length }
    }
  })
