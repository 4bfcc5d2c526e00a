import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { RunStore } from "../src/index.js"
import { DatabaseUrl, dialects, runAgent, seededLayer, SeededRuns, toolThenAnswer } from "./support.js"

for (const dialect of dialects) {
  describe(`RunStore tenant scope on ${dialect.name}`, () => {
    layer(seededLayer(dialect), { timeout: 60_000 })((it) => {
      it.effect("a scoped store sees only its tenant on every method; another tenant's run is RunNotFound", () =>
        Effect.gen(function*() {
          const s = yield* SeededRuns
          const unscoped = yield* RunStore
          const acme = yield* RunStore.make({ scope: { tenantId: "acme" } })
          // A child of an acme run that belongs to another tenant stays invisible to acme.
          const foreignChild =
            (yield* runAgent("spy", toolThenAnswer("x"), { tenantId: "globex", parentRunId: s.parent })).runId

          const listed = yield* acme.listRuns({ limit: 1000 })
          expect(listed.items.every((r) => r.tenantId === "acme")).toBe(true)
          expect(listed.total).toBe(7)
          expect((yield* acme.listRuns({ tenantId: "globex" })).total).toBe(0)

          const hidden = [s.failed, s.untenanted, foreignChild]
          for (const id of hidden) {
            const tags = yield* Effect.all([
              Effect.flip(acme.getRun(id)),
              Effect.flip(acme.getEvents(id)),
              Effect.flip(Stream.runCollect(acme.streamEvents(id))),
              Effect.flip(acme.getTraces(id)),
              Effect.flip(acme.getToolCalls(id)),
              Effect.flip(acme.getLlmCalls(id)),
              Effect.flip(acme.getPauses(id)),
              Effect.flip(acme.getRunTree(id))
            ])
            expect(tags.map((e) => e._tag)).toEqual(Array(8).fill("RunNotFound"))
          }
          expect((yield* acme.getRun(s.weather1)).id).toBe(s.weather1)

          const tree = yield* acme.getRunTree(s.parent)
          expect(tree.children.map((c) => c.run.id)).toEqual([s.child1, s.child2])
          const fullTree = yield* unscoped.getRunTree(s.parent)
          expect(fullTree.children.map((c) => c.run.id)).toEqual([s.child1, s.child2, foreignChild])

          const usage = yield* acme.usage({ groupBy: ["tenant"] })
          expect(usage.items.map((g) => g.tenantId)).toEqual(["acme"])
          expect(yield* acme.usage({ groupBy: ["tenant"], tenantId: "globex" })).toEqual({ items: [] })

          const exported = Chunk.toArray(yield* Stream.runCollect(acme.exportRecords()))
          expect(exported.length).toBe(7)
          expect(exported.every((r) => r.run.tenantId === "acme")).toBe(true)

          // A per-call scope on an unscoped store restricts the same way.
          const scope = { tenantId: "globex" }
          expect(ids((yield* unscoped.listRuns({ scope })).items)).toEqual([foreignChild, s.failed])
          expect((yield* Effect.flip(unscoped.getRun(s.weather1, { scope })))._tag).toBe("RunNotFound")
          expect((yield* unscoped.getRun(s.failed, { scope })).id).toBe(s.failed)
          expect((yield* unscoped.usage({ groupBy: ["tenant"], scope })).items.map((g) => g.tenantId)).toEqual([
            "globex"
          ])
          // Two scopes combine with AND: a call cannot widen the store's scope.
          expect((yield* Effect.flip(acme.getRun(s.failed, { scope })))._tag).toBe("RunNotFound")
          expect((yield* acme.listRuns({ scope })).total).toBe(0)
        }))

      it.effect("getRunTree survives a parent cycle", () =>
        Effect.gen(function*() {
          const s = yield* SeededRuns
          const store = yield* RunStore
          const sql = yield* SqlClient.SqlClient
          // Corrupt the data on purpose: parent -> grandchild -> child1 -> parent.
          yield* sql`UPDATE agent_runs SET parent_run_id = ${s.grandchild} WHERE id = ${s.parent}`
          const tree = yield* store.getRunTree(s.child1)
          const seen = [tree.run.id, ...tree.ancestors.map((r) => r.id)]
          const walk = (nodes: typeof tree.children): void =>
            nodes.forEach((n) => {
              seen.push(n.run.id)
              walk(n.children)
            })
          walk(tree.children)
          expect(new Set(seen).size).toBe(seen.length)
          expect(new Set(seen)).toEqual(new Set([s.parent, s.child1, s.grandchild]))
          yield* sql`UPDATE agent_runs SET parent_run_id = NULL WHERE id = ${s.parent}`
        }))

      it.effect("the Promise facade opens a URL, answers the same, rejects with tagged errors and closes", () =>
        Effect.gen(function*() {
          const url = yield* DatabaseUrl
          const store = yield* RunStore
          const s = yield* SeededRuns
          const client = yield* Effect.promise(() => RunStore.fromDatabaseUrl(url))
          try {
            const page = yield* Effect.promise(() => client.listRuns({ limit: 3 }))
            expect(page).toEqual(yield* store.listRuns({ limit: 3 }))
            expect(yield* Effect.promise(() => client.getRun(s.weather1))).toEqual(yield* store.getRun(s.weather1))
            const rejected = yield* Effect.promise(() => client.getRun("nope").then(() => undefined, (e: unknown) => e))
            expect(rejected).toMatchObject({ _tag: "RunNotFound", runId: "nope" })
            const bad = yield* Effect.promise(() =>
              client.listRuns({ limit: 0 }).then(() => undefined, (e: unknown) => e)
            )
            expect(bad).toMatchObject({ _tag: "InvalidQuery", field: "limit" })
            const lines: Array<string> = []
            yield* Effect.promise(async () => {
              for await (const line of client.exportRuns({ tenantId: "globex" })) lines.push(line)
            })
            expect(lines.map((l) => JSON.parse(l).run.tenantId)).toEqual(lines.map(() => "globex"))
            const events: Array<number> = []
            yield* Effect.promise(async () => {
              for await (const e of client.streamEvents(s.weather1)) events.push(e.sequenceIndex)
            })
            expect(events).toEqual(
              (yield* store.getEvents(s.weather1, { limit: 1000 })).items.map((e) => e.sequenceIndex)
            )
            const scoped = yield* Effect.promise(() => RunStore.fromDatabaseUrl(url, { scope: { tenantId: "globex" } }))
            const notFound = yield* Effect.promise(() =>
              scoped.getRun(s.weather1).then(() => undefined, (e: unknown) => e)
            )
            expect(notFound).toMatchObject({ _tag: "RunNotFound" })
            yield* Effect.promise(() => scoped.close())
          } finally {
            yield* Effect.promise(() => client.close())
          }
          yield* Effect.promise(() => client.close())
        }))
    })
  })
}

const ids = (items: ReadonlyArray<{ readonly id: string }>) => items.map((r) => r.id)
